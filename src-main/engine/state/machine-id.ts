/**
 * The installation's random machine id (`<state_dir>/machine-id`): 32 lowercase hex characters,
 * created once and never changed. It seeds the staged-rollout bucket (FEED-FORMAT.md), so it
 * must be stable across restarts and identical for every process sharing the state directory.
 */
import { promises as fsp, constants as fsc } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fsyncDir, mkdirDurable, readOwnFile } from '../fs/atomic';

const ID_RE = /^[0-9a-f]{32}$/;

async function readId(file: string): Promise<string | null> {
  try {
    const text = (await readOwnFile(file, { followLink: true })).toString('utf8').trim();
    return ID_RE.test(text) ? text : null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Writes `data` to a fresh, fsynced temp file next to `file` and returns its path. */
async function writeTemp(file: string, data: string): Promise<string> {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await fsp.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return tmp;
}

/**
 * Returns this installation's machine id, creating it on first use. Safe against concurrent
 * first calls from several processes: the complete file is published with link(), which never
 * overwrites, so every caller ends up with the same id.
 */
export async function getMachineId(stateDir: string): Promise<string> {
  const file = path.join(stateDir, 'machine-id');
  const existing = await readId(file);
  if (existing) return existing;

  await mkdirDurable(stateDir);
  const id = randomBytes(16).toString('hex');
  const tmp = await writeTemp(file, id + '\n');
  try {
    try {
      await fsp.link(tmp, file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') {
        const winner = await readId(file);
        if (winner) return winner;
        // A file that is there but unreadable as an id (damaged by hand): replace it.
        await fsp.rename(tmp, file);
      } else if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') {
        // Filesystems without hard links: exclusive create is the next best thing.
        try {
          await fsp.writeFile(file, id + '\n', { flag: 'wx' });
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
          const winner = await readId(file);
          if (winner) return winner;
          throw e;
        }
      } else {
        throw err;
      }
    }
    await fsyncDir(stateDir);
  } finally {
    await fsp.rm(tmp, { force: true });
  }
  return (await readId(file)) ?? id;
}
