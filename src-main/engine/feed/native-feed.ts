/**
 * Client of Upkeep's native signed feed: fetches the channel index and manifests and runs every
 * check of FEED-FORMAT.md "Client checks, in order". Network at the edges (net/), trust decisions
 * in pure functions (trust/), memory of accepted sequences in state/.
 */
import type { ChannelIndex, IndexEntry, ReleaseManifest } from '../../../src-shared/feed-schema';
import { NotFoundError, UpkeepError } from '../../../src-shared/errors';
import type { Fetcher } from '../net/fetcher';
import { defaultFetcher } from '../net/default-fetcher';
import { feedRootUrl, resolveFeedUrl } from '../net/url-policy';
import { verifyIndex, verifyManifest, type Trust } from '../trust/feed-checks';
import { sha256Hex } from '../trust/digest';
import { feedKey, getFeedMemory, setFeedMemory, getCachedIndex } from '../state/store';
import type { Limits } from '../limits';
import { acquireTargetLock, type TargetLock } from '../lock';
import { clockFrom } from '../clock';

export interface FeedTarget {
  id: string;
  product: string;
  channel: string;
  feedUrl: string;
  allowInsecureHttp: boolean;
  trust: Trust;
}

export interface FeedContext {
  stateDir: string;
  limits: Limits;
  now: () => Date;
  signal?: AbortSignal;
  /** Network edge (default: the production fetcher). */
  fetcher?: Fetcher;
}

export interface LoadedIndex {
  index: ChannelIndex;
  feedRoot: string;
  /** True when the server answered 304 and the remembered bytes were re-verified. */
  notModified: boolean;
}

/**
 * The feed root as a URL whose path ends in '/', so relative references resolve inside it; its
 * query (a token or signed URL) is kept and sent on every derived request (net/url-policy.ts).
 */
export function feedRoot(feedUrl: string, baseDir?: string): string {
  return feedRootUrl(feedUrl, baseDir);
}

/**
 * Fetches (conditionally) and verifies the channel index, then remembers its sequence.
 * Throws the first failing check's error; the remembered sequence never goes down.
 */
export async function loadIndex(t: FeedTarget, ctx: FeedContext): Promise<LoadedIndex> {
  const root = feedRoot(t.feedUrl);
  // One reader of a feed channel's memory at a time, across processes: a check that fetched an
  // older index just before another process accepted a newer one must not lower (or spuriously
  // refuse) the remembered sequence.
  const lock = await acquireFeedLock(ctx, root, t.channel);
  try {
    return await loadIndexLocked(t, root, ctx);
  } finally {
    await lock.release();
  }
}

/** The cross-process lock of one feed channel's memory; waits (bounded) while another process holds it. */
function acquireFeedLock(ctx: FeedContext, root: string, channel: string): Promise<TargetLock> {
  return acquireTargetLock(ctx.stateDir, `feed-${feedKey(root, channel)}`, {
    actor: 'feed', opId: 'feed-memory', waitMs: ctx.limits.metadataTimeoutMs, clock: clockFrom(ctx.now), ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
}

async function loadIndexLocked(t: FeedTarget, root: string, ctx: FeedContext): Promise<LoadedIndex> {
  const url = resolveFeedUrl(root, `channels/${encodeURIComponent(t.channel)}.json`);
  const memory = await getFeedMemory(ctx.stateDir, root, t.channel);
  let cached = memory ? await getCachedIndex(ctx.stateDir, root, t.channel) : null;
  let res;
  try {
    res = await (ctx.fetcher ?? defaultFetcher).fetchBytes(url, {
      maxBytes: ctx.limits.maxIndexBytes,
      etag: cached ? memory?.etag ?? null : null,
      lastModified: cached ? memory?.last_modified ?? null : null,
      allowInsecureHttp: t.allowInsecureHttp,
      limits: ctx.limits,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
  } catch (err) {
    if (err instanceof UpkeepError && err.code === 'ERR_NOT_FOUND') {
      throw new NotFoundError('ERR_NO_RELEASE', `The feed has no channel "${t.channel}" (${url})`, { url });
    }
    throw err;
  }
  let bytes: Buffer;
  let notModified = false;
  if (res.notModified) {
    if (!cached) throw new UpkeepError('ERR_DOWNLOAD_FAILED', `The feed answered "not modified" but no copy of ${url} is kept`);
    bytes = cached;
    notModified = true;
  } else {
    bytes = res.bytes;
    cached = null;
  }
  const index = verifyIndex(bytes, {
    trust: t.trust,
    product: t.product,
    channel: t.channel,
    rememberedSequence: memory?.sequence ?? null,
    now: ctx.now(),
  });
  if (!notModified || !memory || memory.sequence !== index.sequence) {
    await setFeedMemory(ctx.stateDir, root, t.channel, {
      sequence: index.sequence,
      etag: res.notModified ? memory?.etag ?? null : res.etag,
      last_modified: res.notModified ? memory?.last_modified ?? null : res.lastModified,
      index_sha256: sha256Hex(bytes),
      accepted_at: ctx.now().toISOString(),
    }, bytes);
  }
  return { index, feedRoot: root, notModified };
}

export interface LoadedManifest {
  manifest: ReleaseManifest;
  bytes: Buffer;
  sha256: string;
  url: string;
  entry: IndexEntry;
}

/** Fetches one manifest named by the index and verifies it against the entry (size, hash first). */
export async function loadManifest(t: FeedTarget, root: string, entry: IndexEntry, ctx: FeedContext): Promise<LoadedManifest> {
  const url = resolveFeedUrl(root, entry.manifest);
  let res;
  try {
    res = await (ctx.fetcher ?? defaultFetcher).fetchBytes(url, {
      maxBytes: entry.size,
      allowInsecureHttp: t.allowInsecureHttp,
      limits: ctx.limits,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
  } catch (err) {
    if (err instanceof UpkeepError && err.code === 'ERR_NOT_FOUND') {
      throw new NotFoundError('ERR_MANIFEST_NOT_FOUND', `Manifest not found for version: ${entry.version}`, { url, version: entry.version });
    }
    throw err;
  }
  if (res.notModified) throw new UpkeepError('ERR_DOWNLOAD_FAILED', `Unexpected "not modified" for ${url}`);
  const manifest = verifyManifest(res.bytes, { entry, trust: t.trust, product: t.product, now: ctx.now() });
  return { manifest, bytes: res.bytes, sha256: sha256Hex(res.bytes), url: res.url ?? url, entry };
}
