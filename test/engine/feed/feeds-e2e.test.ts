/**
 * End to end per feed adapter, through the engine's public pieces: a feed answering from real HTTP
 * servers on 127.0.0.1 (GitHub API JSON with a 302 to an asset host, SHA256SUMS + .minisig made
 * by the real minisign tool; an electron-builder folder; a signed Sparkle appcast; a TUF
 * repository re-signed with go-tuf's test keys) → download of the release's artifact with its
 * digests and verifier → archive extraction (archive/extract.ts) → journaled apply
 * (apply/applyRelease) → rollback to the point (apply/rollbackToPoint), checking the install dir
 * byte for byte after each step, and unchanged after a refused release.
 */
import { describe, it, expect, afterEach, beforeAll } from 'vitest';
import { canonicalize } from '@tufjs/canonical-json';
import { constants, createHash, createPrivateKey, sign } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import { createFeed } from '../../../src-main/engine/feed/registry';
import type { Feed } from '../../../src-main/engine/feed/feed';
import { downloadableItems, type Release } from '../../../src-main/engine/feed/release';
import { applyRelease, defaultMode, listPoints, rollbackToPoint, type PlannedFile } from '../../../src-main/engine/apply';
import { extractArchive } from '../../../src-main/engine/archive/extract';
import { defaultFetcher } from '../../../src-main/engine/net/default-fetcher';
import { UpkeepError } from '../../../src-shared/errors';
import { startGithubFake } from '../../helpers/github-server';
import { startStaticServer } from '../../helpers/static-server';
import { feedEnv, feedSpec } from '../../helpers/feed-env';
import { snapshot, tempDir, writeTree } from '../../helpers/tree';
import { TREES, appcast, ed25519Signer, electronBuilderYml, githubRelease, minisigner, versionArchive, type Minisigner } from '../../helpers/adapter-fixtures';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});
async function dir(): Promise<string> {
  const d = await tempDir();
  cleanups.push(() => fsp.rm(d, { recursive: true, force: true }));
  return d;
}

/** A .tar.gz of a version's tree under a top directory `app-<v>/` (strip_components: 1). */
async function tarball(version: string): Promise<Buffer> {
  return versionArchive(version, await dir());
}

interface Target {
  installDir: string;
  stateDir: string;
  pointsDir: string;
  work: string;
}
async function target(): Promise<Target> {
  const base = await dir();
  const t = { installDir: path.join(base, 'install'), stateDir: path.join(base, 'state/targets/app'), pointsDir: path.join(base, 'points/app'), work: path.join(base, 'work') };
  for (const d of Object.values(t)) await fsp.mkdir(d, { recursive: true });
  return t;
}

let ops = 0;
/** Downloads, verifies, extracts and applies a release the way the runner does, through the engine's public modules. */
async function install(t: Target, release: Release): Promise<void> {
  const files: PlannedFile[] = [];
  for (const item of downloadableItems(release)) {
    const key = item.kind === 'archive' ? item.name : item.path;
    const file = path.join(t.work, `${release.version}-${key.replace(/\//g, '_')}`);
    if (item.digests.sha256) {
      await defaultFetcher.download({ url: item.url, dest: file, partial: file + '.part', size: item.size, sha256: item.digests.sha256, allowInsecureHttp: false });
    } else {
      const res = await defaultFetcher.fetchBytes(item.url, { maxBytes: item.size, allowInsecureHttp: false });
      if (res.notModified) throw new Error('unexpected 304');
      if (res.bytes.length !== item.size) throw new UpkeepError('ERR_SIZE_MISMATCH', 'size');
      if (item.digests.sha512 && createHash('sha512').update(res.bytes).digest('hex') !== item.digests.sha512) throw new UpkeepError('ERR_HASH_MISMATCH', 'sha512');
      await fsp.writeFile(file, res.bytes);
    }
    if (item.verify) await item.verify(file, new AbortController().signal);
    if (item.kind === 'archive') {
      const staged = path.join(t.work, `staged-${release.version}`);
      const entries = await extractArchive(file, staged, { format: item.format, stripComponents: item.strip_components });
      for (const e of entries) {
        if (e.type === 'file') files.push({ path: e.path, source: path.join(staged, e.path), sha256: e.sha256!, size: e.size, mode: e.mode });
        if (e.type === 'symlink') files.push({ path: e.path, source: '', sha256: '', size: 0, mode: 0, target: e.target! });
      }
    } else {
      const bytes = await fsp.readFile(file);
      files.push({ path: item.path, source: file, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length, mode: defaultMode(item.type, item.mode) });
    }
  }
  await applyRelease({ opId: `op${++ops}`, target: 'app', installDir: t.installDir, layout: 'in-place', stateDir: t.stateDir, pointsDir: t.pointsDir, toVersion: release.version, files, retention: 3 });
}

