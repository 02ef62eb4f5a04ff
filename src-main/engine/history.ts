/**
 * Operation history: an append-only JSON Lines file `<state_dir>/history.jsonl`, one
 * HistoryRecord per line. Appends use O_APPEND with one write() per line and an fsync, so lines
 * from several processes never interleave and a crash can at worst leave a torn last line, which
 * readers skip. Reading walks the file backwards, so "the last 50" stays cheap on a long history.
 * Past MAX_HISTORY_BYTES the file is rotated to `history-<time>.jsonl` (the newest
 * KEEP_ROTATED kept); reads continue into rotated files when the current one has too few records.
 */
import { constants as fsc, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { HistoryRecord } from '../../src-shared/api';
import { UsageError } from '../../src-shared/errors';
import { fsyncDir, openOwnFile } from './fs/atomic';
import { systemClock, type Clock } from './clock';

const CHUNK = 64 * 1024;
/** A "line" longer than this is not one we wrote; it is skipped rather than buffered. */
const MAX_LINE = 1024 * 1024;

/** Size at which the history file is rotated. */
export const MAX_HISTORY_BYTES = 8 * 1024 * 1024;
/** Rotated history files kept. */
const KEEP_ROTATED = 3;
const ROTATED_RE = /^history-\d{8}T\d{9}Z-[0-9a-f]{6}\.jsonl$/;

/** Rotated history files, newest first. */
async function rotatedFiles(stateDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fsp.readdir(stateDir);
  } catch {
    return [];
  }
  return names.filter((n) => ROTATED_RE.test(n)).sort().reverse().map((n) => path.join(stateDir, n));
}

/**
 * Moves a full history file aside under a unique name (racing processes each move a different
 * inode, so nothing is overwritten) and prunes the oldest rotated files.
 */
