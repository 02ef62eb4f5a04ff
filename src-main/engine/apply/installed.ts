/**
 * `installed.json`: the record of what Upkeep installed for one target (absent = nothing yet).
 * Written atomically (temp + fsync + rename + fsync dir), so a crash leaves the old or new record.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { readJsonIfExists, writeJsonDurable, fsyncDir } from '../fs/atomic';
import type { FileRecord } from './tree';
import { isCode } from './tree';

export type Layout = 'in-place' | 'versioned';

/** What Upkeep installed for a target. */
export interface Installed {
  version: string;
  /** `in-place`, `versioned`, or `command` for command targets (no managed files). */
  layout: Layout | 'command';
  /** The whole managed tree (relative POSIX paths); for versioned, relative to the version dir. */
  files: FileRecord[];
  /** versioned only: the version directory `current` points to, relative to the install dir. */
  version_dir?: string;
  installed_at?: string;
}

export const INSTALLED_FILE = 'installed.json';

/** Reads `<targetStateDir>/installed.json`; null when nothing is installed yet. */
export async function readInstalled(targetStateDir: string): Promise<Installed | null> {
  const v = await readJsonIfExists<Installed>(path.join(targetStateDir, INSTALLED_FILE));
  return v ?? null;
}

/** Durably replaces `<targetStateDir>/installed.json` (also used by command targets). */
export async function writeInstalled(targetStateDir: string, v: Installed): Promise<void> {
  await writeJsonDurable(path.join(targetStateDir, INSTALLED_FILE), v);
}

/** Durably writes `v`, or removes the record when `v` is null (back to "nothing installed"). */
export async function setInstalled(targetStateDir: string, v: Installed | null): Promise<void> {
  if (v) return writeInstalled(targetStateDir, v);
  try {
    await fsp.unlink(path.join(targetStateDir, INSTALLED_FILE));
    await fsyncDir(targetStateDir);
  } catch (err) {
    if (!isCode(err, 'ENOENT')) throw err;
  }
}