async function expectTree(t: Target, version: string): Promise<void> {
  const ref = await dir();
  await writeTree(ref, TREES[version]!);
  expect(await snapshot(t.installDir)).toEqual(await snapshot(ref));
}

/** Installs 1.0.0, then the feed's best candidate (1.1.0), then rolls back — byte for byte at each step. */
async function lifecycle(feed: Feed, t: Target): Promise<void> {
  const cands = await feed.candidates(null, { skip_versions: [], machine_id: '0'.repeat(32) });
  expect(cands.map((c) => c.version)).toContain('1.0.0');
  await install(t, await feed.release('1.0.0'));
  await expectTree(t, '1.0.0');
  const next = await feed.candidates('1.0.0', { skip_versions: [], machine_id: '0'.repeat(32) });
  expect(next[0]?.version).toBe('1.1.0');
  const r = await feed.release('1.1.0');
  feed.assess('1.0.0', r, { allowDowngrade: false, explicit: false });
  await install(t, r);
  await expectTree(t, '1.1.0');
  const [point] = await listPoints(t.pointsDir);
  expect(point).toBeDefined();
  await rollbackToPoint({ target: 'app', installDir: t.installDir, stateDir: t.stateDir, pointsDir: t.pointsDir, opId: `op${++ops}` });
  await expectTree(t, '1.0.0');
}

let minisignDir: string;
let signer: Minisigner;
beforeAll(async () => {
  minisignDir = await tempDir();
  signer = await minisigner(minisignDir);
  return () => fsp.rm(minisignDir, { recursive: true, force: true });
});

describe('github, end to end', () => {
  it('API JSON → 302 to the asset host → SHA256SUMS + .minisig → extract → apply → rollback, byte for byte; a tampered asset changes nothing', async () => {
    const releases = [];
    for (const v of ['1.1.0', '1.0.0']) releases.push(await githubRelease(v, { name: `app-${v}-linux-x64.tar.gz`, bytes: await tarball(v) }, signer));
    const gh = await startGithubFake('acme/app', releases);
    cleanups.push(gh.close);
    const t = await target();
    const spec = feedSpec({ type: 'github', repo: 'acme/app', api_url: gh.apiUrl, url: `${gh.apiUrl}/repos/acme/app/releases`, asset: 'app-{version}-{platform}-{arch}.tar.gz', checksums: 'SHA256SUMS', platform_names: {}, arch_names: {}, strip_components: 1, prerelease: false, token: 'ghp_e2e' }, { keys: [signer.key] });
    await lifecycle(createFeed(spec, feedEnv(await dir())), t);
    expect(gh.seen.some((s) => s.server === 'assets' && s.url.endsWith('.tar.gz'))).toBe(true);
    expect(gh.seen.filter((s) => s.server === 'assets').every((s) => s.headers.authorization === undefined)).toBe(true);
    // Swap 1.1.0's archive on the asset host: the listed SHA-256 no longer matches, nothing changes.
    releases[0]!.assets[0]!.bytes = await tarball('1.0.0');
    const before = await snapshot(t.installDir);
    const r = await createFeed(spec, feedEnv(await dir())).release('1.1.0');
    await expect(install(t, r)).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_(HASH|SIZE)_MISMATCH$/) });
    expect(await snapshot(t.installDir)).toEqual(before);
  });
});

describe('electron-builder, end to end', () => {
  it('latest-linux.yml → tarball by files[] with sha512 → extract → apply → rollback', async () => {
    const files: Record<string, Buffer> = {};
    const ymls: Record<string, string> = {};
    for (const v of ['1.0.0', '1.1.0']) {
      const b = await tarball(v);
      files[`/dl/app-${v}-linux-x64.tar.gz`] = b;
      ymls[v] = electronBuilderYml(v, { name: `app-${v}-linux-x64.tar.gz`, bytes: b });
    }
    const server = await startStaticServer({ ...files, '/dl/latest-linux.yml': ymls['1.0.0']! });
    cleanups.push(server.close);
    const t = await target();
    const spec = feedSpec({ type: 'electron-builder', url: `${server.url}/dl/`, strip_components: 1 }, { checksums_only: true });
    const feed = createFeed(spec, feedEnv(await dir()));
    await install(t, await feed.release('1.0.0'));
    await expectTree(t, '1.0.0');
    server.files.set('/dl/latest-linux.yml', Buffer.from(ymls['1.1.0']!));
    const feed2 = createFeed(spec, feedEnv(await dir()));
    expect((await feed2.candidates('1.0.0', { skip_versions: [], machine_id: '0'.repeat(32) }))[0]?.version).toBe('1.1.0');
    await install(t, await feed2.release('1.1.0'));
    await expectTree(t, '1.1.0');
    await rollbackToPoint({ target: 'app', installDir: t.installDir, stateDir: t.stateDir, pointsDir: t.pointsDir, opId: `op${++ops}` });
    await expectTree(t, '1.0.0');
  });
});

