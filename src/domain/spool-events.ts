// Reading inotifywait's output (adapters/inotify-watch.ts) as the untrusted input it is: a
// file name is whatever a caller, a fax or a web upload made it, newlines included, so each
// event ends with a NUL (--no-newline --format '%e %w%f%0'), the one byte no file name can
// hold: a name cannot forge a second event (say a queue overflow, which costs a full copy).
// Each event is `EVENTS PATH`; all this module takes from it is WHICH configured
// spool root changed, or that the kernel's queue overflowed. A path is never used for anything
// else: the copy that follows is one rsync per configured root, never a command built from it.

/** Longer lines are not events inotifywait prints for a sane tree: dropped, and read as "anything may have changed". */
export const MAX_EVENT_LINE = 8192;

/** What one line of output says. */
export type SpoolEvent =
  | { kind: 'change'; root: string }
  /** IN_Q_OVERFLOW: events were lost; only a full copy is sure to catch up. */
  | { kind: 'overflow' }
  | { kind: 'ignored'; why: string };

const EVENTS = /^[A-Z_]+(?:,[A-Z_]+)*$/;

/**
 * Which of `roots` (absolute, normalised) an event of `inotifywait --format '%e %w%f%0'`
 * names. A path that is not under one of them, not absolute, or holds `..`, is ignored.
 */
export function parseEventLine(line: string, roots: readonly string[]): SpoolEvent {
  if (line.length > MAX_EVENT_LINE)
    return { kind: 'ignored', why: `longer than ${MAX_EVENT_LINE} characters` };
  const space = line.indexOf(' ');
  const events = space < 0 ? line : line.slice(0, space);
  if (!EVENTS.test(events)) return { kind: 'ignored', why: 'not an inotifywait event line' };
  if (events.split(',').includes('Q_OVERFLOW')) return { kind: 'overflow' };
  const file = space < 0 ? '' : line.slice(space + 1);
  if (!file.startsWith('/') || file.includes('\0')) return { kind: 'ignored', why: 'not an absolute path' };
  const parts = file.split('/').filter((p) => p !== '');
  if (parts.includes('..') || parts.includes('.')) return { kind: 'ignored', why: 'a path with "." or ".."' };
  const normal = `/${parts.join('/')}`;
  const root = roots.find((r) => normal === r || normal.startsWith(r.endsWith('/') ? r : `${r}/`));
  return root === undefined ? { kind: 'ignored', why: 'outside the spool roots' } : { kind: 'change', root };
}

/**
 * Cuts a stream into records of at most `max` characters, each ended by `separator` (NUL for
 * inotifywait's events). A longer record is dropped whole (up to its separator) and reported by
 * `onOverlong`, so that a huge name never grows a buffer without bound nor is read in pieces
 * that look like records.
 */
export class LineSplitter {
  private buffer = '';
  private skipping = false;

  constructor(
    private onLine: (line: string) => void,
    private onOverlong: () => void,
    private max = MAX_EVENT_LINE,
    private separator = '\0',
  ) {}

  push(chunk: string): void {
    let text = chunk;
    for (;;) {
      const nl = text.indexOf(this.separator);
      if (nl < 0) {
        if (!this.skipping) {
          this.buffer += text;
          if (this.buffer.length > this.max) {
            this.buffer = '';
            this.skipping = true;
            this.onOverlong();
          }
        }
        return;
      }
      const piece = text.slice(0, nl);
      text = text.slice(nl + 1);
      if (this.skipping) {
        this.skipping = false;
        continue;
      }
      const line = this.buffer + piece;
      this.buffer = '';
      if (line.length > this.max) this.onOverlong();
      else this.onLine(line);
    }
  }
}
