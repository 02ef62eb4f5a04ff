/**
 * Recovery at start (what "the next command" runs first): an operation interrupted at any
 * instant — SIGKILL, power loss — is undone to exactly the old tree, or, when it had
 * committed, finished to exactly the new tree. Recovery is itself idempotent: it can be
 * interrupted and re-run any number of times.
 */
import { promises as fsp, readdirSync } from 'node:fs';
import path from 'node:path';
import { OperationError, UpkeepError } from '../../../src-shared/errors';
import { JOURNAL_FILE, PHASE_FILE, readJournal } from './journal';
import type { Journal } from './journal';
import { INSTALLED_FILE } from './installed';
import { FINGERPRINTS_FILE } from './fingerprints';
import { finishTransaction, undoFailedError, undoTransaction } from './transaction';
import type { ApplyHooks } from './transaction';
import { sweepVolumeProbes, volumeProbeLeftovers } from './switch-plan';
import { COMMAND_STATE_FILE } from '../command-state';

/** The target's runtime state file (state/store.ts). */
const RUNTIME_FILE = 'runtime.json';
import { pointLeftovers, sweepPointLeftovers } from './points';
import { lstatOrNull } from '../fs/meta';
import { CHECKED_SUFFIX } from '../fs/atomic';
import { isCode } from './tree';
import { isDiskFull } from '../fs/space';

export type RecoverResult = 'none' | 'rolled-back' | 'completed';

/**
 * Temp files an interrupted atomic write of the journal or installed.json left in `stateDir`
 * (none when it is missing; other errors are thrown). Synchronous: one readdir.
 */
function stateTempLeftovers(stateDir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(stateDir);
  } catch (err) {
    if (isCode(err, 'ENOENT')) return [];
    throw err;
  }
  return names.filter((n) => {
    // runtime.json and command-state.json may be written by another process (a daemon's check)
    // right now: removing its temp file makes that write retry (fs/atomic.ts writeFileDurable).
    // (installed.json's digest hint is not a temp file: see fs/atomic.ts writeCheckedHint.)
    const ours = [JOURNAL_FILE, INSTALLED_FILE, PHASE_FILE, FINGERPRINTS_FILE].some((f) => n.startsWith(`${f}.`) && n !== `${f}${CHECKED_SUFFIX}`);
    const shared = [RUNTIME_FILE, COMMAND_STATE_FILE].some((f) => n.startsWith(`${f}.`) && /^\d+$/.test(n.slice(f.length + 1)));
    return ours || shared;
  });
}

/** Removes the temp files of stateTempLeftovers. */
async function sweepStateTemps(stateDir: string): Promise<void> {
  for (const n of stateTempLeftovers(stateDir)) await fsp.rm(path.join(stateDir, n), { force: true });
}

/**
 * False when `recover` would find nothing to do: no journal, and none of the leftovers it sweeps
 * when there is none (probe files of dead processes in the install dir, state temp files,
 * unfinished rollback points). Synchronous and read-only, so a read (`upkeep status`) can skip
 * the target's lock: recovering such a target changes nothing, an operation that starts after
 * this look is one that could have started right after a recovery, and one running now holds
 * the lock, so recovery would have skipped the target anyway. Any error reading says true (the
 * caller then recovers under the lock, which reports it).
 */
export function recoveryPending(o: { stateDir: string; installDir: string; pointsDir: string }): boolean {
  try {
    const stateDir = path.resolve(o.stateDir);
    if (lstatOrNull(path.join(stateDir, JOURNAL_FILE)) !== null) return true;
    return volumeProbeLeftovers(o.installDir).length > 0 || stateTempLeftovers(stateDir).length > 0 || pointLeftovers(o.pointsDir).length > 0;
  } catch {
    return true;
  }
}

/**
 * Brings a target back to a consistent state: 'none' when no operation was in flight,
 * 'rolled-back' when an uncommitted one was undone (old tree, old installed.json),
 * 'completed' when a committed one was finished (new tree, new installed.json). `hooks.onProgress`
 * sees the undo's steps (phase `rollback`) or the finish (phase `commit`), each from step 0 (the
 * journal read, nothing changed yet).
 */
