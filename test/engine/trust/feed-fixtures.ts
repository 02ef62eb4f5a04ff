/**
 * Builders for signed feed documents used by the trust tests: real Ed25519 keys (keys.ts) and real
 * DSSE envelopes (dsse.ts), so every test goes through the same bytes a feed would serve.
 */
import { createHash } from 'node:crypto';
import { INDEX_PAYLOAD_TYPE, MANIFEST_PAYLOAD_TYPE, type IndexEntry } from '../../../src-shared/feed-schema';
import { signEnvelope } from '../../../src-main/engine/trust/dsse';
import { formatPublicKey, generateKeyPair, parsePrivateKey, type PrivateKey } from '../../../src-main/engine/trust/keys';
import { parseTrust, type Trust } from '../../../src-main/engine/trust/feed-checks';

export const NOW = new Date('2026-06-01T00:00:00Z');

/** A fresh Ed25519 private key. */
export function newKey(): PrivateKey {
  return parsePrivateKey(generateKeyPair().privatePem);
}

/** Trust in the public halves of `keys`. */
export function trustIn(keys: PrivateKey[], threshold = 1): Trust {
  return parseTrust({ keys: keys.map((k) => formatPublicKey(k.publicKey.raw)), threshold });
}

/** The envelope file bytes of `payload` (object → JSON, string → UTF-8) signed by `keys`. */
export function signedBytes(payloadType: string, payload: unknown, keys: PrivateKey[]): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(JSON.stringify(payload), 'utf8');
  return Buffer.from(JSON.stringify(signEnvelope(payloadType, body, keys), null, 2), 'utf8');
}

export function signedIndex(payload: unknown, keys: PrivateKey[]): Buffer {
  return signedBytes(INDEX_PAYLOAD_TYPE, payload, keys);
}

export function signedManifest(payload: unknown, keys: PrivateKey[]): Buffer {
  return signedBytes(MANIFEST_PAYLOAD_TYPE, payload, keys);
}

export function hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A valid ChannelIndex payload for product "demo", channel "stable". */
export function indexPayload(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schema: 'upkeep.index/1',
    product: 'demo',
    channel: 'stable',
    sequence: 12,
    expires: '2026-12-31T00:00:00Z',
    releases: [
      { version: '1.0.0', manifest: 'manifests/1.0.0.json', sha256: 'a'.repeat(64), size: 1000 },
      { version: '1.1.0', manifest: 'manifests/1.1.0.json', sha256: 'b'.repeat(64), size: 2345, is_critical: false, rollout: { percent: 25, started_at: '2026-05-20T00:00:00Z' } },
    ],
    ...overrides,
  };
}

/** A valid ReleaseManifest payload for demo 1.1.0. */
export function manifestPayload(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schema: 'upkeep.manifest/1',
    product: 'demo',
    version: '1.1.0',
    tag_name: 'v1.1.0',
    channel: 'stable',
    released_at: '2026-05-20T00:00:00Z',
    release_notes: "## What's new\n- faster",
    is_critical: false,
    min_upgrade_from: '>=1.0.0',
    migrations_required: false,
    breaking_changes: [],
    build_commit: '0a1b2c3',
    files: [
      { path: 'bin/demo', type: 'executable', sha256: 'c'.repeat(64), size: 1048576, mode: 0o755, platform: 'linux', arch: 'x64', url: '../blobs/sha256/' + 'c'.repeat(64) },
      { path: 'share/readme.txt', type: 'data', sha256: 'd'.repeat(64), size: 10, url: 'https://cdn.example.com/readme.txt' },
    ],
    ...overrides,
  };
}

/** The index entry a correct index would list for these manifest bytes. */
export function entryFor(bytes: Uint8Array, version = '1.1.0'): IndexEntry {
  return { version, manifest: `manifests/${version}.json`, sha256: hex(bytes), size: bytes.length, is_critical: false };
}

/** The stable error code `fn` throws, or 'no error'. */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code ?? `untyped: ${String(err)}`;
  }
  return 'no error';
}
