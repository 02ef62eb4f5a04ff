/**
 * The journal of the operation in flight: `<stateDir>/targets/<id>/journal.json`.
 *
 * It lists, before anything is renamed, every step in order, so that a crash at any instant
 * can be undone to exactly the old tree or finished to exactly the new one:
 *
 * - phase `staging`: new bytes are being written under temporary names; no rename has run.
 *   Undo = delete the staged names and created directories.
 * - phase `switching`: the journal was fsynced before the first rename; ops run in order.
 * - phase `switched`: every op ran and every touched directory was fsynced; verification
 *   (hooks, health) runs now. Undo = reverse ops.
 * - phase `committed`: the decision is made; recovery finishes (records, point, retention,
 *   cleanup) and deletes the journal.
 *
 * The journal (every step, tens of megabytes for a large tree) is written once, durably, before
 * anything is staged; each later phase is recorded durably in the small `journal-phase.json`
 * (`{op_id, phase}`), which only counts for the journal with the same `op_id`.
 *
 * Undo of `rename A->B` runs iff B exists and A does not, which is correct in every phase
 * from `switching` on because all staged names exist (fsynced) before the phase is written.
 * Undo of a `link` op points the link back at its old target; undo of `mkdir` removes the
 * directory when it exists and is empty, undo of `rmdir` creates it again when missing. All are
 * idempotent, so undo itself can crash and be re-run. Ops run in the order: entries moved away
 * (backups), emptied directories removed, directories created, staged entries renamed into
 * place — so a path can change type (file ↔ directory ↔ link) between versions.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { readJson, writeFileDurable, fsyncDir, type SameShape } from '../fs/atomic';
import { z } from '../state/state-zod';
import { InstalledSchema, type Installed, type Layout } from './installed';
import { PendingPointSchema, isRollbackId, type RollbackPoint } from './points';
import { isSafeRelativePath } from '../trust/paths';
import { isCode, lexists, moveEntry } from './tree';

export type JournalPhase = 'staging' | 'switching' | 'switched' | 'committed';

/** One reversible step. Paths are absolute. */
export type JournalOp =
  | { t: 'rename'; from: string; to: string }
  /** Atomically (re)point symlink `path` from `old` to `new` target (null = absent). */
  | { t: 'link'; path: string; old: string | null; new: string | null; tmp: string }
  /** Create directory `path` with `mode` (a file of the old tree stood there). Undo: remove it when empty. */
  | { t: 'mkdir'; path: string; mode: number }
  /** Remove the emptied directory `path` (an entry of the new tree goes there). Undo: create it with `mode`. */
  | { t: 'rmdir'; path: string; mode: number };

/** A file to write under a temporary name before switching. */
export interface StageItem {
  /** Absolute temporary path (same directory as the destination, or inside a staging dir). */
  path: string;
  /** Absolute path of the bytes to use (cache blob, point file, previous version file). */
  source: string;
  sha256: string;
  size: number;
  mode: number;
  /** Hard-link the source instead of copying (same inode: the source must have `mode`). */
  link: boolean;
  /**
   * With `link`: rename the source to the staged name instead of linking it (a file of a point the
   * rollback consumes, used once: the point is deleted on commit anyway). Undoing the staging
   * renames it back.
   */
  move?: boolean;
  /** When set, the staged entry is a symbolic link with this literal target (`source` unused). */
  symlink?: string;
}

export interface Journal {
  v: 1;
  op_id: string;
  kind: 'apply' | 'rollback';
  target: string;
  layout: Layout;
  install_dir: string;
  state_dir: string;
  points_dir: string;
  phase: JournalPhase;
  created_at: string;
  /** installed.json before (restored by undo) and after (written on commit; null = remove). */
  before: Installed | null;
  after: Installed | null;
  stage: StageItem[];
  /** Directories created for the operation, shallowest first (undo removes them when empty). */
  mkdirs: string[];
  /** Scratch directories removed by undo and by finish (staging dirs). */
  scratch: string[];
  ops: JournalOp[];
  /** Where backed-up files go: the new point's dir (apply) or a `.tx-*` dir (rollback). */
  backup_dir: string | null;
  /** apply: the point to publish on commit (size is computed then). */
  point: Omit<RollbackPoint, 'size_bytes'> | null;
  /** rollback: points consumed on commit. */
  consume: string[];
  /** Relative paths removed from the install dir (in-place): their empty parents are pruned on commit. */
  removed: string[];
  retention: number;
}

export const JOURNAL_FILE = 'journal.json';
/** The phase of the journal in flight after `staging` (see the module comment). */
export const PHASE_FILE = 'journal-phase.json';

