// pbx-ha's own directories: state_dir, exchange_dir, backup_dir and the control socket's
// directory. pbx-ha creates, empties, rotates and (for the staging area) lets the peer write in
// them as root, so a value that names somebody else's directory hands it over: `exchange_dir =
// /root/.ssh` made root's SSH directory the rsync jail of whoever holds pbx-ha's key,
// `/etc/cron.d` a place to drop cron jobs, `state_dir = /` the whole system.
//
//   checkOwnDir(text): PathCheck       (paths.ts: { ok, path } or { ok: false, problem })
//   OWN_DIR_RULE                       the rule in words, for messages and documentation
//
// The rule, on the text alone (the configuration is checked without touching the disk):
// - a path as checkPath() takes it: absolute, no "." or "..", no control character, not "/";
// - one of its components names pbx-ha: it is "pbx-ha" or begins with "pbx-ha" (/var/lib/pbx-ha,
//   /var/lib/pbx-ha/exchange, /srv/pbx-ha-backup, /run/pbx-ha): a directory that says whose it
//   is. /root/.ssh, /etc/cron.d, /etc, /tmp and /var/lib do not;
// - not inside the system's own trees, where no pbx-ha data belongs even under such a name:
//   SYSTEM_TREES (/etc/pbx-ha holds the configuration and pbx-ha's SSH key; /usr/lib/pbx-ha the
//   program).
// At run time the agent also checks what it finds there: state_dir, exchange_dir and backup_dir
// when it starts (adapters/own-dir-security.ts), the staging area and the control socket's
// directory before each use (staged-tree.ts, control-socket.ts).

import { checkPath, isInside, type PathCheck } from './paths';

/** Trees of the system and of its users, never a place for pbx-ha's data. */
export const SYSTEM_TREES: readonly string[] = [
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/home',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/proc',
  '/root',
  '/sbin',
  '/sys',
  '/usr',
  '/var/spool',
];

export const OWN_DIR_RULE =
  'a directory of pbx-ha\'s own: an absolute path with a component named "pbx-ha" or beginning with it ' +
  `(such as /var/lib/pbx-ha), outside ${SYSTEM_TREES.join(', ')}`;

export function checkOwnDir(text: string): PathCheck {
  const checked = checkPath(text);
  if (!checked.ok) return checked;
  const tree = SYSTEM_TREES.find((dir) => isInside(checked.path, dir));
  if (tree !== undefined) return { ok: false, problem: `inside ${tree}, a system directory` };
  if (!checked.path.split('/').some((part) => part.startsWith('pbx-ha'))) {
    return { ok: false, problem: 'not a directory of pbx-ha\'s own (no component named "pbx-ha…")' };
  }
  return checked;
}