async function rotateIfFull(stateDir: string, maxBytes: number, clock: Clock): Promise<void> {
  const file = historyFile(stateDir);
  try {
    if ((await fsp.stat(file)).size < maxBytes) return;
  } catch {
    return;
  }
  const stamp = clock.now().toISOString().replace(/[-:.]/g, '');
  const suffix = Math.floor(Math.random() * 0xffffff).toString(16).padStart(6, '0');
  try {
    await fsp.rename(file, path.join(stateDir, `history-${stamp}-${suffix}.jsonl`));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  for (const old of (await rotatedFiles(stateDir)).slice(KEEP_ROTATED)) await fsp.rm(old, { force: true });
  await fsyncDir(stateDir);
}

/** Path of the history file inside a state directory. */
export function historyFile(stateDir: string): string {
  return path.join(stateDir, 'history.jsonl');
}

/** True when the file exists and its last byte is not a newline (a torn line from a crash). */
async function endsTorn(fh: fsp.FileHandle): Promise<boolean> {
  const { size } = await fh.stat();
  if (size === 0) return false;
  const b = Buffer.alloc(1);
  await fh.read(b, 0, 1, size - 1);
  return b[0] !== 0x0a;
}

/**
 * Appends one record durably (fsynced before returning). Safe to call from several processes at
 * once: each record is written with a single O_APPEND write. `o.clock` names a rotated file
 * (default: the system clock); `o.maxBytes` is the rotation size in bytes.
 */
export async function appendHistory(stateDir: string, rec: HistoryRecord, o: { maxBytes?: number; clock?: Clock } = {}): Promise<void> {
  if (!rec || typeof rec.id !== 'string' || typeof rec.target !== 'string') {
    throw new UsageError('ERR_USAGE', 'history record needs string id and target');
  }
  const file = historyFile(stateDir);
  await fsp.mkdir(stateDir, { recursive: true });
  await rotateIfFull(stateDir, o.maxBytes ?? MAX_HISTORY_BYTES, o.clock ?? systemClock);
  let created = false;
  try {
    await fsp.access(file);
  } catch {
    created = true;
  }
  // 'r+' cannot create, 'a' cannot read: open for append, and read the tail separately.
  // Never through a link (the record would go wherever it points), never blocking on a FIFO.
  const fh = await openOwnFile(file, fsc.O_RDWR | fsc.O_APPEND | fsc.O_CREAT);
  try {
    // After a crash mid-write the file may end inside a line; start ours on a fresh line so the
    // torn fragment stays a separate, skipped line instead of corrupting this record.
    const prefix = (await endsTorn(fh)) ? '\n' : '';
    const buf = Buffer.from(prefix + JSON.stringify(rec) + '\n', 'utf8');
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await fh.write(buf, off, buf.length - off);
      off += bytesWritten;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  if (created) await fsyncDir(stateDir);
}

const STRING_FIELDS = ['id', 'target', 'operation', 'actor', 'result', 'started_at', 'finished_at'] as const;
const NULLABLE_FIELDS = ['from_version', 'to_version', 'error_code', 'error_message'] as const;

/**
 * One line as a record, or null when it is not one Upkeep wrote: not JSON (a torn line), or a
 * value without the fields every record has (strings, strings or null, `duration_ms` a number),
 * which readers would otherwise fail on. Checked by hand: a zod schema costs more to build than
 * `upkeep history` spends reading.
 */
function parseLine(line: Buffer): HistoryRecord | null {
  if (line.length === 0) return null;
  let v: unknown;
  try {
    v = JSON.parse(line.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const r = v as Record<string, unknown>;
  if (!STRING_FIELDS.every((k) => typeof r[k] === 'string')) return null;
  if (!NULLABLE_FIELDS.every((k) => r[k] === null || typeof r[k] === 'string')) return null;
  return typeof r.duration_ms === 'number' ? (v as HistoryRecord) : null;
}

/**
 * History records, newest first, optionally only one target's and at most `limit` of them.
 * Unreadable lines (a torn last line after a crash, a line that is not a record) are skipped: one
 * bad line never hides the others. No file = no history. A symbolic link, FIFO or other
 * non-regular file at a history file's name throws StateCorruptError (ERR_STATE_CORRUPT).
 */
export async function readHistory(stateDir: string, o: { target?: string; limit?: number } = {}): Promise<HistoryRecord[]> {
  const limit = o.limit === undefined ? Infinity : Math.max(0, Math.floor(o.limit));
  const out: HistoryRecord[] = [];
  for (const file of [historyFile(stateDir), ...(await rotatedFiles(stateDir))]) {
    if (out.length >= limit) break;
    await readFileBackwards(file, o.target, limit, out);
  }
  return out;
}

/** Adds the records of one file, newest first, to `out` until it holds `limit`. */
async function readFileBackwards(file: string, target: string | undefined, limit: number, out: HistoryRecord[]): Promise<void> {
  if (limit === 0) return;
  let fh: fsp.FileHandle;
  try {
    fh = await openOwnFile(file, fsc.O_RDONLY);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const o = { target };
  const take = (line: Buffer): boolean => {
    const rec = parseLine(line);
    if (rec && (o.target === undefined || rec.target === o.target)) out.push(rec);
    return out.length >= limit;
  };
  try {
    let pos = (await fh.stat()).size;
    let carry: Buffer = Buffer.alloc(0);
    while (pos > 0) {
      const len = Math.min(CHUNK, pos);
      pos -= len;
      const chunk = Buffer.alloc(len);
      await fh.read(chunk, 0, len, pos);
      const data = carry.length > 0 ? Buffer.concat([chunk, carry]) : chunk;
      let end = data.length;
      for (let i = data.length - 1; i >= 0; i--) {
        if (data[i] !== 0x0a) continue;
        if (take(data.subarray(i + 1, end))) return;
        end = i;
      }
      carry = end > MAX_LINE ? Buffer.alloc(0) : Buffer.from(data.subarray(0, end));
    }
    take(carry);
  } finally {
    await fh.close();
  }
}
