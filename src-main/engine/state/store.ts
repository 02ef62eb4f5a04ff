/**
 * Persisted engine state under `<state_dir>`: the per-feed memory that defeats rollback/freeze
 * attacks (highest accepted sequence, ETag, cached index bytes) and each target's runtime state
 * (last check, last error, settings overrides from the UI). Every write is durable and atomic.
 *
 * Layout:
 *   feeds/<sha256(url \n channel)[0..32]>/memory.json   FeedMemory (+ the url and channel, for people)
 *   feeds/<…>/index.json                                 the accepted index envelope's exact bytes
 *   targets/<id>/runtime.json                            RuntimeState
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ErrorView, SettingsPatch } from '../../../src-shared/api';
import { UsageError, VerificationError } from '../../../src-shared/errors';
import { readJsonIfExists, writeFileDurable, writeJsonDurable } from '../fs/atomic';

export interface FeedMemory {
  /** Highest index sequence accepted for this feed and channel. */
  sequence: number;
  etag: string | null;
  last_modified: string | null;
  /** Lowercase hex SHA-256 of the accepted index envelope's bytes. */
  index_sha256: string;
  accepted_at: string;
}

export interface RuntimeState {
  last_checked_at: string | null;
  last_error: ErrorView | null;
  /** The last check's result (any JSON; the checker owns its shape). */
  available: unknown;
  /** Settings the UI changed, layered over the config file's policy. */
  settings: SettingsPatch;
}

const TARGET_ID_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;

function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Directory holding one feed channel's memory and cached index. */
export function feedStateDir(stateDir: string, feedUrl: string, channel: string): string {
  return path.join(stateDir, 'feeds', sha256Hex(`${feedUrl}\n${channel}`).slice(0, 32));
}

function targetDir(stateDir: string, id: string): string {
  if (!TARGET_ID_RE.test(id)) throw new UsageError('ERR_USAGE', `invalid target id '${id}'`);
  return path.join(stateDir, 'targets', id);
}

function isFeedMemory(v: unknown): v is FeedMemory {
  if (typeof v !== 'object' || v === null) return false;
  const m = v as Record<string, unknown>;
  return Number.isSafeInteger(m.sequence) && typeof m.index_sha256 === 'string';
}

/** The remembered state of one feed channel, or null when none was accepted yet. */
export async function getFeedMemory(stateDir: string, feedUrl: string, channel: string): Promise<FeedMemory | null> {
  const raw = await readJsonIfExists<unknown>(path.join(feedStateDir(stateDir, feedUrl, channel), 'memory.json'));
  if (!isFeedMemory(raw)) return null;
  return {
    sequence: raw.sequence,
    etag: typeof raw.etag === 'string' ? raw.etag : null,
    last_modified: typeof raw.last_modified === 'string' ? raw.last_modified : null,
    index_sha256: raw.index_sha256,
    accepted_at: typeof raw.accepted_at === 'string' ? raw.accepted_at : '',
  };
}

/**
 * Records an accepted index. The sequence only ever rises: a lower one than remembered is refused
 * with ERR_ROLLBACK_ATTACK and nothing is written. When `indexBytes` is given they are cached
 * (written before the memory that points at them, so a crash never leaves memory without bytes).
 */
export async function setFeedMemory(stateDir: string, feedUrl: string, channel: string, mem: FeedMemory, indexBytes?: Uint8Array): Promise<void> {
  if (!Number.isSafeInteger(mem.sequence) || mem.sequence < 0) throw new UsageError('ERR_USAGE', `invalid index sequence ${String(mem.sequence)}`);
  const prev = await getFeedMemory(stateDir, feedUrl, channel);
  if (prev && mem.sequence < prev.sequence) {
    throw new VerificationError('ERR_ROLLBACK_ATTACK', `index sequence ${mem.sequence} is older than the accepted ${prev.sequence} (feed ${feedUrl}, channel ${channel})`, {
      feed: feedUrl, channel, sequence: mem.sequence, accepted_sequence: prev.sequence,
    });
  }
  const dir = feedStateDir(stateDir, feedUrl, channel);
  if (indexBytes) {
    const actual = sha256Hex(indexBytes);
    if (actual !== mem.index_sha256.toLowerCase()) throw new UsageError('ERR_USAGE', `cached index bytes do not match index_sha256 (${actual})`);
    await writeFileDurable(path.join(dir, 'index.json'), indexBytes);
  }
  await writeJsonDurable(path.join(dir, 'memory.json'), { ...mem, index_sha256: mem.index_sha256.toLowerCase(), feed_url: feedUrl, channel });
}

/**
 * The cached bytes of the accepted index (for a 304 Not Modified), or null when absent or when
 * they no longer hash to the remembered index_sha256.
 */
export async function getCachedIndex(stateDir: string, feedUrl: string, channel: string): Promise<Buffer | null> {
  const mem = await getFeedMemory(stateDir, feedUrl, channel);
  if (!mem) return null;
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(path.join(feedStateDir(stateDir, feedUrl, channel), 'index.json'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return sha256Hex(bytes) === mem.index_sha256 ? bytes : null;
}

function emptyRuntime(): RuntimeState {
  return { last_checked_at: null, last_error: null, available: null, settings: {} };
}

function normalizeRuntime(raw: unknown): RuntimeState {
  const out = emptyRuntime();
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return out;
  const r = raw as Record<string, unknown>;
  if (typeof r.last_checked_at === 'string') out.last_checked_at = r.last_checked_at;
  if (r.last_error && typeof r.last_error === 'object' && typeof (r.last_error as ErrorView).code === 'string') {
    const e = r.last_error as ErrorView;
    out.last_error = { code: e.code, message: String(e.message ?? '') };
  }
  if (r.available !== undefined) out.available = r.available;
  if (r.settings && typeof r.settings === 'object' && !Array.isArray(r.settings)) out.settings = r.settings as SettingsPatch;
  return out;
}

/** One target's runtime state (defaults when nothing was recorded yet). */
export async function readRuntime(stateDir: string, id: string): Promise<RuntimeState> {
  const file = path.join(targetDir(stateDir, id), 'runtime.json');
  try {
    return normalizeRuntime(await readJsonIfExists<unknown>(file));
  } catch (err) {
    // Writes are atomic, so unparsable JSON means a hand edit; start fresh rather than wedge the target.
    if (err instanceof SyntaxError) return emptyRuntime();
    throw err;
  }
}

/** Per-file queue so read-modify-write updates inside one process never lose each other's changes. */
const queues = new Map<string, Promise<unknown>>();

/**
 * Applies `fn` to the target's runtime state and writes the result durably. `fn` may mutate its
 * argument or return a new state. Updates within this process are serialised per target.
 */
export async function updateRuntime(stateDir: string, id: string, fn: (cur: RuntimeState) => RuntimeState | void | Promise<RuntimeState | void>): Promise<RuntimeState> {
  const file = path.join(targetDir(stateDir, id), 'runtime.json');
  const prev = queues.get(file) ?? Promise.resolve();
  const run = prev.catch(() => undefined).then(async () => {
    const cur = await readRuntime(stateDir, id);
    const next = normalizeRuntime((await fn(cur)) ?? cur);
    await writeJsonDurable(file, next);
    return next;
  });
  queues.set(file, run);
  try {
    return await run;
  } finally {
    if (queues.get(file) === run) queues.delete(file);
  }
}
