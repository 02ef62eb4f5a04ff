/**
 * One operation per target across processes (tray app, daemon and CLI may run together).
 *
 * The lock is a file `<state_dir>/locks/<target>.lock` created exclusively and holding
 * { pid, hostname, actor, op_id, since } (plus boot_id and the pid's start time on Linux).
 * A second acquire fails AT ONCE with ERR_BUSY naming the holder; it never waits.
 *
 * Why not proper-lockfile: it decides staleness from the lock's mtime, which the holder must
 * keep refreshing, and only after a multi-second delay. A holder that was SIGKILLed would block
 * every following command for that delay (or make it wait), and a holder stuck in a long
 * synchronous step could lose its lock. Here staleness is exact instead: a lock is stale when its
 * process is gone (kill(pid, 0) → ESRCH, a zombie, another boot, or the pid reused by a process
 * that started later), so the next command proceeds immediately after a crash.
 *
 * Creating: the holder record is written to a temp file and published with link(), which fails
 * if the lock exists, so nobody ever sees a half-written lock (O_EXCL open is the fallback where
 * hard links are unsupported). Taking over a stale lock: the taker first creates a second
 * exclusive file `<target>.lock.steal`, re-reads the lock and renames its own record over it only
 * if it still holds the same stale bytes; two takers at once therefore cannot both win.
 */
import { promises as fsp, constants as fsc, readFileSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { BusyError } from '../../src-shared/errors';
import { assertTargetId } from './target-paths';
import { systemClock, type Clock } from './clock';
import { readOwnFile } from './fs/atomic';

export interface LockHolder {
  pid: number;
  hostname: string;
  actor: string;
  op_id: string;
  since: string;
  /** Linux: the kernel boot id, so a lock left from before a reboot is recognised as stale. */
  boot_id?: string;
  /** Linux: the process start time (clock ticks since boot), so a reused pid is not mistaken for the holder. */
  pid_start?: string;
}

export interface TargetLock {
  readonly holder: LockHolder;
  /** Removes the lock if it is still ours. Idempotent. */
  release(): Promise<void>;
}

/** An unreadable lock file younger than this may still be being written (O_EXCL fallback only). */
const UNREADABLE_GRACE_MS = 5_000;
/** Rounds of retry while another process is in the middle of taking over a stale lock. */
const MAX_ROUNDS = 200;

function lockPath(stateDir: string, target: string): string {
  return path.join(stateDir, 'locks', `${assertTargetId(target)}.lock`);
}

let bootIdCache: string | null | undefined;
function bootId(): string | null {
  if (bootIdCache === undefined) {
    try {
      bootIdCache = process.platform === 'linux' ? readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() : null;
    } catch {
      bootIdCache = null;
    }
  }
  return bootIdCache;
}

/** Linux /proc/<pid>/stat: process state letter and start time; null elsewhere or when gone. */
function procStat(pid: number): { state: string; start: string } | null {
  if (process.platform !== 'linux') return null;
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)"; comm may contain spaces and parentheses, so cut at the last ')'.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0] ?? '', start: rest[19] ?? '' };
  } catch {
    return null;
  }
}

