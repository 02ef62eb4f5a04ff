/**
 * Persisted engine state under `<state_dir>`: the per-feed memory that defeats rollback/freeze
 * attacks (highest accepted sequence, ETag, cached index bytes) and each target's runtime state
 * (last check, last error, settings overrides from the UI). Every write is durable and atomic.
 *
 * Layout:
 *   feeds/<sha256(url \n channel)[0..32]>/memory.json   FeedMemory (+ the url and channel, for people)
 *   feeds/<…>/index.json                                 the accepted index envelope's exact bytes
 *   targets/<id>/runtime.json                            RuntimeState
 *   targets/<id>/available-digests.json                  AvailableDigests (releases of many files)
 */
import path from 'node:path';
import { TARGET_VIEW_MAX_FILES, type ErrorView, type ReleaseView, type RolloutPending, type SettingsPatch } from '../../../src-shared/api';
import { UsageError, VerificationError } from '../../../src-shared/errors';
import { readJson, readOwnFile, writeFileDurable, writeJsonDurable } from '../fs/atomic';
import { DEFAULT_LIMITS } from '../limits';
import { targetStateDir } from '../target-paths';
import { z } from './state-zod';
import { sha256Hex } from '../trust/digest';

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
  /**
   * The version a manual rollback moved away from: automatic apply leaves it (and every release
   * not newer than it, in the feed's order) alone until a newer release appears or the user
   * applies it. Null when nothing is held.
   */
  held_version: string | null;
  /**
   * What the last check saw a staged rollout hold back from this machine: the newest release
   * newer than the installed and the available one, with the rollout's percent (0–100). Null when none.
   */
  rollout_pending: RolloutPending | null;
}

/**
 * The one key of a feed channel (32 hex chars of SHA-256 over `<feed root URL>\n<channel>`): names
 * its state directory and its cross-process lock.
 */
export function feedKey(feedUrl: string, channel: string): string {
  return sha256Hex(`${feedUrl}\n${channel}`).slice(0, 32);
}

/** Directory holding one feed channel's memory and cached index. */
export function feedStateDir(stateDir: string, feedUrl: string, channel: string): string {
  return path.join(stateDir, 'feeds', feedKey(feedUrl, channel));
}

/** `memory.json` of a feed channel (the url and channel are also stored, for people). */
const FeedMemorySchema = z.object({
  sequence: z.number().check(z.int(), z.nonnegative(), z.lte(Number.MAX_SAFE_INTEGER)),
  etag: z.nullable(z.string()),
  last_modified: z.nullable(z.string()),
  index_sha256: z.string().check(z.regex(/^[0-9a-fA-F]{64}$/, 'not a hex SHA-256')),
  accepted_at: z.string(),
}) satisfies z.ZodMiniType<FeedMemory>;

/**
 * The remembered state of one feed channel, or null when none was accepted yet. A malformed
 * `memory.json` throws StateCorruptError (ERR_STATE_CORRUPT naming it): forgetting the sequence
 * would reopen replay attacks.
 */
