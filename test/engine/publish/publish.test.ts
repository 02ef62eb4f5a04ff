import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { publish, type PublishOptions } from '../../../src-main/engine/publish/publish';
import { keygen } from '../../../src-main/engine/publish/keygen';
import { verifyEnvelope } from '../../../src-main/engine/trust/dsse';
import { parsePublicKey, type PublicKey } from '../../../src-main/engine/trust/keys';
import {
  ChannelIndexSchema,
  INDEX_PAYLOAD_TYPE,
  MANIFEST_PAYLOAD_TYPE,
  ReleaseManifestSchema,
} from '../../../src-shared/feed-schema';
import type { RegularManifestFile } from '../../../src-shared/feed-schema';

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

let tmp: string;
let keyA: { keyPath: string; pub: PublicKey };
let keyB: { keyPath: string; pub: PublicKey };

async function makeKey(name: string) {
  const k = await keygen(path.join(tmp, 'keys', name));
  return { keyPath: k.keyPath, pub: parsePublicKey(await fsp.readFile(k.pubPath, 'utf8')) };
}

async function makeBuild(name: string, files: Record<string, { data: string | Buffer; mode?: number }>): Promise<string> {
  const dir = path.join(tmp, name);
  for (const [rel, f] of Object.entries(files)) {
    const p = path.join(dir, rel);
    await fsp.mkdir(path.dirname(p), { recursive: true });
    await fsp.writeFile(p, f.data);
    await fsp.chmod(p, f.mode ?? 0o644);
  }
  return dir;
}

function readIndex(bytes: Buffer, keys: PublicKey[], threshold = 1) {
  const v = verifyEnvelope(bytes, INDEX_PAYLOAD_TYPE, keys, threshold, 'index');
  return { index: ChannelIndexSchema.parse(JSON.parse(v.payload.toString('utf8'))), validKeyIds: v.validKeyIds };
}

function readManifest(bytes: Buffer, keys: PublicKey[], threshold = 1) {
  const v = verifyEnvelope(bytes, MANIFEST_PAYLOAD_TYPE, keys, threshold, 'manifest');
  return { manifest: ReleaseManifestSchema.parse(JSON.parse(v.payload.toString('utf8'))), validKeyIds: v.validKeyIds };
}

function baseOptions(over: Partial<PublishOptions>): PublishOptions {
  return {
    buildDir: path.join(tmp, 'build1'),
    feedDir: path.join(tmp, 'feed'),
    product: 'demo',
    version: '1.0.0',
    channel: 'stable',
    keyPaths: [keyA.keyPath],
    now: new Date('2026-11-20T00:00:00Z'),
    ...over,
  };
}

beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'upkeep-publish-'));
  keyA = await makeKey('a');
  keyB = await makeKey('b');
});

