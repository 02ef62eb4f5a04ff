/**
 * A real OCI registry for tests: Debian's `docker-registry` (distribution 2.8) on a free loopback
 * port with its own storage in a temp dir, optionally behind token authentication served by a
 * small token service in this process (ES256 JWTs with an x5c chain, as the registry verifies
 * them). Images are pushed through the registry's HTTP API in OCI layout.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, createPrivateKey, sign as signData, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

export interface Registry {
  host: string; // 127.0.0.1:PORT
  stop(): Promise<void>;
  /** Pushes a one-layer linux/amd64 image under repo:tag; returns the manifest digest. */
  push(repo: string, tag: string, content: string): Promise<string>;
  /** Pushes an OCI index of two platform images under repo:tag; returns the index digest. */
  pushIndex(repo: string, tag: string, content: string): Promise<string>;
  /** "service scope" of every request the token service answered. */
  tokenRequests: string[];
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** Starts a registry; with `auth`, every request needs a token issued for user/password. */
export async function startRegistry(o: { auth?: { username: string; password: string } } = {}): Promise<Registry> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'upkeep-registry-'));
  const port = await freePort();
  const tokenRequests: string[] = [];
  let tokenServer: http.Server | null = null;
  let issue: ((scope: string) => string) | null = null;
  let authBlock = '';
  if (o.auth) {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-subj', '/CN=upkeep-test-token-issuer', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
    const key = createPrivateKey(readFileSync(path.join(dir, 'key.pem')));
    const certDer = Buffer.from(readFileSync(path.join(dir, 'cert.pem'), 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const mint = (scope: string): string => {
      const access = scope ? scope.split(' ').map((s) => { const [type, name, actions] = s.split(':'); return { type, name, actions: (actions ?? '').split(',') }; }) : [];
      const now = Math.floor(Date.now() / 1000);
      const head = b64url(JSON.stringify({ typ: 'JWT', alg: 'ES256', x5c: [certDer.toString('base64')] }));
      const body = b64url(JSON.stringify({ iss: 'upkeep-test-issuer', sub: o.auth!.username, aud: 'upkeep-test-registry', exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access }));
      const sig = signData('sha256', Buffer.from(`${head}.${body}`), { key, dsaEncoding: 'ieee-p1363' });
      return `${head}.${body}.${b64url(sig)}`;
    };
    issue = mint;
    const tport = await freePort();
    tokenServer = http.createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      tokenRequests.push(`${u.searchParams.get('service')} ${u.searchParams.get('scope')}`);
      const want = `Basic ${Buffer.from(`${o.auth!.username}:${o.auth!.password}`).toString('base64')}`;
      if (req.headers.authorization !== want) { res.writeHead(401); res.end(); return; }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token: mint(u.searchParams.get('scope') ?? ''), expires_in: 300 }));
    });
    await new Promise<void>((r) => tokenServer!.listen(tport, '127.0.0.1', r));
    authBlock = `auth:\n  token:\n    realm: http://127.0.0.1:${tport}/token\n    service: upkeep-test-registry\n    issuer: upkeep-test-issuer\n    rootcertbundle: ${path.join(dir, 'cert.pem')}\n`;
  }
  writeFileSync(path.join(dir, 'config.yml'),
    `version: 0.1\nlog: { level: error }\nstorage:\n  filesystem: { rootdirectory: ${path.join(dir, 'data')} }\n  delete: { enabled: true }\nhttp:\n  addr: 127.0.0.1:${port}\n${authBlock}`);
  const child: ChildProcess = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => { stderr += b.toString(); });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      const r = await fetch(`${base}/v2/`);
      if (r.status === 200 || r.status === 401) break;
    } catch { /* not up yet */ }
    if (i > 100) throw new Error(`docker-registry did not start: ${stderr}`);
    await delay(50);
  }
  // Pushes from the test carry a token with push access, minted directly.
  const authFor = (repo: string): Record<string, string> =>
    issue ? { authorization: `Bearer ${issue(`repository:${repo}:pull,push`)}` } : {};

  async function putBlob(repo: string, data: Buffer): Promise<string> {
    const digest = sha(data);
    const start = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: authFor(repo) });
    if (start.status !== 202) throw new Error(`blob upload start: ${start.status} ${await start.text()}`);
    const loc = new URL(start.headers.get('location') ?? '', base);
    loc.searchParams.set('digest', digest);
    const put = await fetch(loc, { method: 'PUT', body: data, headers: { ...authFor(repo), 'content-type': 'application/octet-stream' } });
    if (put.status !== 201) throw new Error(`blob upload: ${put.status} ${await put.text()}`);
    return digest;
  }
  async function putManifest(repo: string, ref: string, body: Buffer, mediaType: string): Promise<string> {
    const r = await fetch(`${base}/v2/${repo}/manifests/${ref}`, { method: 'PUT', body, headers: { ...authFor(repo), 'content-type': mediaType } });
    if (r.status !== 201) throw new Error(`manifest put: ${r.status} ${await r.text()}`);
    return sha(body);
  }
  async function image(repo: string, content: string, arch: string): Promise<{ digest: string; size: number; body: Buffer }> {
    const layer = Buffer.from(`${content}/${arch}`);
    const config = Buffer.from(JSON.stringify({ architecture: arch, os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(layer)] }, config: {} }));
    const cd = await putBlob(repo, config);
    const ld = await putBlob(repo, layer);
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cd, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: ld, size: layer.length }],
    }));
    const digest = await putManifest(repo, sha(manifest), manifest, 'application/vnd.oci.image.manifest.v1+json');
    return { digest, size: manifest.length, body: manifest };
  }
  return {
    host: `127.0.0.1:${port}`,
    tokenRequests,
    async push(repo, tag, content) {
      const { body } = await image(repo, content, 'amd64');
      return putManifest(repo, tag, body, 'application/vnd.oci.image.manifest.v1+json');
    },
    async pushIndex(repo, tag, content) {
      const a = await image(repo, content, 'amd64');
      const b = await image(repo, content, 'arm64');
      const index = Buffer.from(JSON.stringify({
        schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: a.digest, size: a.size, platform: { architecture: 'amd64', os: 'linux' } },
          { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: b.digest, size: b.size, platform: { architecture: 'arm64', os: 'linux' } },
        ],
      }));
      return putManifest(repo, tag, index, 'application/vnd.oci.image.index.v1+json');
    },
    async stop() {
      child.kill('SIGKILL');
      await new Promise<void>((r) => tokenServer ? tokenServer.close(() => r()) : r());
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
