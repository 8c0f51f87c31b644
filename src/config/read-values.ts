// Typed readers for the keys of one scanned section; every bad value becomes a ConfigProblem.
//
//   new SectionReader(file, section, problems)
//     .duration(key, { defaultMs, minMs, maxMs })  -> number | null
//     .integer(key, { default, min, max })           -> number | null
//     .ipv4(key) / .cidr(key) / .word(key, ...)      -> value | null (required keys)
//     .ipv4List(key, hint?) / .boolean(key, default)
//     .command(key, example) / .requiredCommand(key, example) -> argv | null
//     .text(key, default, expected, valid) / .textList(key, default, expected, valid)
//     .path(key, default, expected, check?) / .pathList(key, default, expected) / .cron(key, default)
//     .checkKeys(known)                              unknown keys, with a suggestion
//     .items(entry)                                  a list value's items, unquoted one by one
//   unquote(text) / splitItems(text)                 the one quoting rule (see unquote)
//
// A reader returns null when the value is missing or invalid, after recording why; the validator
// only builds a configuration when no problem was recorded, and skips cross-checks on nulls so that
// one mistake is reported once.

import { splitCommandLine } from './command-line';
import { cronProblem } from './cron';
import { formatDurationMs, parseDurationMs } from './duration';
import type { IniEntry, IniSection } from './ini-scan';
import { isIpv4, parseCidr, type Cidr } from './ipv4';
import { checkPath, isInside, type PathCheck } from './paths';
import { closestName } from './suggest';
import type { ConfigProblem } from './types';

export const DURATION_EXPECTED = 'a duration such as 200ms, 1s or 2m (units ms, s, m, h; 0 for zero)';

export class SectionReader {
  constructor(
    private readonly file: string,
    readonly section: IniSection,
    private readonly problems: ConfigProblem[],
  ) {}

  /** The section's entries by key, made on first use (a section may hold thousands of keys). */
  private byKey: Map<string, IniEntry> | null = null;

  entry(key: string): IniEntry | undefined {
    if (this.byKey === null) {
      this.byKey = new Map();
      // The scanner keeps the first of a repeated key; so does this map.
      for (const e of this.section.entries) if (!this.byKey.has(e.key)) this.byKey.set(e.key, e);
    }
    return this.byKey.get(key);
  }

  /** Record a problem with the key's value and line. */
  report(entry: IniEntry, expected: string, problem?: string, value: string = entry.value): void {
    this.problems.push({
      file: this.file,
      line: entry.line,
      section: this.section.name,
      key: entry.key,
      value,
      expected,
      ...(problem === undefined ? {} : { problem }),
    });
  }

  /** Record a missing required key; the line is the section header's, where it belongs. */
  missing(key: string, expected: string): void {
    this.problems.push({
      file: this.file,
      line: this.section.line,
      section: this.section.name,
      key,
      value: null,
      problem: 'missing required key',
      expected,
    });
  }

  checkKeys(known: readonly string[]): void {
    const knownSet = new Set(known);
    for (const entry of this.section.entries) {
      if (knownSet.has(entry.key)) continue;
      const guess = closestName(entry.key, known);
      this.report(
        entry,
        known.length === 0 ? 'no keys in this section' : `one of: ${known.join(', ')}`,
        guess === null ? 'unknown key' : `unknown key (did you mean "${guess}"?)`,
      );
    }
  }

  /** The value with its quotes removed (see unquote), or null (reported) when they are wrong. */
  private plain(entry: IniEntry): string | null {
    const v = unquote(entry.value);
    if (!v.ok) {
      this.report(entry, QUOTES_EXPECTED, v.problem);
      return null;
    }
    return v.text;
  }

  /**
   * The items of a comma-separated value, each unquoted like a whole value (see splitItems), or
   * null (reported) when a quote is wrong.
   */
  items(entry: IniEntry): string[] | null {
    const split = splitItems(entry.value);
    if (!split.ok) {
      this.report(entry, QUOTES_EXPECTED, split.problem);
      return null;
    }
    return split.items;
  }

