/**
 * Malicious feeds against a real install: every case must fail with its own stable error code
 * AND leave the installed tree byte-identical (and the recorded version unchanged).
 */
import { describe, it, expect, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { FeedBuilder, makeKey, indexPayload, engineFor, type TestKey } from '../helpers/feed-builder';
import { snapshot, tempDir } from '../helpers/tree';
import { UpkeepError } from '../../src-shared/errors';
import { INDEX_PAYLOAD_TYPE } from '../../src-shared/feed-schema';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await fsp.rm(d, { recursive: true, force: true });
});

const V1 = { 'bin/app': 'app 1.0.0', 'lib/core.txt': 'core 1.0.0' };
const V2 = { 'bin/app': 'app 1.1.0', 'lib/core.txt': 'core 1.1.0' };

interface Setup {
  dir: string;
  feed: FeedBuilder;
  key: TestKey;
  entry1: Awaited<ReturnType<FeedBuilder['release']>>;
  install: string;
  before: Awaited<ReturnType<typeof snapshot>>;
}

/** Installs 1.0.0 from a legitimate feed (index sequence 1) and snapshots the install dir. */
async function setup(trust?: { keys: TestKey[]; threshold: number }, extraConfig: string[] = []): Promise<Setup & { engine: ReturnType<typeof engineFor> }> {
  const dir = await tempDir('upkeep-mal-');
  dirs.push(dir);
  const feed = new FeedBuilder(path.join(dir, 'feed'));
  const key = trust?.keys[0] ?? makeKey();
  const signers = trust?.keys ?? [key];
  const entry1 = await feed.release('1.0.0', V1, signers);
  await feed.index('stable', indexPayload(1, [entry1]), signers);
  const engine = engineFor(dir, feed.dir, { keys: signers.map((k) => k.line), threshold: trust?.threshold ?? 1 }, extraConfig);
  const r = await engine.apply('demo', { version: '1.0.0' });
  expect(r.version).toBe('1.0.0');
  const install = path.join(dir, 'install');
  return { dir, feed, key, entry1, install, before: await snapshot(install), engine };
}

async function expectRefused(s: Setup & { engine: ReturnType<typeof engineFor> }, code: string, o: { version?: string } = {}) {
  const err = await s.engine.apply('demo', o).then(() => null, (e) => e);
  expect(err, `expected ${code}`).toBeInstanceOf(UpkeepError);
  expect((err as UpkeepError).code).toBe(code);
  expect(await snapshot(s.install)).toEqual(s.before);
  expect((await s.engine.view('demo')).current_version).toBe('1.0.0');
}

async function withManifestFiles(s: Setup, files: Array<{ path: string; data?: string; mode?: number }>) {
  const list = [];
  for (const f of files) list.push({ path: f.path, type: 'file', ...(f.mode !== undefined ? { mode: f.mode } : {}), ...(await s.feed.blob(f.data ?? `x ${f.path}`)) });
  const payload = { schema: 'upkeep.manifest/1', product: 'demo', version: '1.1.0', channel: 'stable', released_at: '2026-11-20T00:00:00Z', files: list };
  const m = await s.feed.manifest('1.1.0', payload, [s.key]);
  await s.feed.index('stable', indexPayload(2, [{ version: '1.1.0', ...m }, s.entry1]), [s.key]);
}

describe('malicious manifests paths', () => {
  const cases: Array<[string, Array<{ path: string }>]> = [
    ['traversal', [{ path: '../evil' }]],
    ['nested traversal', [{ path: 'bin/../../evil' }]],
    ['absolute path', [{ path: '/etc/passwd' }]],
    ['drive letter', [{ path: 'C:/Windows/evil.dll' }]],
    ['backslash', [{ path: 'bin\\evil' }]],
    ['duplicate paths', [{ path: 'bin/app' }, { path: 'bin/app' }]],
    ['case collision', [{ path: 'Bin/App' }, { path: 'bin/app' }]],
  ];
  it.each(cases)('%s => ERR_UNSAFE_PATH, install untouched', async (_name, files) => {
    const s = await setup();
    await withManifestFiles(s, files);
    await expectRefused(s, 'ERR_UNSAFE_PATH');
  });

  it('a symlink in the install dir pointing outside => ERR_UNSAFE_PATH, outside untouched', async () => {
    const s = await setup();
    const outside = path.join(s.dir, 'outside');
    await fsp.mkdir(outside);
    await fsp.writeFile(path.join(outside, 'keep.txt'), 'keep');
    await fsp.symlink(outside, path.join(s.install, 'plugins'));
    s.before = await snapshot(s.install);
    await withManifestFiles(s, [{ path: 'bin/app' }, { path: 'plugins/evil.so' }]);
    await expectRefused(s, 'ERR_UNSAFE_PATH');
    expect(await fsp.readdir(outside)).toEqual(['keep.txt']);
  });
});

