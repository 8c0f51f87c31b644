// Typed readers for the keys of one scanned section; every bad value becomes a ConfigProblem.
//
//   new SectionReader(file, section, problems)
//     .duration(key, { defaultMs, minMs, maxMs })  -> number | null
//     .integer(key, { default, min, max })           -> number | null
//     .ipv4(key) / .cidr(key) / .word(key, ...)      -> value | null (required keys)
//     .ipv4List(key, hint?) / .absolutePath(key, default) / .boolean(key, default)
//     .command(key, example) / .requiredCommand(key, example) -> argv | null
//     .text(key, default, expected, valid) / .textList(key, default, expected, valid)
//     .path(key, default, expected) / .pathList(key, default, expected) / .cron(key, default)
//     .checkKeys(known)                              unknown keys, with a suggestion
//
// A reader returns null when the value is missing or invalid, after recording why; the validator
// only builds a configuration when no problem was recorded, and skips cross-checks on nulls so that
// one mistake is reported once.

import { splitCommandLine } from './command-line';
import { cronProblem } from './cron';
import { formatDurationMs, parseDurationMs } from './duration';
import type { IniEntry, IniSection } from './ini-scan';
import { isIpv4, parseCidr, type Cidr } from './ipv4';
import { checkPath, isInside } from './paths';
import { closestName } from './suggest';
import type { ConfigProblem } from './types';

export const DURATION_EXPECTED = 'a duration such as 200ms, 1s or 2m (units ms, s, m, h; 0 for zero)';

export class SectionReader {
  constructor(
    private readonly file: string,
    readonly section: IniSection,
    private readonly problems: ConfigProblem[],
  ) {}

  entry(key: string): IniEntry | undefined {
    return this.section.entries.find((e) => e.key === key);
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
    for (const entry of this.section.entries) {
      if (known.includes(entry.key)) continue;
      const guess = closestName(entry.key, known);
      this.report(
        entry,
        known.length === 0 ? 'no keys in this section' : `one of: ${known.join(', ')}`,
        guess === null ? 'unknown key' : `unknown key (did you mean "${guess}"?)`,
      );
    }
  }

  /** The value with one pair of surrounding quotes removed, or null (reported) if a quote is open. */
  private plain(entry: IniEntry): string | null {
    const v = entry.value;
    const first = v[0];
    if (first === '"' || first === "'") {
      if (v.length < 2 || v[v.length - 1] !== first) {
        this.report(entry, `a value with matching quotes, or no quotes`, 'unterminated quote');
        return null;
      }
      return v.slice(1, -1);
    }
    return v;
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

  absolutePath(key: string, defaultValue: string, maxBytes?: number): string | null {
    const entry = this.entry(key);
    if (entry === undefined) return defaultValue;
    const text = this.plain(entry);
    if (text === null) return null;
    // Relative paths would depend on the agent's working directory, which systemd sets to /.
    if (!text.startsWith('/') || /[\0-\x1f\x7f]/.test(text)) {
      this.report(entry, 'an absolute path such as ' + defaultValue);
      return null;
    }
    if (maxBytes !== undefined && Buffer.byteLength(text) > maxBytes) {
      this.report(
        entry,
        `an absolute path of at most ${maxBytes} bytes (the limit of a Unix socket address)`,
        'path too long',
      );
      return null;
    }
    return text;
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
    const text = this.plain(entry);
    if (text === null) return [];
    const result: string[] = [];
    for (const item of splitList(text)) {
      if (!valid(item)) this.report(entry, expected, undefined, item);
      else if (result.includes(item)) this.report(entry, 'each item once', 'listed twice', item);
      else result.push(item);
    }
    return result;
  }

  /** An optional absolute path (see paths.ts), normalised; `expected` names an example. */
  path(key: string, defaultValue: string, expected: string): string | null {
    const entry = this.entry(key);
    if (entry === undefined) return defaultValue;
    const text = this.plain(entry);
    if (text === null) return null;
    const checked = checkPath(text.trim());
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
    const text = this.plain(entry);
    if (text === null) return [];
    const items = splitList(text);
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
    const text = this.plain(entry);
    if (text === null) return [];
    const result: string[] = [];
    for (const item of splitList(text)) {
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

/** Split `a, b,c` into trimmed non-empty items. */
export function splitList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