export async function getFeedMemory(stateDir: string, feedUrl: string, channel: string): Promise<FeedMemory | null> {
  const mem = await readJson(path.join(feedStateDir(stateDir, feedUrl, channel), 'memory.json'), FeedMemorySchema);
  return mem ? { ...mem, index_sha256: mem.index_sha256.toLowerCase() } : null;
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
    bytes = await readOwnFile(path.join(feedStateDir(stateDir, feedUrl, channel), 'index.json'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return sha256Hex(bytes) === mem.index_sha256 ? bytes : null;
}

/** The runtime state of a target nothing was recorded for yet. */
export function emptyRuntime(): RuntimeState {
  return { last_checked_at: null, last_error: null, available: null, settings: {}, held_version: null, rollout_pending: null };
}

/**
 * Settings as persisted: the shapes of SettingsPatch without the request limits of the API schema
 * (a list of skipped versions may grow past what one request may send).
 */
const PersistedSettingsSchema = z.object({
  channel: z.optional(z.string().check(z.minLength(1))),
  check_schedule: z.optional(z.nullable(z.string())),
  check_interval_s: z.optional(z.nullable(z.number().check(z.positive()))),
  maintenance_window: z.optional(z.nullable(z.object({
    days: z.array(z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'])),
    start: z.string(),
    end: z.string(),
    timezone: z.string(),
  }))),
  auto_download: z.optional(z.boolean()),
  auto_apply: z.optional(z.enum(['none', 'critical', 'all'])),
  paused_until: z.optional(z.nullable(z.string())),
  skip_versions: z.optional(z.array(z.string())),
}) satisfies z.ZodMiniType<SettingsPatch>;

/** `runtime.json`; missing fields take their defaults (older files lack some), unknown ones are refused. */
const RuntimeStateSchema = z.strictObject({
  last_checked_at: z._default(z.nullable(z.string()), null),
  last_error: z._default(z.nullable(z.object({ code: z.string(), message: z.string() })), null),
  available: z.pipe(z.optional(z.unknown()), z.transform((v) => v ?? null)),
  settings: z._default(PersistedSettingsSchema, {}),
  held_version: z._default(z.nullable(z.string().check(z.minLength(1), z.maxLength(256))), null),
  rollout_pending: z._default(z.nullable(z.strictObject({ version: z.string().check(z.minLength(1), z.maxLength(256)), percent: z.number().check(z.gte(0), z.lte(100)) })), null),
});

/** Copies the known fields (so a caller's extra properties never reach the file). */
function normalizeRuntime(r: RuntimeState): RuntimeState {
  const lastError: ErrorView | null = r.last_error ? { code: r.last_error.code, message: r.last_error.message } : null;
  const pending = r.rollout_pending ? { version: r.rollout_pending.version, percent: r.rollout_pending.percent } : null;
  return { last_checked_at: r.last_checked_at, last_error: lastError, available: r.available ?? null, settings: r.settings, held_version: r.held_version ?? null, rollout_pending: pending };
}

/**
 * One target's runtime state (defaults when nothing was recorded yet). A malformed
 * `runtime.json` throws StateCorruptError (ERR_STATE_CORRUPT naming it), never a silent reset.
 */
export async function readRuntime(stateDir: string, id: string): Promise<RuntimeState> {
  const file = path.join(targetStateDir(stateDir, id), 'runtime.json');
  return (await readJson(file, RuntimeStateSchema)) ?? emptyRuntime();
}

/**
 * `targets/<id>/available-digests.json`: the SHA-256 of every file of the newest available
 * release, for the download cache's pruning. runtime.json lists at most TARGET_VIEW_MAX_FILES of
 * that release's files (with `file_count`): it is read and rewritten several times by every
 * operation, and a release of 10,000 files would otherwise make it megabytes.
 */
export const AVAILABLE_DIGESTS_FILE = 'available-digests.json';

/** available-digests.json: `sha256` holds each distinct digest once. */
export interface AvailableDigests {
  version: string;
  sha256: string[];
}

/** Longest version available-digests.json records (UTF-16 units), as for `held_version`. */
const MAX_VERSION_CHARS = 256;

/**
 * Largest available-digests.json read, in bytes: one entry per file of the largest release
 * (`DEFAULT_LIMITS.maxManifestFiles`), each as `writeJsonDurable` lays it out (4 spaces, a quoted
 * 64-hex digest, a comma and a newline: 72 bytes), plus the version (each character escaped as
 * `\uXXXX` at worst) and the brackets. A larger file was not written by Upkeep: it is refused from
 * its size alone, like a damaged one (the digests are unknown and pruning keeps every blob).
 */
export const AVAILABLE_DIGESTS_MAX_BYTES = DEFAULT_LIMITS.maxManifestFiles * 72 + MAX_VERSION_CHARS * 6 + 1024;

const AvailableDigestsSchema = z.strictObject({
  version: z.string().check(z.minLength(1), z.maxLength(MAX_VERSION_CHARS)),
  sha256: z.array(z.string().check(z.regex(/^[0-9a-f]{64}$/))).check(z.maxLength(DEFAULT_LIMITS.maxManifestFiles)),
});

/** available-digests.json in `dir`; undefined when it is missing, too large, damaged or not a file. */
function readAvailableDigests(dir: string): Promise<AvailableDigests | undefined> {
  return readJson(path.join(dir, AVAILABLE_DIGESTS_FILE), AvailableDigestsSchema, { maxBytes: AVAILABLE_DIGESTS_MAX_BYTES }).catch(() => undefined);
}

/**
 * The release `runtime.json` records as available (`RuntimeState.available`: the last check's
 * ReleaseView, kept as plain JSON), or null when it records none or something without a string
 * `version`. The one reader of the offered release: the runner, the cache prune and the daemon
 * all go through it.
 */
export function availableRelease(available: unknown): ReleaseView | null {
  if (!available || typeof available !== 'object') return null;
  const a = available as Partial<ReleaseView>;
  return typeof a.version === 'string' ? (a as ReleaseView) : null;
}

/** The version and listed files of `available` as the checker stores it (a ReleaseView); null when it has none. */
function listedFiles(available: unknown): { version: string; files: unknown[]; count: number } | null {
  const a = availableRelease(available);
  const files: unknown = a?.files;
  if (!a || !Array.isArray(files)) return null;
  return { version: a.version, files, count: typeof a.file_count === 'number' ? a.file_count : files.length };
}

function digestsOf(files: unknown[]): string[] {
  const out = new Set<string>();
  for (const f of files) {
    const d = f && typeof f === 'object' ? (f as { sha256?: unknown }).sha256 : undefined;
    if (typeof d === 'string' && d !== '') out.add(d);
  }
  return [...out];
}

/**
 * The state as runtime.json keeps it: an available release of more than TARGET_VIEW_MAX_FILES
 * files is listed by its first ones and `file_count`, after every digest was durably written to
 * available-digests.json (rewritten only when they changed).
 */
async function persistAvailable(dir: string, next: RuntimeState): Promise<RuntimeState> {
  const a = listedFiles(next.available);
  if (!a || a.files.length <= TARGET_VIEW_MAX_FILES) return next;
  const sha256 = digestsOf(a.files);
  const file = path.join(dir, AVAILABLE_DIGESTS_FILE);
  const old = await readAvailableDigests(dir);
  if (!old || old.version !== a.version || old.sha256.length !== sha256.length || old.sha256.some((d, i) => d !== sha256[i])) {
    // The file only lets pruning remove blobs: when it cannot be written (a directory or another
    // non-file in its place), runtime.json is still written and availableDigests answers null
    // (the prune keeps every blob) instead of every check and apply failing.
    await writeJsonDurable(file, { version: a.version, sha256 } satisfies AvailableDigests).catch(() => undefined);
  }
  return { ...next, available: { ...(next.available as object), files: a.files.slice(0, TARGET_VIEW_MAX_FILES), file_count: a.count } };
}

/**
 * Every file digest of the release runtime.json records as available: from its own list when that
 * is whole, else from available-digests.json. Null when the digests are not known (that file is
 * missing, corrupt, larger than AVAILABLE_DIGESTS_MAX_BYTES or of another version: a crash
 * between its write and runtime.json's); an empty list when nothing is available.
 */
export async function availableDigests(stateDir: string, id: string, runtime: RuntimeState): Promise<string[] | null> {
  const a = listedFiles(runtime.available);
  if (!a) return [];
  if (a.files.length >= a.count) return digestsOf(a.files);
  const d = await readAvailableDigests(targetStateDir(stateDir, id));
  return d && d.version === a.version ? d.sha256 : null;
}

/** Per-file queue so read-modify-write updates inside one process never lose each other's changes. */
const queues = new Map<string, Promise<unknown>>();

/**
 * Applies `fn` to the target's runtime state and writes the result durably. `fn` may mutate its
 * argument or return a new state. Updates within this process are serialised per target.
 */
export async function updateRuntime(stateDir: string, id: string, fn: (cur: RuntimeState) => RuntimeState | void | Promise<RuntimeState | void>): Promise<RuntimeState> {
  const file = path.join(targetStateDir(stateDir, id), 'runtime.json');
  const prev = queues.get(file) ?? Promise.resolve();
  const run = prev.catch(() => undefined).then(async () => {
    const cur = await readRuntime(stateDir, id);
    const next = await persistAvailable(path.dirname(file), normalizeRuntime((await fn(cur)) ?? cur));
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