describe('symbolic link entries', () => {
  async function withLinks(s: Setup, links: Array<{ path: string; target: string }>) {
    const list: unknown[] = [{ path: 'bin/app', type: 'file', ...(await s.feed.blob('app 1.1.0')) }, { path: 'lib/real.so', type: 'file', ...(await s.feed.blob('real')) }];
    for (const l of links) list.push({ path: l.path, type: 'symlink', target: l.target });
    const payload = { schema: 'upkeep.manifest/1', product: 'demo', version: '1.1.0', channel: 'stable', released_at: '2026-11-20T00:00:00Z', files: list };
    const m = await s.feed.manifest('1.1.0', payload, [s.key]);
    await s.feed.index('stable', indexPayload(2, [{ version: '1.1.0', ...m }, s.entry1]), [s.key]);
  }
  const escapes: Array<[string, Array<{ path: string; target: string }>]> = [
    ['a target climbing out', [{ path: 'lib/evil', target: '../../etc/passwd' }]],
    ['an absolute target', [{ path: 'lib/evil', target: '/etc/passwd' }]],
    ['a chain through another link of the release', [{ path: 'up', target: '..' }, { path: 'lib/evil', target: '../up/outside' }]],
    ['a loop', [{ path: 'a', target: 'b' }, { path: 'b', target: 'a/x' }]],
  ];
  it.each(escapes)('%s => ERR_UNSAFE_PATH, install untouched', async (_name, links) => {
    const s = await setup();
    await withLinks(s, links);
    await expectRefused(s, 'ERR_UNSAFE_PATH');
  });

  it('a link entry with sha256/url is not a valid manifest', async () => {
    const s = await setup();
    const payload = { schema: 'upkeep.manifest/1', product: 'demo', version: '1.1.0', channel: 'stable', released_at: '2026-11-20T00:00:00Z', files: [{ path: 'lib/x', type: 'symlink', target: 'y', ...(await s.feed.blob('y')) }] };
    const m = await s.feed.manifest('1.1.0', payload, [s.key]);
    await s.feed.index('stable', indexPayload(2, [{ version: '1.1.0', ...m }, s.entry1]), [s.key]);
    await expectRefused(s, 'ERR_METADATA_INVALID');
  });

  it('installs links that stay inside, as links, and rolls them back', async () => {
    const s = await setup();
    await withLinks(s, [{ path: 'lib/libfoo.so', target: 'real.so' }, { path: 'current-lib', target: 'lib' }, { path: 'bin/tool', target: '../current-lib/libfoo.so' }]);
    const r = await s.engine.apply('demo', {});
    expect(r.version).toBe('1.1.0');
    expect(await fsp.readlink(path.join(s.install, 'lib/libfoo.so'))).toBe('real.so');
    expect(await fsp.readFile(path.join(s.install, 'bin/tool'), 'utf8')).toBe('real');
    expect((await s.engine.getManifest('demo', '1.1.0')).release.files.find((f) => f.path === 'current-lib')).toMatchObject({ type: 'symlink', target: 'lib', size: 0 });
    await s.engine.rollback('demo', {});
    expect(await snapshot(s.install)).toEqual(s.before);
  });
});

