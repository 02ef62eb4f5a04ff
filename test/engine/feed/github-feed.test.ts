/**
 * The github feed against a GitHub look-alike on 127.0.0.1 (API server + asset host behind a 302):
 * pagination, ETag polls, rate limits, where the token goes, and the verification ladder
 * (minisign over SHA256SUMS made by the real `minisign` tool, signature over the asset, checksums
 * only, none), down to the downloaded bytes.
 */
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { createFeed } from '../../../src-main/engine/feed/registry';
import type { FeedEnv, FeedSpec } from '../../../src-main/engine/feed/feed';
import type { ReleaseArchive } from '../../../src-main/engine/feed/release';
import { DEFAULT_LIMITS } from '../../../src-main/engine/limits';
import { systemClock } from '../../../src-main/engine/clock';
import { defaultFetcher } from '../../../src-main/engine/net/default-fetcher';
import { TrustSchema } from '../../../src-main/engine/config/feed-schema';
import { UpkeepError } from '../../../src-shared/errors';
import { sha256sums, startGithubFake, type FakeAsset, type GithubFake } from '../../helpers/github-server';
import { tempDir } from '../../helpers/tree';

const REPO = 'acme/app';
let keyDir: string;
let pubLine: string;
let otherPubLine: string;

function minisignKey(dir: string): string {
  execFileSync('minisign', ['-G', '-W', '-p', path.join(dir, 'k.pub'), '-s', path.join(dir, 'k.sec')], { stdio: 'ignore' });
  return 'minisign:' + execFileSync('tail', ['-n', '1', path.join(dir, 'k.pub')]).toString().trim();
}

async function minisignOver(dir: string, bytes: Buffer): Promise<Buffer> {
  const f = path.join(dir, `msg-${Math.random().toString(16).slice(2)}`);
  await fsp.writeFile(f, bytes);
  execFileSync('minisign', ['-S', '-s', path.join(dir, 'k.sec'), '-m', f], { stdio: 'ignore' });
  return fsp.readFile(f + '.minisig');
}

beforeAll(async () => {
  keyDir = await tempDir();
  pubLine = minisignKey(keyDir);
  const other = path.join(keyDir, 'other');
  await fsp.mkdir(other);
  otherPubLine = minisignKey(other);
});

let fake: GithubFake | null = null;
afterEach(async () => {
  await fake?.close();
  fake = null;
});
afterAll(async () => {
  await fsp.rm(keyDir, { recursive: true, force: true });
});

const tarball = (v: string): FakeAsset => ({ name: `app-${v}-linux-x64.tar.gz`, bytes: Buffer.from(`pretend tar.gz of ${v} `.repeat(50)) });

async function setup(o: { sign?: 'sums' | 'asset' | 'none' | 'other-key'; tags?: string[] } = {}) {
  const tags = o.tags ?? ['v1.2.0', 'v1.1.0', 'v1.0.0', 'nightly-2026'];
  const releases = [];
  for (const tag of tags) {
    const v = tag.replace(/^v/, '');
    const a = tarball(v);
    const sums = { name: 'SHA256SUMS', bytes: sha256sums([a, { name: 'other.txt', bytes: Buffer.from('x') }]) };
    const assets: FakeAsset[] = [a, sums];
    const signer = o.sign === 'other-key' ? path.join(keyDir, 'other') : keyDir;
    if (o.sign === 'sums' || o.sign === 'other-key' || o.sign === undefined) assets.push({ name: 'SHA256SUMS.minisig', bytes: await minisignOver(signer, sums.bytes) });
    if (o.sign === 'asset') assets.push({ name: `${a.name}.minisig`, bytes: await minisignOver(signer, a.bytes) });
    releases.push({ tag_name: tag, assets });
  }
  releases.push({ tag_name: 'v9.0.0', draft: true, assets: [tarball('9.0.0')] });
  releases.push({ tag_name: 'v2.0.0-rc.1', prerelease: true, assets: [tarball('2.0.0-rc.1')] });
  fake = await startGithubFake(REPO, releases);
  return fake;
}