/**
 * The schemas of `journal.json` and `journal-phase.json`, built on the first read: zod schemas
 * cost time to build, and most starts (every `upkeep status` of a target with nothing to
 * recover) read no journal.
 */
function buildSchemas() {
  const PhaseSchema = z.object({ op_id: z.string().check(z.minLength(1)), phase: z.enum(['staging', 'switching', 'switched', 'committed']) });

  const absolute = z.string().check(z.refine((p) => path.isAbsolute(p), 'not an absolute path'));

  const mode = z.number().check(z.int(), z.gte(0), z.lte(0o7777));

  const JournalOpSchema = z.discriminatedUnion('t', [
    z.object({ t: z.literal('rename'), from: absolute, to: absolute }),
    z.object({ t: z.literal('link'), path: absolute, old: z.nullable(z.string()), new: z.nullable(z.string()), tmp: absolute }),
    z.object({ t: z.literal('mkdir'), path: absolute, mode }),
    z.object({ t: z.literal('rmdir'), path: absolute, mode }),
  ]);

  /** `journal.json` (checked before recovery acts on it). */
  const JournalSchema = z.object({
    v: z.literal(1),
    op_id: z.string().check(z.minLength(1)),
    kind: z.enum(['apply', 'rollback']),
    target: z.string().check(z.minLength(1)),
    layout: z.enum(['in-place', 'versioned']),
    install_dir: absolute,
    state_dir: absolute,
    points_dir: absolute,
    phase: z.enum(['staging', 'switching', 'switched', 'committed']),
    created_at: z.string(),
    before: z.nullable(InstalledSchema),
    after: z.nullable(InstalledSchema),
    stage: z.array(z.object({
      path: absolute,
      /** Absolute, except for a symbolic link (its `symlink` target is staged instead). */
      source: z.string(),
      sha256: z.string().check(z.regex(/^([0-9a-f]{64})?$/)),
      size: z.number().check(z.int(), z.nonnegative()),
      mode,
      link: z.boolean(),
      move: z.optional(z.boolean()),
      symlink: z.optional(z.string().check(z.minLength(1))),
    }).check(z.refine((st) => st.symlink !== undefined || path.isAbsolute(st.source), { message: 'not an absolute path', path: ['source'] }))),
    mkdirs: z.array(absolute),
    scratch: z.array(absolute),
    ops: z.array(JournalOpSchema),
    backup_dir: z.nullable(absolute),
    point: z.nullable(PendingPointSchema),
    consume: z.array(z.string().check(z.refine(isRollbackId, 'not a rollback id'))),
    removed: z.array(z.string().check(z.refine(isSafeRelativePath, 'not a safe relative path'))),
    retention: z.number().check(z.int(), z.nonnegative()),
  });
  return { PhaseSchema, JournalOpSchema, JournalSchema };
}
type JournalSchemas = ReturnType<typeof buildSchemas>;
let builtSchemas: JournalSchemas | undefined;
const schemas = (): JournalSchemas => (builtSchemas ??= buildSchemas());
const _opShape: SameShape<z.output<JournalSchemas['JournalOpSchema']>, JournalOp> = true;
const _journalShape: SameShape<z.output<JournalSchemas['JournalSchema']>, Journal> = true;

/**
 * Reads the journal of a target state dir; null when no operation is in flight. Throws
 * StateCorruptError (ERR_STATE_CORRUPT naming the file) when it does not match JournalSchema:
 * recovery never guesses which renames to undo.
 */
export async function readJournal(stateDir: string): Promise<Journal | null> {
  const j = (await readJson(path.join(stateDir, JOURNAL_FILE), schemas().JournalSchema)) ?? null;
  if (!j) return null;
  const ph = await readJson(path.join(stateDir, PHASE_FILE), schemas().PhaseSchema);
  if (ph && ph.op_id === j.op_id) j.phase = ph.phase;
  return j;
}

/** Durably writes the journal (atomic replace + fsync of file and directory), phase included. */
export async function writeJournal(j: Journal): Promise<void> {
  await fsp.rm(path.join(j.state_dir, PHASE_FILE), { force: true }); // another operation's: ignored anyway
  await writeFileDurable(path.join(j.state_dir, JOURNAL_FILE), JSON.stringify(j));
}

/** Durably records a new phase of the journal in flight (a few bytes, not the whole journal). */
export async function setPhase(j: Journal, phase: JournalPhase): Promise<void> {
  j.phase = phase;
  await writeFileDurable(path.join(j.state_dir, PHASE_FILE), JSON.stringify({ op_id: j.op_id, phase }));
}

