// Paths that pbx-ha copies, stages or deletes in: absolute and unambiguous, so that a check made on
// the text (is it inside /proc? inside another listed path?) holds for the file system too.
//
//   checkPath(text): { ok: true; path } | { ok: false; problem }
//       `path` is normalised: repeated "/" collapsed, no trailing "/". Refused: relative paths,
//       control characters, "." and ".." components (`/var/lib/x/../asterisk` is not visibly inside
//       /var/lib/asterisk), "/" itself (copying or deleting the whole system is never meant), and
//       paths longer than PATH_MAX.
//   isInside(path, dir): boolean    path is dir itself or below it (both normalised)
//
// Symbolic links are not resolved: the configuration is checked without touching the disk.

export type PathCheck = { ok: true; path: string } | { ok: false; problem: string };

/** PATH_MAX of Linux, with the final NUL: a longer path cannot be opened. */
const PATH_MAX_BYTES = 4095;

export function checkPath(text: string): PathCheck {
  if (!text.startsWith('/')) return { ok: false, problem: 'not an absolute path' };
  if (Buffer.byteLength(text) > PATH_MAX_BYTES)
    return { ok: false, problem: `longer than ${PATH_MAX_BYTES} bytes (PATH_MAX)` };
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
