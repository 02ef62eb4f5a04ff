/**
 * `installed.json`: the record of what Upkeep installed for one target (absent = nothing yet).
 * Written atomically (temp + fsync + rename + fsync dir), so a crash leaves the old or new record.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { readJson, writeJsonDurable, fsyncDir, CHECKED_SUFFIX, type SameShape } from '../fs/atomic';
import { z } from '../state/state-zod';
import { isSafeRelativePath } from '../trust/paths';
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
/** Tag of installed.json's digest hint (fs/atomic.ts writeCheckedHint): changes with InstalledSchema. */
const INSTALLED_CHECKED_TAG = 'installed/1';

/**
 * A managed entry as persisted: safe relative path, lowercase hex SHA-256 (empty for a symbolic
 * link, which has `target`), bytes, permission bits.
 */
export const FileRecordSchema = z.object({
  path: z.string().check(z.refine(isSafeRelativePath, 'not a safe relative path')),
  sha256: z.string().check(z.regex(/^([0-9a-f]{64})?$/, 'not a lowercase hex SHA-256')),
  size: z.number().check(z.int(), z.nonnegative()),
  mode: z.number().check(z.int(), z.gte(0), z.lte(0o7777)),
  target: z.optional(z.string().check(z.minLength(1))),
}).check(z.refine((f) => (f.target === undefined) === (f.sha256 !== ''), 'a file needs a sha256, a symbolic link a target'));
const _fileRecordShape: SameShape<z.output<typeof FileRecordSchema>, FileRecord> = true;

/** `installed.json` (checked on every read). */
export const InstalledSchema = z.object({
  version: z.string().check(z.minLength(1)),
  layout: z.enum(['in-place', 'versioned', 'command']),
  files: z.array(FileRecordSchema),
  version_dir: z.optional(z.string().check(z.refine(isSafeRelativePath, 'not a safe relative path'))),
  installed_at: z.optional(z.string()),
});
const _installedShape: SameShape<z.output<typeof InstalledSchema>, Installed> = true;

/**
 * Reads `<targetStateDir>/installed.json`; null when nothing is installed yet. Throws
 * StateCorruptError (ERR_STATE_CORRUPT) when the file does not match InstalledSchema (not checked
 * again while its bytes are the ones writeInstalled wrote: see fs/atomic.ts readJson).
 */
export async function readInstalled(targetStateDir: string): Promise<Installed | null> {
  return (await readJson(path.join(targetStateDir, INSTALLED_FILE), InstalledSchema, { checkedTag: INSTALLED_CHECKED_TAG })) ?? null;
}

/**
 * installed.json with its file list read but not checked entry by entry: what the installed
 * version needs. Status reads and every operation ask for the version several times, and
 * checking each of 10,000 entries costs tens of ms each time; readInstalled checks them all.
 */
const InstalledHeadSchema = z.extend(InstalledSchema, { files: z.array(z.unknown()) });

/**
 * The installed version from `<targetStateDir>/installed.json`; null when nothing is installed.
 * Throws StateCorruptError (ERR_STATE_CORRUPT) when the file is not JSON or its version, layout
 * or shape is wrong (the file entries themselves are checked by readInstalled).
 */
export async function readInstalledVersion(targetStateDir: string): Promise<string | null> {
  return (await readJson(path.join(targetStateDir, INSTALLED_FILE), InstalledHeadSchema))?.version ?? null;
}

/** Durably replaces `<targetStateDir>/installed.json` (also used by command targets). */
export async function writeInstalled(targetStateDir: string, v: Installed): Promise<void> {
  await writeJsonDurable(path.join(targetStateDir, INSTALLED_FILE), v, undefined, { checkedTag: INSTALLED_CHECKED_TAG });
}

/**
 * Durably writes `v`, or removes the record when `v` is null (back to "nothing installed"), and
 * then its digest hint (`installed.json.sha256`; a hint left by a crash in between matches no
 * document, so it is harmless and the next write replaces it).
 */
export async function setInstalled(targetStateDir: string, v: Installed | null): Promise<void> {
  if (v) return writeInstalled(targetStateDir, v);
  try {
    await fsp.unlink(path.join(targetStateDir, INSTALLED_FILE));
    await fsyncDir(targetStateDir);
  } catch (err) {
    if (!isCode(err, 'ENOENT')) throw err;
  }
  await fsp.rm(path.join(targetStateDir, `${INSTALLED_FILE}${CHECKED_SUFFIX}`), { force: true }).catch(() => undefined);
}