  /** A required plain value, or null when missing, empty or badly quoted (reported). */
  private required(key: string, expected: string): { entry: IniEntry; text: string } | null {
    const entry = this.entry(key);
    if (entry === undefined) {
      this.missing(key, expected);
      return null;
    }
    const text = this.plain(entry);
    if (text === null) return null;
    if (text.trim() === '') {
      this.report(entry, expected, 'empty value');
      return null;
    }
    return { entry, text: text.trim() };
  }

  word(key: string, expected: string, valid: (text: string) => boolean): string | null {
    const found = this.required(key, expected);
    if (found === null) return null;
    if (!valid(found.text)) {
      this.report(found.entry, expected);
      return null;
    }
    return found.text;
  }

  ipv4(key: string, expected: string): string | null {
    const found = this.required(key, expected);
    if (found === null) return null;
    if (!isIpv4(found.text)) {
      const hint = parseCidr(found.text) !== null ? 'a prefix length is not allowed here' : undefined;
      this.report(found.entry, expected, hint);
      return null;
    }
    return found.text;
  }

  cidr(key: string, expected: string): Cidr | null {
    const found = this.required(key, expected);
    if (found === null) return null;
    const cidr = parseCidr(found.text);
    if (cidr === null) {
      const hint = isIpv4(found.text) ? 'the prefix length is missing' : undefined;
      this.report(found.entry, expected, hint);
      return null;
    }
    return cidr;
  }

  duration(
    key: string,
    o: { defaultMs: number; minMs: number; maxMs: number; zeroAllowed?: boolean },
  ): number | null {
    const entry = this.entry(key);
    if (entry === undefined) return o.defaultMs;
    const text = this.plain(entry);
    if (text === null) return null;
    const ms = parseDurationMs(text);
    if (ms === null) {
      this.report(entry, DURATION_EXPECTED);
      return null;
    }
    if (ms === 0 && o.zeroAllowed === true) return 0;
    if (ms < o.minMs || ms > o.maxMs) {
      const zero = o.zeroAllowed === true ? '0 or ' : '';
      this.report(
        entry,
        `${zero}a duration from ${formatDurationMs(o.minMs)} to ${formatDurationMs(o.maxMs)}`,
        'out of range',
      );
      return null;
    }
    return ms;
  }

  integer(key: string, o: { default: number; min: number; max: number }): number | null {
    const entry = this.entry(key);
    if (entry === undefined) return o.default;
    const text = this.plain(entry);
    if (text === null) return null;
    const expected = `a whole number from ${o.min} to ${o.max}`;
    if (!/^\d+$/.test(text)) {
      this.report(entry, expected);
      return null;
    }
    const n = Number(text);
    if (n < o.min || n > o.max) {
      this.report(entry, expected, 'out of range');
      return null;
    }
    return n;
  }

  boolean(key: string, defaultValue: boolean): boolean | null {
    const entry = this.entry(key);
    if (entry === undefined) return defaultValue;
    const text = this.plain(entry);
    if (text === null) return null;
    const lower = text.toLowerCase();
    if (lower === 'yes' || lower === 'true') return true;
    if (lower === 'no' || lower === 'false') return false;
    this.report(entry, 'yes, no, true or false');
    return null;
  }

  /** An optional plain value with a default; `valid` returns null when good, else the problem (or ''). */
  text(
    key: string,
    defaultValue: string,
    expected: string,
    valid: (text: string) => string | null,
  ): string | null {
    const entry = this.entry(key);
    if (entry === undefined) return defaultValue;
    const text = this.plain(entry)?.trim();
    if (text === undefined) return null;
    if (text === '') {
      this.report(entry, expected, 'empty value');
      return null;
    }
    const problem = valid(text);
    if (problem !== null) {
      this.report(entry, expected, problem === '' ? undefined : problem);
      return null;
    }
    return text;
  }