async function feedFor(f: GithubFake, feed: Record<string, unknown>, trust: Record<string, unknown>, stateDir?: string) {
  const logs: string[] = [];
  const dir = stateDir ?? (await tempDir());
  const spec: FeedSpec = {
    target: 'app',
    product: 'app',
    channel: 'stable',
    feed: { type: 'github', repo: REPO, api_url: f.apiUrl, asset: 'app-{version}-{platform}-{arch}.tar.gz', checksums: 'SHA256SUMS', platform_names: {}, arch_names: {}, strip_components: 1, prerelease: false, allow_insecure_http: false, url: `${f.apiUrl}/repos/${REPO}/releases`, ...feed },
    trust: TrustSchema.parse(trust),
  };
  const env: FeedEnv = { stateDir: dir, limits: { ...DEFAULT_LIMITS, retries: 0 }, clock: systemClock, fetcher: defaultFetcher, platform: 'linux', arch: 'x64', log: (l, m) => logs.push(`${l}: ${m}`) };
  return { feed: createFeed(spec, env), logs, dir };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return err instanceof UpkeepError ? err.code : `not an UpkeepError: ${String(err)}`;
  }
  return 'no error';
}

describe('github feed', () => {
  it('lists SemVer releases across pages, newest first; drafts never, prereleases not by default; odd tags logged', async () => {
    const f = await setup();
    const { feed, logs } = await feedFor(f, {}, { keys: [pubLine] });
    const c = await feed.candidates('1.0.0', { skip_versions: [], machine_id: 'm' });
    expect(c.map((x) => x.version)).toEqual(['1.2.0', '1.1.0']);
    expect(f.seen.filter((s) => s.server === 'api').map((s) => s.url)).toEqual([`/repos/${REPO}/releases?per_page=100`, '/repositories/1/releases?per_page=2&page=2', '/repositories/1/releases?per_page=2&page=3']);
    expect(logs).toContain('info: app: skipping GitHub release nightly-2026: the tag is not a SemVer version');
    const beta = await feedFor(f, { prerelease: true }, { keys: [pubLine] });
    expect((await beta.feed.candidates('1.0.0', { skip_versions: ['1.1.0'], machine_id: 'm' })).map((x) => x.version)).toEqual(['2.0.0-rc.1', '1.2.0']);
  });

  it('polls with If-None-Match: the second check is answered 304 from the remembered body', async () => {
    const f = await setup();
    const first = await feedFor(f, {}, { keys: [pubLine] });
    await first.feed.candidates(null, { skip_versions: [], machine_id: 'm' });
    const again = await feedFor(f, {}, { keys: [pubLine] }, first.dir);
    const c = await again.feed.candidates(null, { skip_versions: [], machine_id: 'm' });
    expect(c.map((x) => x.version)).toEqual(['1.2.0', '1.1.0', '1.0.0']);
    const api = f.seen.filter((s) => s.server === 'api');
    expect(api.slice(3).map((s) => s.status)).toEqual([304, 304, 304]);
    expect(api.slice(3).every((s) => typeof s.headers['if-none-match'] === 'string')).toBe(true);
  });

  it('rate limits become ERR_RATE_LIMITED with the reset time', async () => {
    const f = await setup();
    f.rateLimit = { 'x-ratelimit-limit': '60', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1796000000' };
    const { feed } = await feedFor(f, { repo: 'acme/other' }, { keys: [pubLine] });
    try {
      await feed.candidates(null, { skip_versions: [], machine_id: 'm' });
      expect.unreachable();
    } catch (err) {
      expect((err as UpkeepError).code).toBe('ERR_RATE_LIMITED');
      expect((err as UpkeepError).details?.reset_at).toBe(new Date(1796000000 * 1000).toISOString());
    }
  });

  it('sends the token only to api_url origin: never to the asset host, nor after a redirect to another origin', async () => {
    const f = await setup();
    const { feed } = await feedFor(f, { token: 'ghp_secret' }, { keys: [pubLine] });
    const r = await feed.release('1.2.0');
    expect(r.verification).toBe('signed');
    const api = f.seen.filter((s) => s.server === 'api' && !s.url.startsWith('/download/'));
    expect(api.length).toBeGreaterThan(0);
    expect(api.every((s) => s.headers.authorization === 'Bearer ghp_secret')).toBe(true);
    // Companion downloads went through the 302 to the asset host, without the token anywhere.
    expect(f.seen.filter((s) => s.server === 'assets').length).toBeGreaterThan(0);
    expect(f.seen.filter((s) => s.server === 'assets' || s.url.startsWith('/download/')).every((s) => s.headers.authorization === undefined)).toBe(true);
    // A listing redirected to another origin (same host, other port) loses the token.
    f.seen.length = 0;
    f.redirectListTo = `${f.assetUrl}/repos/${REPO}/releases`;
    const moved = await feedFor(f, { token: 'ghp_secret' }, { keys: [pubLine] });
    await moved.feed.candidates(null, { skip_versions: [], machine_id: 'm' }).catch(() => undefined);
    const hop = f.seen.find((s) => s.server === 'assets');
    expect(hop?.url).toBe(`/repos/${REPO}/releases?per_page=100`);
    expect(hop?.headers.authorization).toBeUndefined();
  });

  it('minisign over SHA256SUMS: a signed archive item with the listed SHA-256, downloadable byte for byte', async () => {
    const f = await setup();
    const { feed } = await feedFor(f, {}, { keys: [pubLine] });
    const r = await feed.release('1.2.0');
    const expected = tarball('1.2.0').bytes;
    expect(r).toMatchObject({ version: '1.2.0', tag_name: 'v1.2.0', notes: 'Release v1.2.0', verification: 'signed', released_at: '2026-11-01T10:05:00Z' });
    expect(r.items).toHaveLength(1);
    const item = r.items[0] as ReleaseArchive;
    expect(item).toMatchObject({ kind: 'archive', name: 'app-1.2.0-linux-x64.tar.gz', format: 'tar.gz', size: expected.length, strip_components: 1 });
    expect(item.digests.sha256).toBe(createHash('sha256').update(expected).digest('hex'));
    expect(item.url).toBe(`${f.apiUrl}/download/v1.2.0/app-1.2.0-linux-x64.tar.gz`);
    const dir = await tempDir();
    await defaultFetcher.download({ url: item.url, dest: path.join(dir, 'a'), partial: path.join(dir, 'a.part'), size: item.size, sha256: item.digests.sha256!, allowInsecureHttp: false });
    expect(await fsp.readFile(path.join(dir, 'a'))).toEqual(expected);
    expect(feed.assess('1.1.0', r, { allowDowngrade: false, explicit: false })).toEqual({ breaking: false });
    expect(await codeOf(Promise.resolve().then(() => feed.assess('1.2.0', r, { allowDowngrade: false, explicit: false })))).toBe('ERR_DOWNGRADE');
  });

  it('refuses: no signature with keys (ERR_SIGNATURE_MISSING), another key (ERR_SIGNATURE_INVALID), a missing asset', async () => {
    const none = await setup({ sign: 'none' });
    expect(await codeOf((await feedFor(none, {}, { keys: [pubLine] })).feed.release('1.2.0'))).toBe('ERR_SIGNATURE_MISSING');
    await none.close();
    fake = null;
    const other = await setup({ sign: 'other-key' });
    expect(await codeOf((await feedFor(other, {}, { keys: [pubLine] })).feed.release('1.2.0'))).toBe('ERR_SIGNATURE_INVALID');
    const ok = await feedFor(other, {}, { keys: [pubLine, otherPubLine], threshold: 2 });
    expect(await codeOf(ok.feed.release('1.2.0'))).toBe('ERR_SIGNATURE_THRESHOLD');
    const arm = await feedFor(other, {}, { keys: [otherPubLine] });
    expect((await arm.feed.release('1.2.0')).verification).toBe('signed');
    expect(await codeOf(arm.feed.release('7.0.0'))).toBe('ERR_MANIFEST_NOT_FOUND');
  });

  it('a signature over the asset itself is checked on the downloaded file', async () => {
    const f = await setup({ sign: 'asset' });
    const { feed } = await feedFor(f, { checksums: undefined }, { keys: [pubLine] });
    const r = await feed.release('1.1.0');
    const item = r.items[0] as ReleaseArchive;
    expect(r.verification).toBe('signed');
    expect(item.verify).toBeTypeOf('function');
    const dir = await tempDir();
    const good = path.join(dir, 'good');
    await fsp.writeFile(good, tarball('1.1.0').bytes);
    await item.verify!(good, new AbortController().signal);
    const bad = path.join(dir, 'bad');
    await fsp.writeFile(bad, Buffer.concat([tarball('1.1.0').bytes, Buffer.from('!')]));
    expect(await codeOf(item.verify!(bad, new AbortController().signal))).toBe('ERR_SIGNATURE_INVALID');
  });

  it('checksums only and none: accepted with a warning, shown as checksums / unverified', async () => {
    const f = await setup({ sign: 'none' });
    const sums = await feedFor(f, {}, { checksums_only: true });
    const r = await sums.feed.release('1.2.0');
    expect(r.verification).toBe('checksums');
    expect((r.items[0] as ReleaseArchive).digests.sha256).toHaveLength(64);
    expect(sums.logs.some((l) => l.startsWith('warn:') && l.includes('checksums only'))).toBe(true);
    const nothing = await feedFor(f, { checksums: undefined }, { none: true });
    const n = await nothing.feed.release('1.2.0');
    expect(n.verification).toBe('none');
    expect((n.items[0] as ReleaseArchive).digests).toEqual({});
    expect(nothing.logs.some((l) => l.includes('UNVERIFIED'))).toBe(true);
  });

  it('manifest_asset: paths of this machine colliding (NFC/NFD, case, file and parent, twice) are ERR_UNSAFE_PATH before any download', async () => {
    const file = (p: string, platform = 'any') => ({ path: p, type: 'file', sha256_hash: 'a'.repeat(64), size_bytes: 1, platform, architecture: 'any', download_url: `f/${encodeURIComponent(p)}` });
    const cases = [
      [file('caf\u00e9.txt'), file('cafe\u0301.txt')],
      [file('README'), file('readme')],
      [file('lib'), file('lib/x.so')],
      [file('bin/app'), file('bin/app')],
    ];
    const releases = cases.map((files, i) => ({
      tag_name: `v1.0.${i}`,
      assets: [{ name: 'manifest.json', bytes: Buffer.from(JSON.stringify({ version: `1.0.${i}`, files })) }],
    }));
    // One path per platform is fine: only this machine's files are installed together.
    releases.push({ tag_name: 'v2.0.0', assets: [{ name: 'manifest.json', bytes: Buffer.from(JSON.stringify({ version: '2.0.0', files: [file('bin/app', 'linux'), file('bin/app', 'darwin')] })) }] });
    fake = await startGithubFake(REPO, releases);
    const { feed } = await feedFor(fake, { asset: undefined, checksums: undefined, manifest_asset: 'manifest.json' }, { checksums_only: true });
    for (let i = 0; i < cases.length; i++) expect(await codeOf(feed.release(`1.0.${i}`))).toBe('ERR_UNSAFE_PATH');
    const ok = await feed.release('2.0.0');
    expect(ok.items).toHaveLength(1);
    expect(fake.seen.filter((r) => r.url.includes('/f/'))).toEqual([]);
  });

  it('manifest download URLs must be http(s): file: and other schemes are ERR_INSECURE_URL before any download', async () => {
    const file = { path: 'bin/app', type: 'file', sha256_hash: 'a'.repeat(64), size_bytes: 1, platform: 'any', architecture: 'any', download_url: 'file:///etc/shadow' };
    fake = await startGithubFake(REPO, [{ tag_name: 'v1.0.0', assets: [{ name: 'manifest.json', bytes: Buffer.from(JSON.stringify({ version: '1.0.0', files: [file] })) }] }]);
    const { feed } = await feedFor(fake, { asset: undefined, checksums: undefined, manifest_asset: 'manifest.json' }, { checksums_only: true });
    expect(await codeOf(feed.release('1.0.0'))).toBe('ERR_INSECURE_URL');
    expect(fake.seen.filter((r) => r.server === 'assets' && !r.url.includes('manifest.json'))).toEqual([]);
  });
});
