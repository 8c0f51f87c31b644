// A small line scanner for the INI dialect of pbx-ha.conf.
//
//   scanIni(text: string, file: string): IniScan
//
// We scan the text ourselves and do not use the `ini` package to parse it, because `ini.parse`
// (v6) turns `[node.pbx1]` into nested objects, lets a repeated key silently override the first,
// strips `;`/`#` comments even inside quotes (so a quoted `;` in a command would vanish), turns
// `true`/`false` into booleans, and keeps no line numbers, which every message needs.
//
// The dialect:
// - `[section]` headers; a trailing `; comment` after the `]` is allowed;
// - `key = value` lines; keys are letters, digits, `_`, `-` and `.`;
// - whole-line comments start with `;` or `#`;
// - an inline comment starts at `;` or `#` outside quotes when it is preceded by a space or tab
//   (so `a;b` stays a value, and a command like `stop;start` reaches the argv splitter, which
//   refuses it, instead of being cut silently);
// - values keep their quotes: command values need them; plain values are unquoted by the validator.
// - a repeated section (names compared without case, because node sections are hostnames) or a
//   repeated key in one section is reported, with the line of the first; the first one is kept and
//   the repeat is ignored, so one mistake gives one message.

import type { ConfigProblem } from './types';

export interface IniEntry {
  key: string;
  /** The value with surrounding blanks and any inline comment removed; quotes kept. */
  value: string;
  line: number;
}

export interface IniSection {
  /** As written between the brackets, trimmed. */
  name: string;
  line: number;
  entries: IniEntry[];
}

export interface IniScan {
  sections: IniSection[];
  problems: ConfigProblem[];
  /** False when the text holds nothing but blank lines and comments. */
  hasContent: boolean;
}

const SECTION_HEADER = /^\[([^\]]*)\]\s*(?:[;#].*)?$/;
const KEY = /^[A-Za-z0-9_.-]+$/;

export function scanIni(text: string, file: string): IniScan {
  const sections: IniSection[] = [];
  const problems: ConfigProblem[] = [];
  const firstSectionLine = new Map<string, IniSection>();
  let hasContent = false;
  // The section that receives keys; null before the first header or after an ignored one.
  let current: IniSection | null = null;
  // The current section's keys, for the duplicate check: a Map keeps the scan linear (a search
  // of the entries per key took 5 s for 50 000 keys).
  let currentKeys = new Map<string, IniEntry>();
  // Lines after a repeated or malformed header belong to no section and are not reported again.
  let ignoring = false;

  // A UTF-8 byte-order mark is harmless; some Windows editors add one.
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith(';') || trimmed.startsWith('#')) return;
    hasContent = true;

    if (trimmed.startsWith('[')) {
      const header = SECTION_HEADER.exec(trimmed);
      const name = header === null ? '' : header[1].trim();
      if (header === null || name === '') {
        problems.push({
          file,
          line,
          section: null,
          key: null,
          value: trimmed,
          problem: 'malformed section header',
          expected: 'a header such as [cluster] or [vip.voip]',
        });
        current = null;
        ignoring = true;
        return;
      }
      const first = firstSectionLine.get(name.toLowerCase());
      if (first !== undefined) {
        const sameCase = first.name === name;
        problems.push({
          file,
          line,
          section: name,
          key: null,
          value: null,
          problem: sameCase
            ? `duplicate section (first on line ${first.line})`
            : `duplicate section: same as [${first.name}] on line ${first.line} (section names are compared without case; node names are hostnames)`,
          expected: `each section once; merge the two [${first.name}] sections`,
        });
        current = null;
        ignoring = true;
        return;
      }
      current = { name, line, entries: [] };
      currentKeys = new Map();
      firstSectionLine.set(name.toLowerCase(), current);
      sections.push(current);
      ignoring = false;
      return;
    }

    const equals = trimmed.indexOf('=');
    if (equals < 0) {
      problems.push({
        file,
        line,
        section: current?.name ?? null,
        key: null,
        value: trimmed,
        problem: 'line is not understood',
        expected: 'a `key = value` line, a [section] header, or a comment starting with ; or #',
      });
      return;
    }
    const key = trimmed.slice(0, equals).trim();
    const value = stripInlineComment(trimmed.slice(equals + 1)).trim();
    if (!KEY.test(key)) {
      problems.push({
        file,
        line,
        section: current?.name ?? null,
        key: key === '' ? null : key,
        value,
        problem: key === '' ? 'value without a key' : 'malformed key',
        expected: 'a key made of letters, digits, "_" and "-", then "=" and the value',
      });
      return;
    }
    if (current === null) {
      if (!ignoring) {
        problems.push({
          file,
          line,
          section: null,
          key,
          value,
          problem: 'key outside any section',
          expected: 'a [section] header before the first key',
        });
      }
      return;
    }
    const previous = currentKeys.get(key);
    if (previous !== undefined) {
      problems.push({
        file,
        line,
        section: current.name,
        key,
        value,
        problem: `duplicate key (first set on line ${previous.line} to "${previous.value}")`,
        expected: 'each key once per section; remove one of them',
      });
      return;
    }
    const entry = { key, value, line };
    current.entries.push(entry);
    currentKeys.set(key, entry);
  });

  return { sections, problems, hasContent };
}

/** Cut `value ; comment` at the comment, ignoring `;` and `#` inside quotes or glued to a word. */
function stripInlineComment(value: string): string {
  let quote: string | null = null;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quote !== null) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if ((c === ';' || c === '#') && (i === 0 || value[i - 1] === ' ' || value[i - 1] === '\t')) {
      return value.slice(0, i);
    }
  }
  return value;
}