  /**
   * Comma-separated items with a default when the key is absent; empty means none. Bad items and
   * repeated ones are reported one by one (value = the item); the good ones are returned.
   */
  textList(
    key: string,
    defaultValue: readonly string[],
    expected: string,
    valid: (item: string) => boolean,
  ): string[] {
    const entry = this.entry(key);
    if (entry === undefined) return [...defaultValue];
    const items = this.items(entry);
    if (items === null) return [];
    const result: string[] = [];
    for (const item of items) {
      if (!valid(item)) this.report(entry, expected, undefined, item);
      else if (result.includes(item)) this.report(entry, 'each item once', 'listed twice', item);
      else result.push(item);
    }
    return result;
  }

  /**
   * An optional absolute path (see paths.ts), normalised; `expected` names an example. `check`
   * may be stricter than checkPath (own-dirs.ts: pbx-ha's own directories).
   */
  path(
    key: string,
    defaultValue: string,
    expected: string,
    check: (text: string) => PathCheck = checkPath,
  ): string | null {
    const entry = this.entry(key);
    if (entry === undefined) return defaultValue;
    const text = this.plain(entry);
    if (text === null) return null;
    const checked = check(text.trim());
    if (!checked.ok) {
      this.report(entry, expected, checked.problem);
      return null;
    }
    return checked.path;
  }

  /**
   * Comma-separated absolute paths (see paths.ts), normalised, at least one; the default when the
   * key is absent. A bad item, a repeated one or one inside another is reported by itself (value =
   * the item); the good ones are returned, so that later checks still see them.
   */
  pathList(key: string, defaultValue: readonly string[], expected: string): string[] {
    const entry = this.entry(key);
    if (entry === undefined) return [...defaultValue];
    const items = this.items(entry);
    if (items === null) return [];
    if (items.length === 0) {
      this.report(entry, expected, 'empty value');
      return [];
    }
    const result: string[] = [];
    for (const item of items) {
      const checked = checkPath(item);
      if (!checked.ok) {
        this.report(entry, expected, checked.problem, item);
        continue;
      }
      const path = checked.path;
      // A path inside another would be copied twice, and the two copies could disagree.
      const twice = 'each path once, none inside another';
      const same = result.find((other) => other === path);
      const outer = result.find((other) => isInside(path, other));
      const inner = result.find((other) => isInside(other, path));
      if (same !== undefined) this.report(entry, twice, 'path listed twice', item);
      else if (outer !== undefined) this.report(entry, twice, `inside ${outer}, listed before`, item);
      else if (inner !== undefined) this.report(entry, twice, `contains ${inner}, listed before`, item);
      else result.push(path);
    }
    return result;
  }

  /** An optional node-cron schedule; checked by node-cron itself. */
  cron(key: string, defaultValue: string): string | null {
    return this.text(
      key,
      defaultValue,
      'a cron expression: minute hour day-of-month month day-of-week, such as "0 * * * *" (hourly, at minute 0) or "*/2 * * * *" (every 2 minutes)',
      cronProblem,
    );
  }

  /**
   * Comma-separated IPv4 addresses; absent or empty means none. Bad items are reported one by one,
   * with `hint(item)` as the problem when it gives one.
   */
  ipv4List(key: string, hint?: (item: string) => string | undefined): string[] {
    const entry = this.entry(key);
    if (entry === undefined) return [];
    const items = this.items(entry);
    if (items === null) return [];
    const result: string[] = [];
    for (const item of items) {
      if (!isIpv4(item)) {
        this.report(entry, 'comma-separated IPv4 addresses such as 192.0.2.1, 192.0.2.2', hint?.(item), item);
      } else if (result.includes(item)) {
        this.report(entry, 'each address once', 'address listed twice', item);
      } else {
        result.push(item);
      }
    }
    return result;
  }

