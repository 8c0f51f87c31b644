// Small helpers to make a file change survive a power cut: data reaches the disk before the
// rename that publishes it, and the rename itself reaches the disk (the directory is synced).

import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/** A name beside `target` (same directory, so same filesystem: rename is atomic) that nobody else uses. */
export function tempPathBeside(target: string, tag = 'tmp'): string {
  return `${target}.${tag}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

export async function fsyncFile(file: string): Promise<void> {
  const handle = await fs.open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes a rename or unlink in `dir` durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes `content` to a temp file beside `target`, syncs it, renames it over `target`, syncs the directory. */
export async function writeFileAtomic(target: string, content: string, mode = 0o644): Promise<void> {
  const temp = tempPathBeside(target);
  try {
    const handle = await fs.open(temp, 'wx', mode);
    try {
      await handle.writeFile(content, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, target);
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
  await fsyncDir(path.dirname(target));
}

export async function exists(file: string): Promise<boolean> {
  try {
    await fs.lstat(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