/** True unless we can prove the holder's process is gone. Locks from other hosts count as alive. */
function holderAlive(h: LockHolder): boolean {
  if (h.hostname !== os.hostname()) return true;
  const boot = bootId();
  if (h.boot_id && boot && h.boot_id !== boot) return false;
  try {
    process.kill(h.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const st = procStat(h.pid);
  if (st) {
    if (st.state === 'Z' || st.state === 'X') return false; // killed, not yet reaped by its parent
    if (h.pid_start && st.start && st.start !== h.pid_start) return false; // pid reused
  }
  return true;
}

function parseHolder(raw: string): LockHolder | null {
  try {
    const v = JSON.parse(raw) as LockHolder;
    if (v && Number.isSafeInteger(v.pid) && v.pid > 0 && typeof v.hostname === 'string') return v;
  } catch {}
  return null;
}

async function readRaw(file: string): Promise<string | null> {
  try {
    return (await readOwnFile(file)).toString('utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** How long ago `file` was last written, by the wall clock (file times are wall times). */
async function ageMs(file: string, clock: Clock): Promise<number> {
  try {
    return clock.now().getTime() - (await fsp.stat(file)).mtimeMs;
  } catch {
    return 0;
  }
}

async function writeTemp(near: string, body: string): Promise<string> {
  const tmp = `${near}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await fsp.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o644);
  try {
    await fh.writeFile(body);
  } finally {
    await fh.close();
  }
  return tmp;
}

/**
 * Removes the lock or temp file `file` (a regular file this module wrote); gone already is fine.
 * One unlink: `fsp.rm` would load its recursive remover and lstat first, on every command's lock.
 */
async function unlinkFile(file: string): Promise<void> {
  try {
    await fsp.unlink(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Publishes `tmp`'s content at `dest` unless `dest` exists. True when it did. */
async function createExclusive(tmp: string, dest: string, body: string): Promise<boolean> {
  try {
    await fsp.link(tmp, dest);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
  }
  try {
    await fsp.writeFile(dest, body, { flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/** Locks held by this process, removed on a normal exit that skipped release(). */
const held = new Map<string, string>();
let exitHookInstalled = false;
function trackHeld(file: string, body: string): void {
  held.set(file, body);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const [f, b] of held) {
      try {
        if (readFileSync(f, 'utf8') === b) unlinkSync(f);
      } catch {}
    }
  });
}

function busy(subject: LockSubject, holder: LockHolder | null): BusyError {
  if (!holder) return new BusyError(`${subject.label} is busy: another operation is taking its lock`, { ...subject.details, holder: null });
  const where = holder.hostname === os.hostname() ? `pid ${holder.pid}` : `pid ${holder.pid} on ${holder.hostname}`;
  return new BusyError(`${subject.label} is busy: ${holder.actor} (${where}, operation ${holder.op_id}) has held it since ${holder.since}`, {
    ...subject.details,
    holder: { actor: holder.actor, pid: holder.pid, hostname: holder.hostname, op_id: holder.op_id, since: holder.since },
  });
}

/** What a lock protects, for ERR_BUSY messages and details. */
interface LockSubject {
  /** e.g. "target 'demo'" */
  label: string;
  details: Record<string, unknown>;
}

/** Who takes a lock, and how long to wait for a live holder. */
export interface LockOptions {
  actor: string;
  opId: string;
  /** Wait up to this many ms (polling) while a live process holds the lock; 0 (default) = fail at once. */
  waitMs?: number;
  /** Stops the wait (rejects with the signal's reason). */
  signal?: AbortSignal;
  /** The holder's `since`, the age of unreadable lock files and the wait's deadline (default: the system clock). */
  clock?: Clock;
}

/** Poll interval while waiting for a held lock, in ms. */
const WAIT_POLL_MS = 50;

type StealOutcome = 'acquired' | 'changed' | 'contended';

/** Replaces the stale lock whose content was `staleRaw` with ours (`tmp`), if nobody beat us to it. */
async function steal(file: string, staleRaw: string, tmp: string, body: string, clock: Clock): Promise<StealOutcome> {
  const stealFile = `${file}.steal`;
  if (!(await createExclusive(tmp, stealFile, body))) {
    // Another taker is working; if it died mid-way its steal file is removed so others can go on.
    const raw = await readRaw(stealFile);
    const other = raw === null ? null : parseHolder(raw);
    if (raw !== null && (other ? !holderAlive(other) : (await ageMs(stealFile, clock)) > UNREADABLE_GRACE_MS)) {
      await fsp.rm(stealFile, { force: true });
    }
    return 'contended';
  }
  try {
    const now = await readRaw(file);
    if (now === staleRaw) {
      await fsp.rename(tmp, file);
      return 'acquired';
    }
    if (now === null) return (await createExclusive(tmp, file, body)) ? 'acquired' : 'changed';
    return 'changed';
  } finally {
    await fsp.rm(stealFile, { force: true });
  }
}

/**
 * Takes the target's lock for one operation, or throws BusyError (ERR_BUSY) naming the live
 * holder — at once, or after `o.waitMs`. A lock left by a process that no longer runs on this
 * host is taken over. Throws UsageError ERR_USAGE for an invalid target id.
 */
export async function acquireTargetLock(stateDir: string, target: string, o: LockOptions): Promise<TargetLock> {
  return acquireLock(lockPath(stateDir, target), o, { label: `target '${target}'`, details: { target } });
}

/**
 * Takes the exclusive lock file `file` (created with its directory), with the same rules as
 * acquireTargetLock. `subject` names what it protects in the ERR_BUSY message and details.
 */
export async function acquireLock(file: string, o: LockOptions, subject: LockSubject = { label: file, details: { lock: file } }): Promise<TargetLock> {
  const clock = o.clock ?? systemClock;
  const deadline = clock.monoMs() + (o.waitMs ?? 0);
  for (;;) {
    try {
      return await acquireOnce(file, o, subject, clock);
    } catch (err) {
      if (!(err instanceof BusyError) || clock.monoMs() >= deadline) throw err;
      if (o.signal?.aborted) throw o.signal.reason;
      await new Promise((r) => setTimeout(r, WAIT_POLL_MS));
    }
  }
}

async function acquireOnce(file: string, o: LockOptions, subject: LockSubject, clock: Clock): Promise<TargetLock> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const me: LockHolder = { pid: process.pid, hostname: os.hostname(), actor: o.actor, op_id: o.opId, since: clock.now().toISOString() };
  const boot = bootId();
  if (boot) me.boot_id = boot;
  const start = procStat(process.pid)?.start;
  if (start) me.pid_start = start;
  const body = JSON.stringify(me) + '\n';

  for (let round = 0; round < MAX_ROUNDS; round++) {
    const tmp = await writeTemp(file, body);
    try {
      let won = await createExclusive(tmp, file, body);
      if (!won) {
        const raw = await readRaw(file);
        if (raw === null) continue; // released meanwhile: try again
        const holder = parseHolder(raw);
        if (holder ? holderAlive(holder) : (await ageMs(file, clock)) < UNREADABLE_GRACE_MS) throw busy(subject, holder);
        const outcome = await steal(file, raw, tmp, body, clock);
        if (outcome === 'contended') await new Promise((r) => setTimeout(r, 2 + Math.random() * 8));
        won = outcome === 'acquired';
      }
      if (won) {
        trackHeld(file, body);
        let released = false;
        return {
          holder: me,
          async release() {
            if (released) return;
            released = true;
            held.delete(file);
            if ((await readRaw(file)) === body) await unlinkFile(file);
          },
        };
      }
    } finally {
      await unlinkFile(tmp);
    }
  }
  const raw = await readRaw(file);
  throw busy(subject, raw === null ? null : parseHolder(raw));
}

/** Who holds the target's lock now (with `stale` when its process is gone), or null when free. */
export async function readLockHolder(stateDir: string, target: string): Promise<(LockHolder & { stale: boolean }) | null> {
  const raw = await readRaw(lockPath(stateDir, target));
  if (raw === null) return null;
  const holder = parseHolder(raw);
  if (!holder) return null;
  return { ...holder, stale: !holderAlive(holder) };
}
