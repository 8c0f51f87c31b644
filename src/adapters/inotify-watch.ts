// Debian's inotifywait (package inotify-tools) as a long-running child: it watches the spool
// trees recursively and prints one line per change. The child gets an argv array, never a
// shell; its output is handed on line by line, bounded (jobs/spool-events.ts reads it as
// untrusted input), and its end is reported with the reason, so that the caller restarts it.

import { spawn } from 'node:child_process';
import { LineSplitter } from '../domain/spool-events';

export const INOTIFYWAIT = '/usr/bin/inotifywait';
/** util-linux's setpriv (Essential): the watcher is killed with the agent, even by SIGKILL. */
const SETPRIV = '/usr/bin/setpriv';

/**
 * The events that mean a spool file is there, gone or complete: written and closed, moved in or
 * out (Asterisk's voicemail writes into a temporary directory and renames), created (a new
 * directory: its files may come before its watch) and deleted. Not `modify`: a recording is copied
 * once it is closed, not at every write.
 */
const EVENTS = ['close_write', 'moved_to', 'moved_from', 'create', 'delete'];

/**
 * argv of the watcher: recursive, links not followed, `EVENTS PATH` ended by a NUL (a file name
 * may hold newlines, never a NUL: see domain/spool-events.ts); under setpriv
 * --pdeathsig, so that an agent killed outright (SIGKILL, a crash) leaves no watcher behind.
 */
export function inotifywaitArgv(roots: readonly string[], program = INOTIFYWAIT): string[] {
  return [
    SETPRIV,
    '--pdeathsig',
    'KILL',
    '--',
    program,
    '--monitor',
    '--recursive',
    '--no-dereference',
    '--no-newline',
    '--format',
    '%e %w%f%0',
    ...EVENTS.flatMap((e) => ['--event', e]),
    // Absolute paths (checked by the configuration), so none can read as an option.
    ...roots,
  ];
}

export interface WatcherHandlers {
  /** One line of output, at most MAX_EVENT_LINE characters, without its newline. */
  line(line: string): void;
  /** A line too long to be read was dropped. */
  overlong(): void;
  /** Every watch is in place: a change from now on is seen. */
  ready(): void;
  /** The child ended (or could not start) without being asked to: why, with its last error output. */
  exited(reason: string): void;
}

export interface WatcherChild {
  /** Ends the child (SIGTERM, then SIGKILL after 2 s); resolves once it is gone. */
  stop(): Promise<void>;
}

export type StartWatcher = (roots: readonly string[], on: WatcherHandlers) => WatcherChild;

/** Starts inotifywait on `roots` (`program` replaced only by tests). */
export function startInotifywait(
  roots: readonly string[],
  on: WatcherHandlers,
  program = INOTIFYWAIT,
): WatcherChild {
  const argv = inotifywaitArgv(roots, program);
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stopping = false;
  let stderr = '';
  let stderrLine = '';
  const splitter = new LineSplitter(on.line, on.overlong);
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => splitter.push(chunk));
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    // Kept short: only the end says why it stopped.
    stderr = (stderr + chunk).slice(-2000);
    stderrLine = (stderrLine + chunk).slice(-2000);
    if (stderrLine.includes('Watches established')) {
      stderrLine = '';
      on.ready();
    }
  });
  const gone = new Promise<void>((resolve) => {
    let ended = false;
    const end = (reason: string) => {
      if (ended) return;
      ended = true;
      resolve();
      if (!stopping) {
        const said = stderr
          .split('\n')
          .filter((l) => l.trim() && !/Setting up watches|Watches established/.test(l))
          .join('; ')
          .trim();
        on.exited(`${program} ${reason}${said ? `: ${said}` : ''}`);
      }
    };
    child.on('error', (e) => end(`could not be started (${e.message})`));
    child.on('close', (code, signal) => end(signal ? `was killed by ${signal}` : `exited with code ${code}`));
  });
  return {
    stop: async () => {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await gone;
      clearTimeout(killer);
    },
  };
}
