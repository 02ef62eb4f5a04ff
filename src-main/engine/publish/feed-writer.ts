/**
 * Shared pieces of the publisher side (`upkeep release publish | rollout`): argument checks, signing
 * keys, path rules, reading/writing the signed channel index, and the feed-wide publish lock.
 * The layout and every field follow FEED-FORMAT.md (version 1).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { rcompare, valid as validSemver, validRange } from 'semver';
import {
  ChannelIndexSchema,
  INDEX_PAYLOAD_TYPE,
  type ChannelIndex,
  type IndexEntry,
} from '../../../src-shared/feed-schema';
import { NotFoundError, UpkeepError, UsageError, VerificationError } from '../../../src-shared/errors';
import { parsePrivateKey, type PrivateKey } from '../trust/keys';
import { signEnvelope, verifyEnvelope } from '../trust/dsse';
import { mkdirDurable, writeFileDurable } from '../fs/atomic';
import { acquireLock } from '../lock';
import { DEFAULT_LIMITS } from '../limits';

export const CHANNELS_DIR = 'channels';
export const MANIFESTS_DIR = 'manifests';
export const BLOBS_DIR = 'blobs/sha256';
export const DEFAULT_EXPIRES_IN_DAYS = 30;
const DAY_MS = 24 * 60 * 60 * 1000;
/** A channel name becomes a file name, so it is kept to a portable, URL-safe alphabet. */
const CHANNEL_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** An ISO 8601 UTC timestamp without milliseconds (`2026-11-20T00:00:00Z`). */
export function isoSeconds(d: Date): string {
  if (Number.isNaN(d.getTime())) throw new UsageError('ERR_USAGE', 'Invalid date');
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Feed-relative path of a version's manifest envelope. */
export function manifestRelPath(version: string): string {
  return `${MANIFESTS_DIR}/${version}.json`;
}

/** Absolute path of a channel's index envelope. */
export function channelIndexPath(feedDir: string, channel: string): string {
  return path.join(feedDir, CHANNELS_DIR, `${channel}.json`);
}

/**
 * Accepts only a strict SemVer 2.0 version (no leading `v`, no loose forms). Build metadata
 * (`+...`) is refused too: it takes no part in precedence, so `1.0.0+a` and `1.0.0+b` could not be
 * ordered or told apart by clients. Throws ERR_USAGE.
 */
export function assertVersion(version: string): string {
  if (typeof version === 'string' && version.includes('+') && validSemver(version) !== null) {
    throw new UsageError('ERR_USAGE', `Version "${version}" has build metadata ("+..."), which does not order releases; publish "${version.split('+')[0]}" and pass the build id with --commit`);
  }
  if (typeof version !== 'string' || validSemver(version) !== version) {
    throw new UsageError('ERR_USAGE', `Version "${String(version)}" is not a strict SemVer 2.0 version (e.g. 1.2.3 or 1.2.3-beta.1)`);
  }
  return version;
}

/** Accepts a channel name usable as a file name (letters, digits, `.`, `_`, `-`). Throws ERR_USAGE. */
export function assertChannel(channel: string): string {
  if (typeof channel !== 'string' || !CHANNEL_RE.test(channel) || channel.endsWith('.')) {
    throw new UsageError('ERR_USAGE', `Channel "${String(channel)}" must be 1-64 letters, digits, ".", "_" or "-" and start with a letter or digit`);
  }
  return channel;
}

/** Accepts a non-empty product name without control characters. Throws ERR_USAGE. */
export function assertProduct(product: string): string {
  // eslint-disable-next-line no-control-regex
  if (typeof product !== 'string' || product.trim() === '' || product !== product.trim() || /[\u0000-\u001f\u007f]/.test(product) || product.length > 200) {
    throw new UsageError('ERR_USAGE', `Product "${String(product)}" must be a non-empty name without surrounding spaces or control characters`);
  }
  return product;
}

/** Accepts a rollout percentage in 0..100. Throws ERR_USAGE. */
export function assertPercent(percent: number): number {
  if (typeof percent !== 'number' || !Number.isFinite(percent) || percent < 0 || percent > 100) {
    throw new UsageError('ERR_USAGE', `Rollout percent must be a number from 0 to 100, got ${String(percent)}`);
  }
  return percent;
}

/** Accepts a SemVer range (e.g. `>=1.0.0`). Throws ERR_USAGE. */
export function assertRange(range: string): string {
  if (typeof range !== 'string' || range.trim() === '' || validRange(range) === null) {
    throw new UsageError('ERR_USAGE', `min_upgrade_from "${String(range)}" is not a valid SemVer range (e.g. ">=1.0.0")`);
  }
  return range;
}

/** The expiry date `days` after `now`; days must be positive and at most ten years. Throws ERR_USAGE. */
export function expiryFrom(now: Date, days: number | undefined): string {
  const d = days ?? DEFAULT_EXPIRES_IN_DAYS;
  if (typeof d !== 'number' || !Number.isFinite(d) || d <= 0 || d > 3660) {
    throw new UsageError('ERR_USAGE', `Index expiry must be a number of days above 0 and at most 3660, got ${String(d)}`);
  }
  return isoSeconds(new Date(now.getTime() + Math.round(d * DAY_MS)));
}

/**
 * Reads and parses every private key file given (PKCS#8 PEM, Ed25519), dropping duplicates of the
 * same key. Throws ERR_USAGE (none given, unreadable) or ERR_KEY_INVALID (not an Ed25519 key).
 */
export async function loadSigningKeys(keyPaths: string[]): Promise<PrivateKey[]> {
  if (!Array.isArray(keyPaths) || keyPaths.length === 0) {
    throw new UsageError('ERR_USAGE', 'At least one signing key is needed (--key path/to/upkeep.key)');
  }
  const keys = new Map<string, PrivateKey>();
  for (const p of keyPaths) {
    let pem: Buffer;
    try {
      pem = await fsp.readFile(p);
    } catch (err) {
      throw new UsageError('ERR_USAGE', `Cannot read signing key ${p}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const key = parsePrivateKey(pem);
    if (!keys.has(key.publicKey.keyid)) keys.set(key.publicKey.keyid, key);
  }
  return [...keys.values()];
}

/** Releases sorted by SemVer, newest first (invalid versions, which a foreign tool may have written, last). */
export function sortReleases(entries: IndexEntry[]): IndexEntry[] {
  return [...entries].sort((a, b) => {
    const va = validSemver(a.version);
    const vb = validSemver(b.version);
    if (va && vb) return rcompare(va, vb);
    if (va) return -1;
    if (vb) return 1;
    return a.version < b.version ? -1 : a.version > b.version ? 1 : 0;
  });
}

/**
 * Reads a channel's existing index, if any, and checks it is ours: at least one of `keys` must
 * have a valid signature on it, and it must parse as a ChannelIndex of that channel.
 * Returns undefined when the channel has no index yet. Throws ERR_SIGNATURE_INVALID (signed by
 * someone else), ERR_METADATA_INVALID (unreadable) or ERR_PAYLOAD_TYPE.
 */
export async function readChannelIndex(feedDir: string, channel: string, keys: PrivateKey[]): Promise<ChannelIndex | undefined> {
  const file = channelIndexPath(feedDir, channel);
  let bytes: Buffer;
  try {
    const st = await fsp.lstat(file);
    if (!st.isFile()) throw new UsageError('ERR_USAGE', `${file} is not a regular file`);
    if (st.size > DEFAULT_LIMITS.maxIndexBytes) {
      throw new VerificationError('ERR_METADATA_INVALID', `${file} is larger than ${DEFAULT_LIMITS.maxIndexBytes} bytes`);
    }
    bytes = await fsp.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let payload: Buffer;
  try {
    payload = verifyEnvelope(bytes, INDEX_PAYLOAD_TYPE, keys.map((k) => k.publicKey), 1, `channel index ${file}`).payload;
  } catch (err) {
    if (err instanceof UpkeepError && (err.code === 'ERR_SIGNATURE_INVALID' || err.code === 'ERR_SIGNATURE_THRESHOLD')) {
      throw new VerificationError(
        'ERR_SIGNATURE_INVALID',
        `The existing channel index ${file} is not signed by any of the given keys (keyids ${keys.map((k) => k.publicKey.keyid.slice(0, 16)).join(', ')}); refusing to overwrite a feed that is not yours`,
        { path: file },
      );
    }
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new VerificationError('ERR_METADATA_INVALID', `The channel index ${file} payload is not JSON`);
  }
  const parsed = ChannelIndexSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new VerificationError('ERR_METADATA_INVALID', `The channel index ${file} is not a valid ChannelIndex: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'bad shape'}`);
  }
  if (parsed.data.channel !== channel) {
    throw new VerificationError('ERR_METADATA_INVALID', `The channel index ${file} is for channel "${parsed.data.channel}", not "${channel}"`);
  }
  return parsed.data;
}

/** Reads an existing index for a command that needs one; throws ERR_NO_RELEASE when the channel has none. */
export async function requireChannelIndex(feedDir: string, channel: string, keys: PrivateKey[]): Promise<ChannelIndex> {
  const index = await readChannelIndex(feedDir, channel, keys);
  if (!index) throw new NotFoundError('ERR_NO_RELEASE', `Channel "${channel}" has no index in ${feedDir} (nothing published yet)`);
  return index;
}

/**
 * Signs `index` (releases sorted newest first) with every key and atomically replaces the channel's
 * index file. Returns the bytes written.
 */
export async function writeChannelIndex(feedDir: string, index: ChannelIndex, keys: PrivateKey[]): Promise<Buffer> {
  const ordered: ChannelIndex = { ...index, releases: sortReleases(index.releases) };
  ChannelIndexSchema.parse(ordered);
  const payload = Buffer.from(JSON.stringify(ordered, null, 2), 'utf8');
  const bytes = Buffer.from(JSON.stringify(signEnvelope(INDEX_PAYLOAD_TYPE, payload, keys), null, 2) + '\n', 'utf8');
  await writeFileDurable(channelIndexPath(feedDir, index.channel), bytes, 0o644, { followLink: true });
  return bytes;
}

/** How long a publish waits for another one to finish before giving up with ERR_BUSY, in ms. */
export const PUBLISH_LOCK_WAIT_MS = 2_000;

/**
 * Runs `fn` while holding the feed-wide publish lock (the file `.upkeep-publish.lock` in the feed,
 * taken with the engine's one lock module, lock.ts), so two publishers cannot hand out the same
 * index sequence. Waits up to PUBLISH_LOCK_WAIT_MS for a running publish; throws ERR_BUSY naming
 * it after that. A lock left by a publisher that died on this host is taken over at once.
 *
 * Not proper-lockfile: its staleness is an mtime the holder must keep refreshing, so a crashed
 * publisher blocked the feed for the stale delay and a slow one could lose its lock mid-write;
 * lock.ts decides staleness from the holder's process instead, like every other lock of Upkeep.
 */
export async function withFeedLock<T>(feedDir: string, fn: () => Promise<T>): Promise<T> {
  await mkdirDurable(feedDir);
  const lock = await acquireLock(
    path.join(feedDir, '.upkeep-publish.lock'),
    { actor: 'publisher', opId: 'publish', waitMs: PUBLISH_LOCK_WAIT_MS },
    { label: `the feed ${feedDir}`, details: { feed: feedDir } },
  );
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