describe('malicious manifest modes', () => {
  const cases: Array<[string, number]> = [
    ['setuid', 0o4755],
    ['setgid', 0o2755],
    ['sticky', 0o1755],
    ['world-writable', 0o666],
  ];
  it.each(cases)('%s => ERR_UNSAFE_MODE, install untouched', async (_name, mode) => {
    const s = await setup();
    await withManifestFiles(s, [{ path: 'bin/app' }, { path: 'bin/helper', mode }]);
    await expectRefused(s, 'ERR_UNSAFE_MODE');
  });
});

describe('malicious signatures and metadata', () => {
  it('unsigned index => ERR_SIGNATURE_INVALID', async () => {
    const s = await setup();
    const e2 = await s.feed.release('1.1.0', V2, [s.key]);
    await s.feed.index('stable', indexPayload(2, [e2, s.entry1]), []);
    await expectRefused(s, 'ERR_SIGNATURE_INVALID');
  });

  it('index signed by the wrong key => ERR_SIGNATURE_INVALID', async () => {
    const s = await setup();
    const mallory = makeKey();
    const e2 = await s.feed.release('1.1.0', V2, [mallory]);
    await s.feed.index('stable', indexPayload(2, [e2, s.entry1]), [mallory]);
    await expectRefused(s, 'ERR_SIGNATURE_INVALID');
  });

  it('manifest signed by the wrong key => ERR_SIGNATURE_INVALID', async () => {
    const s = await setup();
    const e2 = await s.feed.release('1.1.0', V2, [makeKey()]);
    await s.feed.index('stable', indexPayload(2, [e2, s.entry1]), [s.key]);
    await expectRefused(s, 'ERR_SIGNATURE_INVALID');
  });

  it('below threshold (1 of 2) => ERR_SIGNATURE_THRESHOLD', async () => {
    const a = makeKey();
    const b = makeKey();
    const s = await setup({ keys: [a, b], threshold: 2 });
    const e2 = await s.feed.release('1.1.0', V2, [a, b]);
    await s.feed.index('stable', indexPayload(2, [e2, s.entry1]), [a]);
    await expectRefused(s, 'ERR_SIGNATURE_THRESHOLD');
  });

  it('duplicate signatures of one key count once => ERR_SIGNATURE_THRESHOLD', async () => {
    const a = makeKey();
    const b = makeKey();
    const s = await setup({ keys: [a, b], threshold: 2 });
    const e2 = await s.feed.release('1.1.0', V2, [a, b]);
    await s.feed.index('stable', indexPayload(2, [e2, s.entry1]), [a, a]);
    await expectRefused(s, 'ERR_SIGNATURE_THRESHOLD');
  });

  it('wrong payloadType on the index => ERR_PAYLOAD_TYPE', async () => {
    const s = await setup();
    const e2 = await s.feed.release('1.1.0', V2, [s.key]);
    await s.feed.index('stable', indexPayload(2, [e2, s.entry1]), [s.key], 'application/vnd.upkeep.manifest+json');
    await expectRefused(s, 'ERR_PAYLOAD_TYPE');
  });

  it('wrong payloadType on the manifest => ERR_PAYLOAD_TYPE', async () => {
    const s = await setup();
    const files = [{ path: 'bin/app', type: 'file', ...(await s.feed.blob('x')) }];
    const m = await s.feed.manifest('1.1.0', { schema: 'upkeep.manifest/1', product: 'demo', version: '1.1.0', channel: 'stable', released_at: '2026-11-20T00:00:00Z', files }, [s.key], INDEX_PAYLOAD_TYPE);
    await s.feed.index('stable', indexPayload(2, [{ version: '1.1.0', ...m }, s.entry1]), [s.key]);
    await expectRefused(s, 'ERR_PAYLOAD_TYPE');
  });

  it('expired index => ERR_METADATA_EXPIRED', async () => {
    const s = await setup();
    const e2 = await s.feed.release('1.1.0', V2, [s.key]);
    await s.feed.index('stable', indexPayload(2, [e2, s.entry1], { expires: '2020-01-01T00:00:00Z' }), [s.key]);
    await expectRefused(s, 'ERR_METADATA_EXPIRED');
  });

  it('lower sequence than already accepted (replay) => ERR_ROLLBACK_ATTACK', async () => {
    const s = await setup();
    const e2 = await s.feed.release('1.1.0', V2, [s.key]);
    await s.feed.index('stable', indexPayload(5, [s.entry1]), [s.key]);
    expect((await s.engine.check('demo')).update_available).toBe(false);
    await s.feed.index('stable', indexPayload(4, [e2, s.entry1]), [s.key]);
    await expectRefused(s, 'ERR_ROLLBACK_ATTACK');
  });

  it('manifest bytes differ from the index entry hash (mix-and-match) => ERR_HASH_MISMATCH', async () => {
    const s = await setup();
    const e2 = await s.feed.release('1.1.0', V2, [s.key]);
    await s.feed.index('stable', indexPayload(2, [{ ...e2, sha256: 'a'.repeat(64) }, s.entry1]), [s.key]);
    await expectRefused(s, 'ERR_HASH_MISMATCH');
  });

  it('manifest larger than the index entry size => ERR_SIZE_MISMATCH', async () => {
    const s = await setup();
    const e2 = await s.feed.release('1.1.0', V2, [s.key]);
    await s.feed.index('stable', indexPayload(2, [{ ...e2, size: e2.size - 10 }, s.entry1]), [s.key]);
    await expectRefused(s, 'ERR_SIZE_MISMATCH');
  });

  it('manifest version differs from the index entry => ERR_VERSION_MISMATCH', async () => {
    const s = await setup();
    const e2 = await s.feed.release('1.2.0', V2, [s.key]);
    await s.feed.index('stable', indexPayload(2, [{ ...e2, version: '1.1.0' }, s.entry1]), [s.key]);
    await expectRefused(s, 'ERR_VERSION_MISMATCH');
  });
});

