// Read and validate pbx-ha.conf. The only module of src/config that touches the filesystem.
//
//   loadConfigFile(file: string): ConfigResult
//   parseConfigText(text: string, file: string): ConfigResult     (pure, for tests and reloads)
//   type ConfigResult = { ok: true; config: PbxHaConfig } | { ok: false; problems: ConfigProblem[] }
//
// Never throws for a bad file: a missing, unreadable or binary file is one more ConfigProblem, so
// `pbx-ha check-config`, the agent's start and a SIGHUP reload all report it the same way.

import { readFileSync } from 'node:fs';
import { scanIni } from './ini-scan';
import type { ConfigProblem } from './types';
import { validateConfig, type ConfigResult } from './validate';

export type { ConfigResult };

const NOT_TEXT = 'a UTF-8 text file (pbx-ha.conf is INI text)';

export function loadConfigFile(file: string): ConfigResult {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return {
      ok: false,
      problems: [
        {
          file,
          section: null,
          key: null,
          value: null,
          problem: `cannot read the file (${message})`,
          expected: 'a readable configuration file',
        },
      ],
    };
  }
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
