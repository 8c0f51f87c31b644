// Read and validate pbx-ha.conf. The only module of src/config that touches the filesystem.
//
//   loadConfigFile(file: string): ConfigResult
//   parseConfigText(text: string, file: string): ConfigResult     (pure, for tests and reloads)
//   type ConfigResult = { ok: true; config: PbxHaConfig } | { ok: false; problems: ConfigProblem[] }
//   MAX_CONFIG_BYTES                                               the largest file read (1 MiB)
//
// Never throws for a bad file: a missing, unreadable or binary file is one more ConfigProblem, so
// `pbx-ha check-config`, the agent's start and a SIGHUP reload all report it the same way.
//
// The file is looked at before it is read: only a regular file of at most MAX_CONFIG_BYTES is
// read, and never more than that many bytes (`--config /dev/zero` once read for 37 s and 7 GB, a
// FIFO blocked forever). A link to a regular file is followed (the administrator's choice).

import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { scanIni } from './ini-scan';
import type { ConfigProblem } from './types';
import { validateConfig, type ConfigResult } from './validate';

export type { ConfigResult };

const NOT_TEXT = 'a UTF-8 text file (pbx-ha.conf is INI text)';

/** pbx-ha.conf is a few kilobytes; a megabyte is far beyond any real one. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

const fileProblem = (file: string, problem: string, expected: string): ConfigResult => ({
  ok: false,
  problems: [{ file, section: null, key: null, value: null, problem, expected }],
});

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** What is wrong with the file as found on disk (type, size), or null when it may be read. */
function shapeProblem(file: string, st: Stats): ConfigResult | null {
  if (!st.isFile())
    return fileProblem(file, `not a regular file (${kindOf(st)})`, 'a regular configuration file');
  if (st.size > MAX_CONFIG_BYTES)
    return fileProblem(
      file,
      `the file is too large (${st.size} bytes)`,
      `a configuration file of at most ${MAX_CONFIG_BYTES} bytes (1 MiB)`,
    );
  return null;
}

/** The file's bytes, read only when it is a regular file of at most MAX_CONFIG_BYTES. */
function readBounded(file: string): Buffer | ConfigResult {
  const cannot = (error: unknown): ConfigResult =>
    fileProblem(
      file,
      `cannot read the file (${error instanceof Error ? error.message : String(error)})`,
      'a readable configuration file',
    );
  let fd: number;
  try {
    // Checked before the open: opening a device may itself do something (a tape, a terminal).
    const before = shapeProblem(file, statSync(file));
    if (before !== null) return before;
    // O_NONBLOCK: a FIFO swapped in after the check does not block the open; fstat refuses it.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    return cannot(error);
  }
  try {
    const after = shapeProblem(file, fstatSync(fd));
    if (after !== null) return after;
    // One byte more than the limit: a file that grew since fstat is caught, not cut silently.
    const buffer = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > MAX_CONFIG_BYTES)
        return fileProblem(
          file,
          'the file is too large (it grew while read)',
          `a configuration file of at most ${MAX_CONFIG_BYTES} bytes (1 MiB)`,
        );
    }
    return buffer.subarray(0, length);
  } catch (error) {
    return cannot(error);
  } finally {
    closeSync(fd);
  }
}

export function loadConfigFile(file: string): ConfigResult {
  const bytes = readBounded(file);
  if (!Buffer.isBuffer(bytes)) return bytes;
  const badLine = firstInvalidUtf8Line(bytes);
  if (badLine !== null) {
    return {
      ok: false,
      problems: [
        {
          file,
          line: badLine,
          section: null,
          key: null,
          value: null,
          problem: 'invalid UTF-8',
          expected: NOT_TEXT,
        },
      ],
    };
  }
  return parseConfigText(bytes.toString('utf8'), file);
}

export function parseConfigText(text: string, file: string): ConfigResult {
  const binary = notTextProblem(text, file);
  if (binary !== null) return { ok: false, problems: [binary] };
  return validateConfig(scanIni(text, file), file);
}

/** A NUL byte (or a replacement character left by a lossy decode) means this is not a text file. */
function notTextProblem(text: string, file: string): ConfigProblem | null {
  const at = text.search(/[\0\uFFFD]/);
  if (at < 0) return null;
  const line = text.slice(0, at).split('\n').length;
  const what = text[at] === '\0' ? 'NUL byte' : 'invalid UTF-8';
  return {
    file,
    line,
    section: null,
    key: null,
    value: null,
    problem: `the file is not text (${what})`,
    expected: NOT_TEXT,
  };
}

/** 1-based line of the first invalid UTF-8 sequence, or null when the bytes are valid UTF-8. */
function firstInvalidUtf8Line(bytes: Buffer): number | null {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  try {
    decoder.decode(bytes);
    return null;
  } catch {
    // Decode line by line to say where; a line break (0x0A) never occurs inside a UTF-8 sequence.
    let start = 0;
    for (let line = 1; ; line++) {
      const end = bytes.indexOf(0x0a, start);
      const slice = bytes.subarray(start, end < 0 ? bytes.length : end);
      try {
        decoder.decode(slice);
      } catch {
        return line;
      }
      if (end < 0) return line;
      start = end + 1;
    }
  }
}