afterEach(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

describe('publish', () => {
  it('publishes two versions into a signed, content-addressed feed', async () => {
    const exe = Buffer.from('#!/bin/sh\necho demo 1.0.0\n');
    await makeBuild('build1', {
      'bin/demo': { data: exe, mode: 0o755 },
      'etc/secret.conf': { data: 'token=1\n', mode: 0o600 },
      'README.md': { data: '# demo\n' },
    });
    const r1 = await publish(baseOptions({ notes: '## First\n- hello', minUpgradeFrom: '>=0.9.0', buildCommit: 'abc1234', tagName: 'release-1' }));
    expect(r1.sequence).toBe(1);
    expect(r1.files).toBe(3);
    expect(r1.bytes).toBe(exe.length + 'token=1\n'.length + '# demo\n'.length);
    expect(r1.keyids).toEqual([keyA.pub.keyid]);

    const feed = path.join(tmp, 'feed');
    const manifestBytes = await fsp.readFile(path.join(feed, 'manifests/1.0.0.json'));
    expect(r1.manifestPath).toBe(path.join(feed, 'manifests/1.0.0.json'));
    expect(r1.manifestSha256).toBe(sha256(manifestBytes));
    const { manifest } = readManifest(manifestBytes, [keyA.pub]);
    expect(manifest).toMatchObject({
      schema: 'upkeep.manifest/1',
      product: 'demo',
      version: '1.0.0',
      tag_name: 'release-1',
      channel: 'stable',
      released_at: '2026-11-20T00:00:00Z',
      release_notes: '## First\n- hello',
      is_critical: false,
      min_upgrade_from: '>=0.9.0',
      migrations_required: false,
      breaking_changes: [],
      build_commit: 'abc1234',
    });
    expect(manifest.files.map((f) => f.path)).toEqual(['README.md', 'bin/demo', 'etc/secret.conf']);
    const byPath = Object.fromEntries(manifest.files.map((f) => [f.path, f]));
    expect(byPath['bin/demo']).toMatchObject({ type: 'executable', mode: 0o755, size: exe.length, sha256: sha256(exe), platform: 'any', arch: 'any' });
    expect(byPath['etc/secret.conf']).toMatchObject({ type: 'file', mode: 0o600 });
    expect(byPath['README.md']).toMatchObject({ type: 'file', mode: 0o644 });
    for (const f of manifest.files as RegularManifestFile[]) {
      expect(f.url).toBe(`../blobs/sha256/${f.sha256}`);
      // The url resolves from manifests/ to the blob, whose bytes hash to the declared value.
      const blob = await fsp.readFile(path.resolve(feed, 'manifests', f.url));
      expect(blob.length).toBe(f.size);
      expect(sha256(blob)).toBe(f.sha256);
    }

    const idx1 = readIndex(await fsp.readFile(path.join(feed, 'channels/stable.json')), [keyA.pub]).index;
    expect(idx1).toMatchObject({ schema: 'upkeep.index/1', product: 'demo', channel: 'stable', sequence: 1, expires: '2026-12-20T00:00:00Z' });
    expect(idx1.releases).toEqual([
      {
        version: '1.0.0',
        manifest: 'manifests/1.0.0.json',
        sha256: sha256(manifestBytes),
        size: manifestBytes.length,
        is_critical: false,
        rollout: { percent: 100, started_at: '2026-11-20T00:00:00Z' },
      },
    ]);

    // Second version: one file changed, one the same (its blob is reused, not rewritten).
    await makeBuild('build2', {
      'bin/demo': { data: '#!/bin/sh\necho demo 1.1.0\n', mode: 0o755 },
      'README.md': { data: '# demo\n' },
    });
    const r2 = await publish(
      baseOptions({ buildDir: path.join(tmp, 'build2'), version: '1.1.0', critical: true, rolloutPercent: 25, expiresInDays: 7, now: new Date('2026-11-21T00:00:00Z') }),
    );
    expect(r2.sequence).toBe(2);
    expect(r2.blobsWritten).toBe(1);
    const m2bytes = await fsp.readFile(r2.manifestPath);
    const { manifest: m2 } = readManifest(m2bytes, [keyA.pub]);
    expect(m2.tag_name).toBe('v1.1.0');
    expect(m2.is_critical).toBe(true);
    expect(m2.min_upgrade_from).toBeUndefined();
    const idx2 = readIndex(await fsp.readFile(r2.indexPath), [keyA.pub]).index;
    expect(idx2.sequence).toBe(2);
    expect(idx2.expires).toBe('2026-11-28T00:00:00Z');
    expect(idx2.releases.map((r) => r.version)).toEqual(['1.1.0', '1.0.0']);
    expect(idx2.releases[0]).toMatchObject({ sha256: sha256(m2bytes), size: m2bytes.length, is_critical: true, rollout: { percent: 25, started_at: '2026-11-21T00:00:00Z' } });
    // The first release's entry is carried over unchanged.
    expect(idx2.releases[1]).toEqual(idx1.releases[0]);
    expect((await fsp.readdir(path.join(feed, 'blobs/sha256'))).sort()).toHaveLength(4);
  });

  it('sorts releases by SemVer, not by text or publish order', async () => {
    await makeBuild('build1', { a: { data: 'a' } });
    for (const v of ['1.10.0', '1.9.0', '2.0.0-rc.1', '2.0.0', '1.10.0-beta.2']) {
      await publish(baseOptions({ version: v }));
    }
    const { index } = readIndex(await fsp.readFile(path.join(tmp, 'feed/channels/stable.json')), [keyA.pub]);
    expect(index.releases.map((r) => r.version)).toEqual(['2.0.0', '2.0.0-rc.1', '1.10.0', '1.10.0-beta.2', '1.9.0']);
    expect(index.sequence).toBe(5);
  });

  it('signs with every key given: two keys make two valid signatures', async () => {
    await makeBuild('build1', { 'bin/x': { data: 'x', mode: 0o755 } });
    const r = await publish(baseOptions({ keyPaths: [keyA.keyPath, keyB.keyPath, keyA.keyPath] }));
    expect(r.keyids.sort()).toEqual([keyA.pub.keyid, keyB.pub.keyid].sort());
    const m = readManifest(await fsp.readFile(r.manifestPath), [keyA.pub, keyB.pub], 2);
    expect(m.validKeyIds.sort()).toEqual([keyA.pub.keyid, keyB.pub.keyid].sort());
    const i = readIndex(await fsp.readFile(r.indexPath), [keyA.pub, keyB.pub], 2);
    expect(i.validKeyIds).toHaveLength(2);
    const env = JSON.parse(await fsp.readFile(r.indexPath, 'utf8'));
    expect(env.signatures).toHaveLength(2);
    // Either key alone may publish the next version (key rotation): B signs, A's signature is gone.
    await publish(baseOptions({ version: '1.0.1', keyPaths: [keyB.keyPath] }));
    const rotated = await fsp.readFile(r.indexPath);
    expect(readIndex(rotated, [keyB.pub]).index.sequence).toBe(2);
    expect(() => readIndex(rotated, [keyA.pub])).toThrow(/no valid signature/);
  });

  it('refuses to write over a channel index signed by someone else', async () => {
    await makeBuild('build1', { a: { data: 'a' } });
    await publish(baseOptions({ keyPaths: [keyA.keyPath] }));
    const before = await fsp.readFile(path.join(tmp, 'feed/channels/stable.json'));
    await expect(publish(baseOptions({ version: '1.0.1', keyPaths: [keyB.keyPath] }))).rejects.toMatchObject({ code: 'ERR_SIGNATURE_INVALID' });
    expect(await fsp.readFile(path.join(tmp, 'feed/channels/stable.json'))).toEqual(before);
    await expect(fsp.access(path.join(tmp, 'feed/manifests/1.0.1.json'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it.each([['setuid', 0o4755], ['setgid', 0o2750], ['sticky', 0o1644], ['world-writable', 0o646]] as const)('refuses a build file with a %s mode (ERR_UNSAFE_MODE), writing nothing', async (_name, mode) => {
    await makeBuild('build1', { 'bin/ok': { data: 'ok', mode: 0o755 }, 'bin/bad': { data: 'bad', mode } });
    await expect(publish(baseOptions({}))).rejects.toMatchObject({ code: 'ERR_UNSAFE_MODE', details: { path: 'bin/bad', mode } });
    await expect(fsp.access(path.join(tmp, 'feed/manifests/1.0.0.json'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses another product on an existing channel', async () => {
    await makeBuild('build1', { a: { data: 'a' } });
    await publish(baseOptions({}));
    await expect(publish(baseOptions({ version: '1.0.1', product: 'other' }))).rejects.toMatchObject({ code: 'ERR_PRODUCT_MISMATCH' });
  });

  it('refuses to republish a version unless forced', async () => {
    await makeBuild('build1', { a: { data: 'one' } });
    const r1 = await publish(baseOptions({}));
    await fsp.writeFile(path.join(tmp, 'build1/a'), 'two');
    await expect(publish(baseOptions({}))).rejects.toMatchObject({ code: 'ERR_USAGE', message: expect.stringMatching(/immutable/) });
    expect(sha256(await fsp.readFile(r1.manifestPath))).toBe(r1.manifestSha256);
    const r2 = await publish(baseOptions({ force: true, now: new Date('2026-11-22T00:00:00Z') }));
    expect(r2.sequence).toBe(2);
    const { index } = readIndex(await fsp.readFile(r2.indexPath), [keyA.pub]);
    expect(index.releases).toHaveLength(1);
    expect(index.releases[0]!.sha256).toBe(r2.manifestSha256);
    expect(index.releases[0]!.rollout?.started_at).toBe('2026-11-20T00:00:00Z');
    const { manifest } = readManifest(await fsp.readFile(r2.manifestPath), [keyA.pub]);
    expect((manifest.files[0] as RegularManifestFile).sha256).toBe(sha256('two'));
  });

  it('refuses a forced republish of a version another channel lists', async () => {
    await makeBuild('build1', { a: { data: 'one' } });
    await publish(baseOptions({ channel: 'beta' }));
    await expect(publish(baseOptions({ channel: 'stable', force: true }))).rejects.toMatchObject({ code: 'ERR_USAGE', message: expect.stringMatching(/beta/) });
  });

  it('replaces a manifest that no channel lists (left by an interrupted publish), with a warning', async () => {
    await makeBuild('build1', { a: { data: 'a' } });
    await fsp.mkdir(path.join(tmp, 'feed/manifests'), { recursive: true });
    await fsp.writeFile(path.join(tmp, 'feed/manifests/1.0.0.json'), '{"half": ');
    const r = await publish(baseOptions({}));
    expect(r.warnings).toEqual([expect.stringMatching(/interrupted publish/)]);
    expect(readManifest(await fsp.readFile(r.manifestPath), [keyA.pub]).manifest.version).toBe('1.0.0');
  });

  it('records platform and arch on every file', async () => {
    await makeBuild('build1', { 'bin/x': { data: 'x', mode: 0o750 } });
    const r = await publish(baseOptions({ platform: 'linux', arch: 'arm64' }));
    const { manifest } = readManifest(await fsp.readFile(r.manifestPath), [keyA.pub]);
    expect(manifest.files[0]).toMatchObject({ platform: 'linux', arch: 'arm64', mode: 0o750, type: 'executable' });
    await expect(publish(baseOptions({ version: '1.0.1', platform: 'beos' }))).rejects.toMatchObject({ code: 'ERR_USAGE' });
  });

  it('validates version, range, percent, expiry, channel and keys before writing anything', async () => {
    await makeBuild('build1', { a: { data: 'a' } });
    const bad: Array<Partial<PublishOptions>> = [
      { version: 'v1.0.0' },
      { version: '1.0' },
      { version: '01.0.0' },
      { minUpgradeFrom: 'not a range' },
      { minUpgradeFrom: '' },
      { rolloutPercent: 101 },
      { rolloutPercent: -1 },
      { expiresInDays: 0 },
      { channel: '../x' },
      { channel: '' },
      { product: '' },
      { keyPaths: [] },
      { keyPaths: [path.join(tmp, 'missing.key')] },
      { buildDir: path.join(tmp, 'nope') },
      { feedDir: path.join(tmp, 'build1', 'feed') },
    ];
    for (const over of bad) {
      await expect(publish(baseOptions(over)), JSON.stringify(over)).rejects.toMatchObject({ code: 'ERR_USAGE' });
    }
    await fsp.writeFile(path.join(tmp, 'not-a-key.pem'), 'hello');
    await expect(publish(baseOptions({ keyPaths: [path.join(tmp, 'not-a-key.pem')] }))).rejects.toMatchObject({ code: 'ERR_KEY_INVALID' });
    await expect(fsp.access(path.join(tmp, 'feed/channels'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('records symbolic links in the build as links, and refuses one escaping through another link', async () => {
    await makeBuild('build1', { 'lib/libfoo.so.1': { data: 'ELF', mode: 0o755 }, 'bin/x': { data: 'x', mode: 0o755 } });
    await fsp.symlink('libfoo.so.1', path.join(tmp, 'build1/lib/libfoo.so'));
    await fsp.symlink('../lib', path.join(tmp, 'build1/bin/lib'));
    const r = await publish(baseOptions({}));
    const { manifest } = readManifest(await fsp.readFile(r.manifestPath), [keyA.pub]);
    expect(manifest.files.find((f) => f.path === 'lib/libfoo.so')).toEqual({ path: 'lib/libfoo.so', type: 'symlink', target: 'libfoo.so.1', platform: 'any', arch: 'any' });
    expect(manifest.files.find((f) => f.path === 'bin/lib')).toMatchObject({ type: 'symlink', target: '../lib' });
    // Links climbing out of the build, relative or absolute, are refused.
    await makeBuild('build2', { 'a/b/file': { data: 'f' } });
    await fsp.symlink('a/b', path.join(tmp, 'build2/deep'));
    await fsp.symlink('../../..', path.join(tmp, 'build2/a/b/up2'));
    await expect(publish(baseOptions({ buildDir: path.join(tmp, 'build2'), version: '1.0.1' }))).rejects.toMatchObject({ code: 'ERR_UNSAFE_PATH' });
    await fsp.rm(path.join(tmp, 'build2/a/b/up2'));
    await fsp.symlink('/etc', path.join(tmp, 'build2/abs'));
    await expect(publish(baseOptions({ buildDir: path.join(tmp, 'build2'), version: '1.0.1' }))).rejects.toMatchObject({ code: 'ERR_UNSAFE_PATH' });
  });

  it('refuses a build with a symlink leaving it and writes no release', async () => {
    await makeBuild('build1', { 'bin/x': { data: 'x' } });
    await fsp.writeFile(path.join(tmp, 'outside.txt'), 'secret');
    await fsp.symlink(path.join(tmp, 'outside.txt'), path.join(tmp, 'build1/bin/link'));
    await expect(publish(baseOptions({}))).rejects.toMatchObject({ code: 'ERR_UNSAFE_PATH', message: expect.stringMatching(/bin\/link/) });
    await expect(fsp.access(path.join(tmp, 'feed/manifests/1.0.0.json'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(fsp.access(path.join(tmp, 'feed/channels/stable.json'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a build whose paths collide case-insensitively', async () => {
    await makeBuild('build1', { 'README.md': { data: 'a' } });
    const lower = path.join(tmp, 'build1/readme.md');
    await fsp.writeFile(lower, 'b');
    const both = (await fsp.readdir(path.join(tmp, 'build1'))).length === 2;
    if (both) {
      await expect(publish(baseOptions({}))).rejects.toMatchObject({ code: 'ERR_UNSAFE_PATH' });
    } else {
      // A case-insensitive file system here: the second write replaced the first, nothing to refuse.
      await expect(publish(baseOptions({}))).resolves.toMatchObject({ files: 1 });
    }
  });

  it('rewrites a truncated blob instead of trusting its name', async () => {
    await makeBuild('build1', { a: { data: 'hello world' } });
    const blob = path.join(tmp, 'feed/blobs/sha256', sha256('hello world'));
    await fsp.mkdir(path.dirname(blob), { recursive: true });
    await fsp.writeFile(blob, 'hello');
    const r = await publish(baseOptions({}));
    expect(r.blobsWritten).toBe(1);
    expect(await fsp.readFile(blob, 'utf8')).toBe('hello world');
    expect((await fsp.readdir(path.dirname(blob))).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });
});