  /** A required command as argv: like command(), but absent or empty is reported too. */
  requiredCommand(key: string, example: string): string[] | null {
    const expected = `a program and its arguments, such as ${example}`;
    const entry = this.entry(key);
    if (entry === undefined) {
      this.missing(key, expected);
      return null;
    }
    if (entry.value === '') {
      this.report(entry, expected, 'empty value');
      return null;
    }
    return this.command(key, example);
  }

  /** A command as argv; absent or empty means not configured (null). Invalid: reported, null. */
  command(key: string, example: string): string[] | null {
    const entry = this.entry(key);
    if (entry === undefined || entry.value === '') return null;
    const split = splitCommandLine(entry.value);
    if (!split.ok) {
      this.report(entry, `a program and its arguments, such as ${example}`, split.reason);
      return null;
    }
    if (split.argv.length === 0) return null;
    if (!split.argv[0].startsWith('/')) {
      // No shell and no PATH search: the program that runs must be the one the administrator named.
      this.report(
        entry,
        `an absolute path to the program, such as ${example}`,
        `"${split.argv[0]}" is not an absolute path`,
      );
      return null;
    }
    return split.argv;
  }
}

const QUOTES_EXPECTED =
  'a value in matching quotes ("..." or \'...\'), or without quotes; a quoted value holds no quote of its own kind';

/**
 * The one quoting rule of pbx-ha.conf, for every key but the commands (which split words):
 * a value may be written between one pair of double or single quotes, which are removed, blanks
 * around it dropped; inside them `;` and `#` start no comment. There is no escape character: a
 * quoted value holds no quote of its own kind. A list (comma-separated items: routes, paths,
 * addresses, tables) is split at every comma, after the quotes around the whole value, if any,
 * are removed; each item may be quoted by itself too, and is unquoted the same way. So
 * `paths = "/a", "/b"`, `paths = "/a, /b"` and `paths = /a, /b` are the same two paths, and
 * `route = "203.0.113.0/24 via 192.0.2.1"` one route. An item never holds a comma.
 *
 *   unquote(text): { ok: true; text } | { ok: false; problem }
 *   splitItems(text): { ok: true; items } | { ok: false; problem }
 */
export function unquote(raw: string): { ok: true; text: string } | { ok: false; problem: string } {
  const v = raw.trim();
  const quote = v[0];
  if (quote !== '"' && quote !== "'") return { ok: true, text: v };
  const close = v.indexOf(quote, 1);
  if (close < 0) return { ok: false, problem: 'unterminated quote' };
  if (close !== v.length - 1) {
    return { ok: false, problem: `text after the closing quote: ${JSON.stringify(v.slice(close + 1))}` };
  }
  return { ok: true, text: v.slice(1, -1) };
}

/**
 * No list of the file is long (a few routes, paths or tables): a bound keeps the checks that
 * compare each item with the ones before it (repeats, a path inside another) from growing with
 * the square of a huge list (20 000 paths took 10 s).
 */
export const MAX_LIST_ITEMS = 1000;

export function splitItems(text: string): { ok: true; items: string[] } | { ok: false; problem: string } {
  // Quotes around the whole list (`"/a, /b"`); not when the first and last quotes are two items'.
  const whole = unquote(text);
  const list = whole.ok ? whole.text : text;
  const parts = list.split(',');
  if (parts.length > MAX_LIST_ITEMS)
    return { ok: false, problem: `${parts.length} items, more than ${MAX_LIST_ITEMS}` };
  const items: string[] = [];
  for (const part of parts) {
    const item = unquote(part);
    if (!item.ok) return { ok: false, problem: `${item.problem} in the item ${JSON.stringify(part.trim())}` };
    // Empty items (`a,,b`, a trailing comma) are dropped, as they always were.
    if (item.text.trim() !== '') items.push(item.text.trim());
  }
  return { ok: true, items };
}
