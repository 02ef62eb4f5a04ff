/**
 * An in-memory native feed behind the engine's `Fetcher` seam (the idea of python-tuf's
 * RepositorySimulator): signed channel indexes, manifests and blobs kept in a map, served without
 * sockets or files, with hooks to hold a transfer, corrupt a blob or count requests. Engine unit
 * tests run the real runner, feed checks, cache and apply over it; the real-server suites stay.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { NotFoundError, UpkeepError, VerificationError } from '../../src-shared/errors';
import type { DownloadOptions } from '../../src-main/engine/net/download';
import type { FetchOptions, FetchResult, Fetcher } from '../../src-main/engine/net/fetcher';
import { envelope, makeKey, sha256, type TestKey } from './feed-builder';
import { INDEX_PAYLOAD_TYPE, MANIFEST_PAYLOAD_TYPE } from '../../src-shared/feed-schema';

export const SIM_ROOT = 'https://feed.sim.example/demo/';

interface Entry {
  version: string;
  manifest: string;
  sha256: string;
  size: number;
  is_critical: boolean;
  rollout?: { percent: number };
}

export class FeedSimulator implements Fetcher {
  readonly key: TestKey = makeKey();
  private readonly docs = new Map<string, Buffer>();
  private readonly entries: Entry[] = [];
  private sequence = 0;
  /** Every URL asked for, in order. */
  readonly requests: string[] = [];
  /** Awaited before a blob transfer starts (hold it to test cancel); receives the URL. */
  holdDownload: ((url: string, signal: AbortSignal | undefined) => Promise<void>) | null = null;

  /** Config `trust` block for the simulator's key. */
  trust(): { keys: string[]; threshold: number } {
    return { keys: [this.key.line], threshold: 1 };
  }

  /** Publishes a signed release of `files` and a new channel index (sequence + 1). */
  publish(version: string, files: Record<string, string>, o: { critical?: boolean; over?: Record<string, unknown> } = {}): void {
    const list = Object.entries(files).map(([p, data]) => {
      const bytes = Buffer.from(data);
      const hex = sha256(bytes);
      this.docs.set(`${SIM_ROOT}blobs/sha256/${hex}`, bytes);
      return { path: p, type: 'file', mode: 0o644, sha256: hex, size: bytes.length, url: `../blobs/sha256/${hex}` };
    });
    const payload = {
      schema: 'upkeep.manifest/1', product: 'demo', version, tag_name: `v${version}`, channel: 'stable',
      released_at: '2026-11-20T00:00:00Z', release_notes: `notes ${version}`, is_critical: o.critical ?? false, files: list, ...(o.over ?? {}),
    };
    const bytes = Buffer.from(JSON.stringify(envelope(payload, [this.key], MANIFEST_PAYLOAD_TYPE)));
    const rel = `manifests/${version}.json`;
    this.docs.set(SIM_ROOT + rel, bytes);
    this.entries.push({ version, manifest: rel, sha256: sha256(bytes), size: bytes.length, is_critical: o.critical ?? false });
    this.sequence += 1;
    const index = { schema: 'upkeep.index/1', product: 'demo', channel: 'stable', sequence: this.sequence, expires: '2099-01-01T00:00:00Z', releases: this.entries };
    this.docs.set(`${SIM_ROOT}channels/stable.json`, Buffer.from(JSON.stringify(envelope(index, [this.key], INDEX_PAYLOAD_TYPE))));
  }

  /** Replaces the bytes served for every blob of `data`'s digest-named URL with `bad` (same length). */
  corrupt(data: string, bad: string): void {
    this.docs.set(`${SIM_ROOT}blobs/sha256/${sha256(Buffer.from(data))}`, Buffer.from(bad));
  }

  /** How many requests asked for `suffix` (e.g. 'channels/stable.json'). */
  count(suffix: string): number {
    return this.requests.filter((u) => u.endsWith(suffix)).length;
  }

  async fetchBytes(url: string, o: FetchOptions): Promise<FetchResult> {
    this.requests.push(url);
    if (o.signal?.aborted) throw o.signal.reason;
    const bytes = this.docs.get(url);
    if (!bytes) throw new NotFoundError('ERR_NOT_FOUND', `Not found: ${url}`, { url, status: 404 });
    if (bytes.length > o.maxBytes) throw new VerificationError('ERR_SIZE_MISMATCH', `${url} is larger than ${o.maxBytes} bytes`);
    return { notModified: false, bytes: Buffer.from(bytes), etag: null, lastModified: null, url };
  }

  async download(o: DownloadOptions): Promise<void> {
    this.requests.push(o.url);
    if (this.holdDownload) await this.holdDownload(o.url, o.signal);
    if (o.signal?.aborted) throw o.signal.reason ?? new UpkeepError('ERR_CANCELLED', 'Cancelled');
    const bytes = this.docs.get(o.url);
    if (!bytes) throw new NotFoundError('ERR_NOT_FOUND', `Not found: ${o.url}`, { url: o.url, status: 404 });
    if (bytes.length !== o.size) throw new VerificationError('ERR_SIZE_MISMATCH', `${o.url}: expected ${o.size} bytes, got ${bytes.length}`);
    const algorithm = o.algorithm ?? 'sha256';
    if (createHash(algorithm).update(bytes).digest('hex') !== o.sha256.toLowerCase()) throw new VerificationError('ERR_HASH_MISMATCH', `${algorithm} of ${o.url} does not match`);
    await fsp.mkdir(path.dirname(o.partial), { recursive: true });
    await fsp.writeFile(o.partial, bytes);
    o.onBytes?.(bytes.length);
    await fsp.mkdir(path.dirname(o.dest), { recursive: true });
    await fsp.rename(o.partial, o.dest);
  }
}