describe('malicious file contents and version policy', () => {
  it('file bytes differ from their sha256 => ERR_HASH_MISMATCH', async () => {
    const s = await setup();
    const e2 = await s.feed.release('1.1.0', V2, [s.key]);
    await s.feed.index('stable', indexPayload(2, [e2, s.entry1]), [s.key]);
    const blob = path.join(s.feed.dir, 'blobs', 'sha256', (await s.feed.blob('app 1.1.0')).sha256);
    await fsp.writeFile(blob, 'app 1.1.X');
    await expectRefused(s, 'ERR_HASH_MISMATCH');
  });

  it('file body longer than its declared size => ERR_SIZE_MISMATCH', async () => {
    const s = await setup();
    const e2 = await s.feed.release('1.1.0', V2, [s.key], {}, (f) => ({ ...f, size: f.size - 3 }));
    await s.feed.index('stable', indexPayload(2, [e2, s.entry1]), [s.key]);
    await expectRefused(s, 'ERR_SIZE_MISMATCH');
  });

  it('explicit downgrade => ERR_DOWNGRADE', async () => {
    const s = await setup();
    const e0 = await s.feed.release('0.9.0', { 'bin/app': 'old' }, [s.key]);
    await s.feed.index('stable', indexPayload(2, [s.entry1, e0]), [s.key]);
    await expectRefused(s, 'ERR_DOWNGRADE', { version: '0.9.0' });
  });

  it('min_upgrade_from violated => ERR_INCOMPATIBLE_UPGRADE', async () => {
    const s = await setup();
    const e2 = await s.feed.release('2.0.0', V2, [s.key], { min_upgrade_from: '>=1.5.0' });
    await s.feed.index('stable', indexPayload(2, [e2, s.entry1]), [s.key]);
    await expectRefused(s, 'ERR_INCOMPATIBLE_UPGRADE', { version: '2.0.0' });
    await expectRefused(s, 'ERR_INCOMPATIBLE_UPGRADE');
  });

  it('product of another vendor => ERR_PRODUCT_MISMATCH', async () => {
    const s = await setup();
    const e2 = await s.feed.release('1.1.0', V2, [s.key]);
    await s.feed.index('stable', indexPayload(2, [e2, s.entry1], { product: 'other' }), [s.key]);
    await expectRefused(s, 'ERR_PRODUCT_MISMATCH');
  });
});