/**
 * Durably returns the journal in flight to phase `staging`, the phase `journal.json` itself was
 * written with, by removing the phase record: an unlink, so it needs no free space. Called once an
 * undo has reversed every op: the tree is the old one again and only staged names, scratch dirs and
 * backups remain to remove. An undo re-run after a crash from then on must never reverse a rename
 * again: the old file back at a destination whose staged name is gone would be renamed to that
 * staged name and removed with it.
 */
export async function backToStaging(j: Journal): Promise<void> {
  await fsp.rm(path.join(j.state_dir, PHASE_FILE), { force: true });
  await fsyncDir(j.state_dir);
  j.phase = 'staging';
}

/**
 * Deletes the journal durably (the operation is over), then its phase record: in that order,
 * with the directory synced between, so a journal never outlives the record of its phase.
 */
export async function deleteJournal(stateDir: string): Promise<void> {
  try {
    await fsp.unlink(path.join(stateDir, JOURNAL_FILE));
    await fsyncDir(stateDir);
  } catch (err) {
    if (!isCode(err, 'ENOENT')) throw err;
  }
  await fsp.rm(path.join(stateDir, PHASE_FILE), { force: true }); // a stale one is ignored: no sync needed
}

async function readLinkOrNull(p: string): Promise<string | null> {
  try {
    return await fsp.readlink(p);
  } catch (err) {
    if (isCode(err, 'ENOENT')) return null;
    throw err;
  }
}

/** Atomically makes `p` a symlink to `target` (or removes it when null), via a temp link + rename. */
async function pointLink(p: string, target: string | null, tmp: string): Promise<void> {
  if (target === null) {
    try {
      await fsp.unlink(p);
    } catch (err) {
      if (!isCode(err, 'ENOENT')) throw err;
    }
  } else {
    if ((await readLinkOrNull(p)) === target) return;
    await fsp.rm(tmp, { force: true });
    await fsp.symlink(target, tmp);
    await fsp.rename(tmp, p);
  }
  await fsyncDir(path.dirname(p));
}

/** Creates `dir` with exactly `mode` (chmod: the umask never decides); true when it was created. */
export async function mkdirMode(dir: string, mode: number): Promise<boolean> {
  try {
    await fsp.mkdir(dir, { mode: 0o700 });
  } catch (err) {
    if (isCode(err, 'EEXIST')) return false;
    throw err;
  }
  await fsp.chmod(dir, mode & 0o777);
  return true;
}

/** `mkdir -p` giving each directory it creates exactly `mode` (mkdirMode), shallowest first. */
export async function mkdirpMode(dir: string, mode: number): Promise<void> {
  const missing: string[] = [];
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    try {
      await fsp.lstat(d);
      break;
    } catch (err) {
      if (!isCode(err, 'ENOENT')) throw err;
    }
    missing.unshift(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of missing) await mkdirMode(d, mode);
}

/** Runs one op forward. Idempotent for `link`; `rename` must run once (its undo rule covers crashes). */
export async function runOp(op: JournalOp): Promise<void> {
  if (op.t === 'rename') await moveEntry(op.from, op.to);
  else if (op.t === 'link') await pointLink(op.path, op.new, op.tmp);
  else if (op.t === 'mkdir') await mkdirMode(op.path, op.mode);
  else await fsp.rmdir(op.path);
}

/**
 * Undoes one op if it ran (see the rule in the module comment). Idempotent. With `sync` false a
 * moved entry's directories are left for the caller to make durable (it fsyncs them once for all
 * ops before the journal goes).
 */
export async function undoOp(op: JournalOp, sync = true): Promise<void> {
  if (op.t === 'rename') {
    if ((await lexists(op.to)) && !(await lexists(op.from))) {
      await moveEntry(op.to, op.from);
      if (sync) await fsyncDir(path.dirname(op.from));
    }
    return;
  }
  if (op.t === 'mkdir') {
    try {
      await fsp.rmdir(op.path);
    } catch (err) {
      // Never created (the crash came first), not empty (undo of later ops failed: refuse to
      // guess), or a file of the old tree is back at that path: nothing to undo here.
      if (isCode(err, 'ENOENT') || isCode(err, 'ENOTDIR')) return;
      throw err;
    }
    await fsyncDir(path.dirname(op.path));
    return;
  }
  if (op.t === 'rmdir') {
    if (!(await lexists(op.path))) {
      await mkdirMode(op.path, op.mode);
      await fsyncDir(path.dirname(op.path));
    }
    return;
  }
  const cur = await readLinkOrNull(op.path);
  if (op.old === null) {
    if (cur !== null && cur === op.new) await pointLink(op.path, null, op.tmp);
  } else if (cur !== op.old) {
    await pointLink(op.path, op.old, op.tmp);
  }
  await fsp.rm(op.tmp, { force: true });
}
