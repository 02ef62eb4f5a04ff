/**
 * Builds native feeds by hand (including malicious ones) for tests: blobs, manifests and channel
 * indexes signed with any keys and payload types, plus a config and an Engine over them.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { generateKeyPair, parsePrivateKey, type PrivateKey } from '../../src-main/engine/trust/keys';
import { signEnvelope } from '../../src-main/engine/trust/dsse';
import { INDEX_PAYLOAD_TYPE, MANIFEST_PAYLOAD_TYPE } from '../../src-shared/feed-schema';
import { parseConfig } from '../../src-main/engine/config/load';
import { OperationRunner as Engine } from '../../src-main/engine/runner/operation-runner';
import { DEFAULT_LIMITS, type Limits } from '../../src-main/engine/limits';

export interface TestKey {
  priv: PrivateKey;
  line: string;
}

export function makeKey(): TestKey {
  const k = generateKeyPair();
  return { priv: parsePrivateKey(k.privatePem), line: k.publicLine };
}

export const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

export class FeedBuilder {
  constructor(readonly dir: string) {}

  /** Stores bytes as a content-addressed blob; returns its manifest file fields. */
  async blob(data: string | Buffer): Promise<{ sha256: string; size: number; url: string }> {
    const bytes = Buffer.from(data);
    const hex = sha256(bytes);
    const file = path.join(this.dir, 'blobs', 'sha256', hex);
    await fsp.mkdir(path.dirname(file), { recursive: true });
    await fsp.writeFile(file, bytes);
    return { sha256: hex, size: bytes.length, url: `../blobs/sha256/${hex}` };
  }

  /** Signs and writes manifests/<name>.json; returns the index entry fields. */
  async manifest(name: string, payload: unknown, keys: TestKey[], payloadType = MANIFEST_PAYLOAD_TYPE): Promise<{ manifest: string; sha256: string; size: number }> {
    const bytes = Buffer.from(JSON.stringify(envelope(payload, keys, payloadType), null, 2));
    const rel = `manifests/${name}.json`;
    await fsp.mkdir(path.join(this.dir, 'manifests'), { recursive: true });
    await fsp.writeFile(path.join(this.dir, rel), bytes);
    return { manifest: rel, sha256: sha256(bytes), size: bytes.length };
  }

  /** Signs and writes channels/<channel>.json. */
  async index(channel: string, payload: unknown, keys: TestKey[], payloadType = INDEX_PAYLOAD_TYPE): Promise<void> {
    await fsp.mkdir(path.join(this.dir, 'channels'), { recursive: true });
    await fsp.writeFile(path.join(this.dir, 'channels', `${channel}.json`), JSON.stringify(envelope(payload, keys, payloadType), null, 2));
  }

  /** A well-formed release: blobs + manifest (payload overridable) + returns its index entry. */
  async release(version: string, files: Record<string, string>, keys: TestKey[], over: Record<string, unknown> = {}, fileOver: (f: any) => any = (f) => f) {
    const list = [];
    for (const [p, data] of Object.entries(files)) list.push(fileOver({ path: p, type: 'file', mode: 0o644, ...(await this.blob(data)) }));
    const payload = {
      schema: 'upkeep.manifest/1', product: 'demo', version, tag_name: `v${version}`, channel: 'stable',
      released_at: '2026-11-20T00:00:00Z', release_notes: `notes ${version}`, is_critical: false, files: list, ...over,
    };
    const m = await this.manifest(`${version}${over.__name ?? ''}`, payload, keys);
    return { version, ...m, is_critical: false };
  }
}

/** A DSSE envelope over the payload's JSON bytes. */
export function envelope(payload: unknown, keys: TestKey[], payloadType: string) {
  return signEnvelope(payloadType, Buffer.from(JSON.stringify(payload)), keys.map((k) => k.priv));
}

export function indexPayload(sequence: number, releases: unknown[], over: Record<string, unknown> = {}) {
  return { schema: 'upkeep.index/1', product: 'demo', channel: 'stable', sequence, expires: '2099-01-01T00:00:00Z', releases, ...over };
}

/** An Engine over a one-target config in `dir` (state, install inside it). */
export function engineFor(dir: string, feedDir: string, trust: { keys: string[]; threshold: number }, extra: string[] = [], limits?: Partial<Limits>): Engine {
  const text = [
    'state_dir: ./state',
    'targets:',
    '  - id: demo',
    '    kind: files',
    '    install_dir: ./install',
    '    product: demo',
    `    feed: { url: ${JSON.stringify(feedDir)} }`,
    `    trust: { keys: ${JSON.stringify(trust.keys)}, threshold: ${trust.threshold} }`,
    ...extra.map((l) => `    ${l}`),
  ].join('\n');
  const loaded = parseConfig(text, { file: path.join(dir, 'upkeep.yaml'), dir, env: {} });
  return new Engine({ loaded, actor: 'cli', limits: { ...DEFAULT_LIMITS, retries: 1, backoffBaseMs: 5, maxBackoffMs: 10, ...limits } });
}
