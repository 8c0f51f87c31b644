// The child process of inspect.ts: `node inspect-child.js FILE` prints one line of JSON,
// { ok: true, keys, digest } or { ok: false, problem }.

import { checkAstdb, contentDigest } from './digest';

function main(file: string | undefined): Record<string, unknown> {
  if (!file) return { ok: false, problem: 'usage: inspect-child FILE' };
  const check = checkAstdb(file);
  if (!check.ok) return check;
  try {
    return { ok: true, keys: check.keys, digest: contentDigest(file) };
  } catch (e) {
    return { ok: false, problem: `${file}: ${(e as Error).message}` };
  }
}

// Only when run as the child: a module that acts when imported would write into the output of
// whoever loads it (debian/runtime-modules.js loads every module to list the packages used).
if (require.main === module) process.stdout.write(`${JSON.stringify(main(process.argv[2]))}\n`);
