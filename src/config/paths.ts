// Paths that pbx-ha copies, stages or deletes in: absolute and unambiguous, so that a check made on
// the text (is it inside /proc? inside another listed path?) holds for the file system too.
//
//   checkPath(text): { ok: true; path } | { ok: false; problem }
//       `path` is normalised: repeated "/" collapsed, no trailing "/". Refused: relative paths,
//       control characters, "." and ".." components (`/var/lib/x/../asterisk` is not visibly inside
//       /var/lib/asterisk), and "/" itself (copying or deleting the whole system is never meant).
//   isInside(path, dir): boolean    path is dir itself or below it (both normalised)
//
// Symbolic links are not resolved: the configuration is checked without touching the disk.

export type PathCheck = { ok: true; path: string } | { ok: false; problem: string };

export function checkPath(text: string): PathCheck {
  if (!text.startsWith('/')) return { ok: false, problem: 'not an absolute path' };
  if (/[\0-\x1f\x7f]/.test(text)) return { ok: false, problem: 'control character in the path' };
  const parts = text.split('/').filter((part) => part !== '');
  if (parts.some((part) => part === '.' || part === '..')) {
    return { ok: false, problem: '"." or ".." component in the path' };
  }
  if (parts.length === 0) return { ok: false, problem: 'the root directory "/"' };
  return { ok: true, path: '/' + parts.join('/') };
}

export function isInside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir + '/');
}