describe('sparkle, end to end', () => {
  it('appcast → best item → edSignature checked on the downloaded archive → apply → rollback; a bad signature changes nothing', async () => {
    const ed = ed25519Signer();
    const key = ed.key;
    const archives: Record<string, Buffer> = { '1.0.0': await tarball('1.0.0'), '1.1.0': await tarball('1.1.0') };
    const cast = (sigs: Record<string, string>) => appcast(Object.entries(sigs).map(([v, sig]) => ({ version: v, url: `app-${v}.tar.gz`, length: archives[v]!.length, edSignature: sig })));
    const good = Object.fromEntries(Object.entries(archives).map(([v, b]) => [v, ed.sign(b)]));
    const server = await startStaticServer({ '/appcast.xml': cast(good), '/app-1.0.0.tar.gz': archives['1.0.0']!, '/app-1.1.0.tar.gz': archives['1.1.0']! });
    cleanups.push(server.close);
    const t = await target();
    const spec = feedSpec({ type: 'sparkle', url: `${server.url}/appcast.xml`, strip_components: 1 }, { keys: [key] });
    await lifecycle(createFeed(spec, feedEnv(await dir())), t);
    server.files.set('/appcast.xml', Buffer.from(cast({ ...good, '1.1.0': good['1.0.0']! })));
    const before = await snapshot(t.installDir);
    const r = await createFeed(spec, feedEnv(await dir())).release('1.1.0');
    await expect(install(t, r)).rejects.toMatchObject({ code: 'ERR_SIGNATURE_INVALID' });
    expect(await snapshot(t.installDir)).toEqual(before);
  });
});

describe('tuf, end to end', () => {
  it('targets named by the rule in a re-signed go-tuf repository → apply → rollback', async () => {
    const GO = path.resolve(__dirname, '../../../../shared/vectors/tuf/go-tuf/internal/testutils/repository_data');
    type Doc = { signed: Record<string, unknown> & { version: number } };
    const doc = (n: string) => JSON.parse(readFileSync(path.join(GO, 'repository/metadata', n), 'utf8')) as Doc;
    const root = doc('root.json');
    const keyid = (role: string) => (root.signed.roles as Record<string, { keyids: string[] }>)[role]!.keyids[0]!;
    const signDoc = (signed: Doc['signed'], role: string) => {
      const sig = sign('sha256', Buffer.from(canonicalize(signed)), { key: createPrivateKey(readFileSync(path.join(GO, 'keystore', `${role}_key`))), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
      return JSON.stringify({ signatures: [{ keyid: keyid(role), sig: sig.toString('hex') }], signed });
    };
    const served: Record<string, string | Buffer> = { '/metadata/1.root.json': readFileSync(path.join(GO, 'repository/metadata/1.root.json')) };
    const targets: Record<string, unknown> = {};
    for (const v of ['1.0.0', '1.1.0']) {
      const b = await tarball(v);
      const sha = createHash('sha256').update(b).digest('hex');
      targets[`app-${v}.tar.gz`] = { length: b.length, hashes: { sha256: sha } };
      served[`/targets/${sha}.app-${v}.tar.gz`] = b;
    }
    const t0 = doc('targets.json');
    served['/metadata/2.targets.json'] = signDoc({ ...t0.signed, version: 2, targets, delegations: { keys: {}, roles: [] } }, 'targets');
    served['/metadata/2.snapshot.json'] = signDoc({ ...doc('snapshot.json').signed, version: 2, meta: { 'targets.json': { version: 2 } } }, 'snapshot');
    served['/metadata/timestamp.json'] = signDoc({ ...doc('timestamp.json').signed, version: 2, meta: { 'snapshot.json': { version: 2 } } }, 'timestamp');
    const server = await startStaticServer(served);
    cleanups.push(server.close);
    const base = await dir();
    const rootFile = path.join(base, 'root.json');
    await fsp.writeFile(rootFile, readFileSync(path.join(GO, 'repository/metadata/root.json')));
    const spec = feedSpec({ type: 'tuf', url: `${server.url}/metadata/`, target: 'app-{version}.tar.gz', platform_names: {}, arch_names: {}, strip_components: 1 }, { tuf_root: rootFile });
    await lifecycle(createFeed(spec, feedEnv(path.join(base, 'state'))), await target());
  });
});
