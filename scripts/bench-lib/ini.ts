/** Editing pbx-ha.conf text: set a key inside one section, keeping everything else as it is. */

/** Sets `key = value` in `[section]` (replacing the key if present, adding it otherwise). */
export function setKey(text: string, section: string, key: string, value: string): string {
  const lines = text.split('\n');
  let inSection = false;
  let sectionEnd = -1;
  let found = false;
  for (let i = 0; i < lines.length; i++) {
    const header = /^\s*\[([^\]]+)\]\s*$/.exec(lines[i]);
    if (header) {
      if (inSection && sectionEnd < 0) sectionEnd = i;
      inSection = header[1].trim() === section;
      continue;
    }
    if (inSection && new RegExp(`^\\s*${key.replace(/[.]/g, '\\.')}\\s*=`).test(lines[i])) {
      lines[i] = `${key} = ${value}`;
      found = true;
    }
  }
  if (found) return lines.join('\n');
  if (inSection && sectionEnd < 0) sectionEnd = lines.length;
  if (sectionEnd < 0) return `${text.replace(/\n*$/, '\n')}\n[${section}]\n${key} = ${value}\n`;
  // Insert before the blank lines that end the section.
  let at = sectionEnd;
  while (at > 0 && lines[at - 1].trim() === '') at--;
  lines.splice(at, 0, `${key} = ${value}`);
  return lines.join('\n');
}

/** Applies several [section] key = value settings. */
export function withSettings(text: string, settings: Record<string, Record<string, string>>): string {
  let out = text;
  for (const [section, keys] of Object.entries(settings)) {
    for (const [key, value] of Object.entries(keys)) out = setKey(out, section, key, value);
  }
  return out;
}