export async function recover(o: { stateDir: string; installDir: string; pointsDir: string }, hooks: Pick<ApplyHooks, 'onProgress'> = {}): Promise<RecoverResult> {
  const stateDir = path.resolve(o.stateDir);
  await sweepVolumeProbes(o.installDir);
  // Written atomically, so a torn or malformed journal means outside damage: readJournal throws
  // ERR_STATE_CORRUPT naming the file, and recovery refuses to guess which renames to undo.
  const j: Journal | null = await readJournal(stateDir);
  if (!j) {
    await sweepStateTemps(stateDir);
    // What a finished operation was still removing when it was killed (ApplyHooks.defer).
    await sweepPointLeftovers(o.pointsDir);
    return 'none';
  }
  // Step 0 of the undo or finish: the journal is read, recovery starts changing things.
  hooks.onProgress?.({ phase: j.phase === 'committed' ? 'commit' : 'rollback', done: 0, total: j.phase === 'committed' ? 1 : j.ops.length });
  if (j.phase === 'committed') {
    await finishTransaction(j, { onProgress: hooks.onProgress });
    await sweepStateTemps(stateDir);
    return 'completed';
  }
  await undoTransaction(j, { onProgress: hooks.onProgress });
  await sweepStateTemps(stateDir);
  return 'rolled-back';
}

/**
 * Settles a transaction that threw while recording its commit, after the switch and `verify`
 * (the disk filled in between, an I/O error), which it does not undo: the journal of operation
 * `opId` is left on disk in a phase before `committed`. It is undone
 * now, exactly as the next start's recovery would, so the caller's "nothing changed" or
 * "rolled back" is true when it says so. Returns the error to report: ENOSPC/EDQUOT become
 * ERR_DISK_FULL naming `stateDir` (`details.dir`); when the undo fails too, ERR_APPLY_FAILED
 * with `details.undo_failed` (the next command's recovery finishes it). A committed journal is
 * left to recovery (its finish may need the space that is missing).
 */
export async function settleUnrecorded(stateDir: string, opId: string, err: unknown): Promise<unknown> {
  const dir = path.resolve(stateDir);
  let out: unknown = err;
  if (isDiskFull(err) && !(err instanceof UpkeepError)) {
    // What a phase record needs: one block of the filesystem.
    out = new OperationError('ERR_DISK_FULL', `no space left in ${dir} to record the operation's progress; the switch was undone`, { dir, bytes_needed: 4096 });
  }
  let j: Journal | null;
  try {
    j = await readJournal(dir);
  } catch {
    return out;
  }
  if (j === null || j.op_id !== opId || j.phase === 'committed') return out;
  try {
    await undoTransaction(j);
  } catch (undoErr) {
    return undoFailedError(out, undoErr);
  }
  return out;
}

/**
 * The error to report for a transaction of operation `opId` that threw: when its journal is
 * still on disk in a phase before `committed` although the transaction undid (or tried to undo)
 * the switch, the undo did not finish (a directory made append-only or immutable, an I/O error):
 * ERR_APPLY_FAILED with `details.undo_failed` (and `cause_code`), never a plain failure that
 * reads as "rolled back". Otherwise `err` itself.
 */
export async function unfinishedUndoError(stateDir: string, opId: string, err: unknown): Promise<unknown> {
  if (err instanceof UpkeepError && err.details?.undo_failed) return err;
  const j = await readJournal(path.resolve(stateDir)).catch(() => null);
  if (j === null || j.op_id !== opId || j.phase === 'committed') return err;
  const e = toUpkeepErrorLike(err);
  return new OperationError('ERR_APPLY_FAILED', `${e.message}; undoing the switch did not finish — the next Upkeep command finishes the undo`, {
    undo_failed: true, cause_code: e.code,
  });
}

function toUpkeepErrorLike(err: unknown): { message: string; code: string | null } {
  if (err instanceof UpkeepError) return { message: err.message, code: err.code };
  return { message: err instanceof Error ? err.message : String(err), code: isDiskFull(err) ? 'ERR_DISK_FULL' : null };
}

/**
 * Refuses to start a transaction over an interrupted one: the caller (the operation runner,
 * under the target's lock) runs `recover` once before it applies or rolls back.
 * ERR_APPLY_FAILED when a journal is still present.
 */
export async function assertRecovered(stateDir: string): Promise<void> {
  const j = await readJournal(path.resolve(stateDir)).catch(() => null);
  if (j) throw new OperationError('ERR_APPLY_FAILED', `an interrupted operation (${j.op_id}) must be recovered first`, { op_id: j.op_id });
}
