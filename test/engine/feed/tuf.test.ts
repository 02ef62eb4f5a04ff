/**
 * TUF repositories through tuf-js: the valid TUF 1.0 repos of ../shared/vectors/tuf (python-tuf,
 * go-tuf, tuf-on-ci, fishy role names, the generated ed25519 set) load over HTTP on 127.0.0.1 from
 * their trusted root; the pre-1.0 advancedtelematic vectors are all refused (their labelled
 * negatives included); TUF 1.0 negatives are made at test time from the go-tuf repo and re-signed
 * with its test keystore (expired timestamp, bad signature, snapshot mismatch, root rotation
 * signed by a removed key); a release named by the naming rule is downloaded byte for byte.
 */
import { describe, it, expect, afterEach, vi } from 'vitest';
import { canonicalize } from '@tufjs/canonical-json';
import { createHash, createPrivateKey, createPublicKey, sign, constants } from 'node:crypto';
import { promises as fsp, readFileSync, existsSync, readdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { TufFeed } from '../../../src-main/engine/feed/tuf-feed';
import type { ReleaseFile } from '../../../src-main/engine/feed/release';
import { defaultFetcher } from '../../../src-main/engine/net/default-fetcher';
import { UpkeepError } from '../../../src-shared/errors';
import { feedEnv, feedSpec } from '../../helpers/feed-env';
import { tempDir } from '../../helpers/tree';

const TUF = path.resolve(__dirname, '../../../../shared/vectors/tuf');
const GO = path.join(TUF, 'go-tuf/internal/testutils/repository_data');

interface Repo {
  url: string;
  requests: string[];
  overrides: Map<string, Buffer>;
  close(): Promise<void>;
}

/**
 * Serves `dir` (with `metadata/` and `targets/`), `overrides` first. A request for
 * `metadata/N.name.json` that has no such file is answered with `name.json` when its signed
 * version is N (repos stored without version prefixes, as go-tuf's test data is).
 */
async function serveRepo(dir: string, names: Record<string, string> = {}): Promise<Repo> {
  const overrides = new Map<string, Buffer>();
  const requests: string[] = [];
  const find = (rel: string): Buffer | null => {
    const o = overrides.get(rel);
    if (o) return o;
    const mapped = names[rel] ?? rel;
    const file = path.join(dir, mapped);
    if (!file.startsWith(dir + path.sep) || !existsSync(file)) return null;
    return readFileSync(file);
  };
  const server = http.createServer((req, res) => {
    const raw = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push(raw);
    // Decode each segment but keep an encoded "/" (%2F) inside a name as it is: no traversal.
    const rel = raw.slice(1).split('/').map((s) => decodeURIComponent(s.replace(/%2F/gi, '%252F'))).join('/');
    let body = find(rel);
    const m = /^metadata\/(\d+)\.(.+\.json)$/.exec(rel);
    if (!body && m) {
      const plain = find(`metadata/${m[2]}`);
      if (plain && (JSON.parse(plain.toString()) as { signed: { version: number } }).signed.version === Number(m[1])) body = plain;
    }
    if (!body) {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    overrides,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const c of cleanups.splice(0)) await c();
});

async function feedFor(repo: Repo, root: string | Buffer, target = 'app-{version}.txt') {
  const dir = await tempDir();
  cleanups.push(() => fsp.rm(dir, { recursive: true, force: true }));
  const rootFile = path.join(dir, 'trusted-root.json');
  await fsp.writeFile(rootFile, typeof root === 'string' ? readFileSync(root) : root);
  const env = feedEnv(path.join(dir, 'state'));
  return new TufFeed(feedSpec({ type: 'tuf', url: `${repo.url}/metadata`, target, platform_names: {}, arch_names: {} }, { tuf_root: rootFile }), env);
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return err instanceof UpkeepError ? err.code : `not an UpkeepError: ${String(err)}`;
  }
  return 'no error';
}

const policy = { skip_versions: [] as string[], machine_id: '0'.repeat(32) };

describe('valid TUF 1.0 repositories load', () => {
  it('python-tuf repository: top-level and delegated (role1) targets verify', async () => {
    const repo = await serveRepo(path.join(TUF, 'python-tuf/tests/repository_data/repository'));
    cleanups.push(repo.close);
    const feed = await feedFor(repo, path.join(TUF, 'python-tuf/tests/repository_data/repository/metadata/1.root.json'), 'file{version}.txt');
    expect(await feed.candidates(null, policy)).toEqual([]); // file1.txt: "1" is not SemVer
    for (const name of ['file1.txt', 'file2.txt', 'file3.txt']) {
      const info = await feed.targetInfo(name);
      const bytes = readFileSync(path.join(TUF, 'python-tuf/tests/repository_data/repository/targets', name));
      expect(info?.length).toBe(bytes.length);
      expect(info?.hashes.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
    expect(repo.requests).toContain('/metadata/role1.json');
    expect(await feed.targetInfo('file9.txt')).toBeNull();
  });

  it('go-tuf repository (consistent snapshots)', async () => {
    const repo = await serveRepo(path.join(GO, 'repository'));
    cleanups.push(repo.close);
    const feed = await feedFor(repo, path.join(GO, 'repository/metadata/root.json'), 'file{version}.txt');
    expect((await feed.targetInfo('file3.txt'))?.length).toBe(readFileSync(path.join(GO, 'repository/targets/file3.txt')).length);
    expect(repo.requests).toEqual(expect.arrayContaining(['/metadata/timestamp.json', '/metadata/1.snapshot.json', '/metadata/1.targets.json', '/metadata/1.role1.json']));
  });

  it('tuf-on-ci 0.11: delegated artifact, hash-prefixed target URL (time pinned to the repo\'s faketime)', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2025-02-09T09:17:23Z') });
    const base = path.join(TUF, 'tuf-conformance/tuf_conformance/static_data/tuf-on-ci-0.11');
    const repo = await serveRepo(base);
    cleanups.push(repo.close);
    const feed = await feedFor(repo, path.join(base, 'initial_root.json'), 'delegatedrole/artifact-{version}');
    const info = await feed.targetInfo('delegatedrole/artifact');
    const file = readdirSync(path.join(base, 'targets/delegatedrole'))[0]!;
    expect(file.startsWith(info!.hashes.sha256!)).toBe(true);
    expect(info!.length).toBe(readFileSync(path.join(base, 'targets/delegatedrole', file)).length);
  });

  it('fishy role names are URL-encoded, never used as paths (the 1.a.json trap is never requested)', async () => {
    const base = path.join(TUF, 'python-tuf/tests/repository_data/fishy_rolenames');
    const repo = await serveRepo(base);
    cleanups.push(repo.close);
    const feed = await feedFor(repo, path.join(base, 'metadata/1.root.json'), 'x-{version}');
    // The first delegation, "../a", has no metadata in the vectors: the walk asks for it encoded and stops there.
    expect(await codeOf(feed.targetInfo('anything'))).toBe('ERR_METADATA_INVALID');
    expect(repo.requests).toContain('/metadata/1...%2Fa.json');
    expect(repo.requests.some((r) => r === '/1.a.json' || r.includes('/../'))).toBe(false);
  });

  it('generated ed25519 metadata set', async () => {
    const base = path.join(TUF, 'python-tuf/tests/generated_data/ed25519_metadata');
    const repo = await serveRepo(base, {
      'metadata/1.root.json': 'root_with_ed25519.json',
      'metadata/timestamp.json': 'timestamp_with_ed25519.json',
      'metadata/1.snapshot.json': 'snapshot_with_ed25519.json',
      'metadata/1.targets.json': 'targets_with_ed25519.json',
    });
    cleanups.push(repo.close);
    const feed = await feedFor(repo, path.join(base, 'root_with_ed25519.json'), 'x-{version}');
    expect(await feed.candidates(null, policy)).toEqual([]);
  });
});

describe('advancedtelematic vectors (pre-1.0 TUF format)', () => {
  const dir = path.join(TUF, 'advancedtelematic-tuf-test-vectors/vectors');
  const meta = JSON.parse(readFileSync(path.join(dir, 'vector-meta.json'), 'utf8')) as Array<{ repo: string; is_success: boolean; error?: string }>;
  it('every vector is refused by a TUF 1.0 client, the labelled negatives included', async () => {
    expect(meta.filter((v) => !v.is_success).length).toBeGreaterThan(15);
    for (const v of meta) {
      const repo = await serveRepo(path.join(dir, v.repo, 'repo'), { 'metadata/1.root.json': '1.root.json', 'metadata/timestamp.json': 'timestamp.json' });
      cleanups.push(repo.close);
      const feed = await feedFor(repo, path.join(dir, v.repo, 'repo/1.root.json'), 'file-{version}.txt');
      const code = await codeOf(feed.candidates(null, policy));
      expect(code, `vector ${v.repo} (${v.error ?? 'success'})`).toMatch(/^ERR_(METADATA_INVALID|SIGNATURE_THRESHOLD|METADATA_EXPIRED)$/);
    }
  });
});

// ---- TUF 1.0 negatives made from the go-tuf repo, re-signed with its test keystore ----

type Doc = { signatures: Array<{ keyid: string; sig: string }>; signed: Record<string, unknown> & { version: number } };
const goDoc = (name: string): Doc => JSON.parse(readFileSync(path.join(GO, 'repository/metadata', name), 'utf8')) as Doc;
const rootDoc = goDoc('root.json');
const keyidOf = (role: string): string => ((rootDoc.signed.roles as Record<string, { keyids: string[] }>)[role]!.keyids[0]!);

function signDoc(signed: Doc['signed'], keys: Array<{ keyid: string; pem: Buffer }>): Buffer {
  const msg = Buffer.from(canonicalize(signed));
  const signatures = keys.map((k) => ({
    keyid: k.keyid,
    sig: sign('sha256', msg, { key: createPrivateKey(k.pem), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }).toString('hex'),
  }));
  return Buffer.from(JSON.stringify({ signatures, signed }));
}
const keystore = (name: string): Buffer => readFileSync(path.join(GO, 'keystore', name));
const roleKey = (role: string) => ({ keyid: keyidOf(role), pem: keystore(`${role}_key`) });

/** The public key entry and id of keystore/root_key2, as a TUF root lists it. */
function rootKey2(): { keyid: string; entry: Record<string, unknown> } {
  const pem = createPublicKey(keystore('root_key2')).export({ format: 'pem', type: 'spki' }).toString();
  const entry = { keytype: 'rsa', keyval: { public: pem }, scheme: 'rsassa-pss-sha256' };
  return { keyid: createHash('sha256').update(canonicalize(entry)).digest('hex'), entry };
}

/** The go-tuf repo plus app-1.0.0.txt and app-1.1.0.txt targets (targets v2, snapshot v2, timestamp v2). */
async function appRepo(): Promise<{ repo: Repo; files: Record<string, Buffer> }> {
  const repo = await serveRepo(path.join(GO, 'repository'));
  cleanups.push(repo.close);
  const files: Record<string, Buffer> = { 'app-1.0.0.txt': Buffer.from('app one\n'), 'app-1.1.0.txt': Buffer.from('app one point one\n'.repeat(10)) };
  const targets = goDoc('targets.json');
  const t = { ...targets.signed, version: 2, targets: { ...(targets.signed.targets as object) } } as Doc['signed'] & { targets: Record<string, unknown> };
  for (const [name, bytes] of Object.entries(files)) {
    const sha = createHash('sha256').update(bytes).digest('hex');
    t.targets[name] = { length: bytes.length, hashes: { sha256: sha } };
    repo.overrides.set(`targets/${sha}.${name}`, bytes);
  }
  repo.overrides.set('metadata/2.targets.json', signDoc(t, [roleKey('targets')]));
  const snap = goDoc('snapshot.json');
  repo.overrides.set('metadata/2.snapshot.json', signDoc({ ...snap.signed, version: 2, meta: { ...(snap.signed.meta as object), 'targets.json': { version: 2 } } }, [roleKey('snapshot')]));
  const ts = goDoc('timestamp.json');
  repo.overrides.set('metadata/timestamp.json', signDoc({ ...ts.signed, version: 2, meta: { 'snapshot.json': { version: 2 } } }, [roleKey('timestamp')]));
  return { repo, files };
}

describe('TUF feed releases and refusals', () => {
  it('versions come from the naming rule; a release downloads byte for byte; a changed target fails its hash', async () => {
    const { repo, files } = await appRepo();
    const feed = await feedFor(repo, path.join(GO, 'repository/metadata/root.json'));
    expect(await feed.candidates('1.0.0', policy)).toEqual([{ version: '1.1.0', is_critical: false }]);
    expect((await feed.candidates(null, policy)).map((c) => c.version)).toEqual(['1.1.0', '1.0.0']);
    const r = await feed.release('1.1.0');
    expect(r.verification).toBe('signed');
    const item = r.items[0] as ReleaseFile;
    const sha = createHash('sha256').update(files['app-1.1.0.txt']!).digest('hex');
    expect(item).toMatchObject({ kind: 'file', path: 'app-1.1.0.txt', size: files['app-1.1.0.txt']!.length, digests: { sha256: sha }, url: `${repo.url}/targets/${sha}.app-1.1.0.txt` });
    const dir = await tempDir();
    cleanups.push(() => fsp.rm(dir, { recursive: true, force: true }));
    const dl = { url: item.url, dest: path.join(dir, 'a'), partial: path.join(dir, 'a.part'), size: item.size, sha256: sha, allowInsecureHttp: false, limits: feedEnv(dir).limits };
    await defaultFetcher.download(dl);
    expect(readFileSync(dl.dest)).toEqual(files['app-1.1.0.txt']);
    repo.overrides.set(`targets/${sha}.app-1.1.0.txt`, Buffer.from('evil evil evil evil evil evil evil evil evil evil evil evil evil evil evil evil evil evil evil evil evil evil evil evil evil evil evil evil evil evil evil evil evil evil evil evil evil evil evil evil evil evil evil evil evil!!'.slice(0, item.size)));
    await expect(defaultFetcher.download({ ...dl, dest: path.join(dir, 'b'), partial: path.join(dir, 'b.part') })).rejects.toMatchObject({ code: 'ERR_HASH_MISMATCH' });
    expect(await codeOf(feed.release('3.0.0'))).toBe('ERR_MANIFEST_NOT_FOUND');
  });

  it('an expired timestamp is ERR_METADATA_EXPIRED', async () => {
    const { repo } = await appRepo();
    const ts = goDoc('timestamp.json');
    repo.overrides.set('metadata/timestamp.json', signDoc({ ...ts.signed, version: 2, expires: '2020-01-01T00:00:00Z', meta: { 'snapshot.json': { version: 2 } } }, [roleKey('timestamp')]));
    expect(await codeOf((await feedFor(repo, path.join(GO, 'repository/metadata/root.json'))).candidates(null, policy))).toBe('ERR_METADATA_EXPIRED');
  });

  it('a timestamp whose signature does not verify is ERR_SIGNATURE_THRESHOLD', async () => {
    const { repo } = await appRepo();
    const forged = JSON.parse(repo.overrides.get('metadata/timestamp.json')!.toString()) as Doc;
    forged.signed.version = 3;
    repo.overrides.set('metadata/timestamp.json', Buffer.from(JSON.stringify(forged)));
    expect(await codeOf((await feedFor(repo, path.join(GO, 'repository/metadata/root.json'))).candidates(null, policy))).toBe('ERR_SIGNATURE_THRESHOLD');
  });

  it('a snapshot whose version differs from what the timestamp names is refused', async () => {
    const { repo } = await appRepo();
    const ts = goDoc('timestamp.json');
    repo.overrides.set('metadata/timestamp.json', signDoc({ ...ts.signed, version: 2, meta: { 'snapshot.json': { version: 3 } } }, [roleKey('timestamp')]));
    repo.overrides.set('metadata/3.snapshot.json', repo.overrides.get('metadata/2.snapshot.json')!);
    const feed = await feedFor(repo, path.join(GO, 'repository/metadata/root.json'));
    await expect(feed.candidates(null, policy)).rejects.toMatchObject({ code: 'ERR_METADATA_INVALID', message: expect.stringContaining("Snapshot version doesn't match timestamp") });
  });

  it('root rotation: 2.root.json signed by old and new key is followed; 3.root.json signed only by the removed key is refused', async () => {
    const { repo } = await appRepo();
    const k2 = rootKey2();
    const oldId = keyidOf('root');
    const roles = { ...(rootDoc.signed.roles as Record<string, unknown>), root: { keyids: [k2.keyid], threshold: 1 } };
    const v2 = { ...rootDoc.signed, version: 2, keys: { ...(rootDoc.signed.keys as object), [k2.keyid]: k2.entry }, roles };
    repo.overrides.set('metadata/2.root.json', signDoc(v2, [{ keyid: oldId, pem: keystore('root_key') }, { keyid: k2.keyid, pem: keystore('root_key2') }]));
    const feed = await feedFor(repo, path.join(GO, 'repository/metadata/root.json'));
    expect((await feed.candidates(null, policy)).map((c) => c.version)).toEqual(['1.1.0', '1.0.0']);
    expect(repo.requests).toContain('/metadata/2.root.json');
    const v3 = { ...v2, version: 3 };
    repo.overrides.set('metadata/3.root.json', signDoc(v3, [{ keyid: oldId, pem: keystore('root_key') }]));
    expect(await codeOf((await feedFor(repo, path.join(GO, 'repository/metadata/root.json'))).candidates(null, policy))).toBe('ERR_SIGNATURE_THRESHOLD');
  });
});
