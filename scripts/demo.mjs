#!/usr/bin/env node
// `npm run demo`: a complete local setup in .demo/ — a signing key, a signed feed with a demo product
// (1.0.0 installed; 1.1.0 and a critical 1.2.0 published with Markdown notes; 1.2.0 carries a ~40 MiB
// asset), served over loopback HTTP at a throttled rate (4 MiB/s) so every phase of an update can be
// watched, a tiny demo service whose /health reports its version, and the Upkeep daemon with its
// dashboard on 127.0.0.1. The admin token is kept across runs (.demo-token). No display needed.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { createReadStream, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync, readFileSync, chmodSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Everything the demo makes (recreated on every run): .demo/ in the checkout, or UPKEEP_DEMO_DIR. */
const demo = process.env.UPKEEP_DEMO_DIR ? path.resolve(process.env.UPKEEP_DEMO_DIR) : path.join(root, '.demo');
/** Outside .demo/ (which every run recreates), so the token pasted into the dashboard keeps working. */
const tokenFile = path.join(root, '.demo-token');
/** Feed transfer rate, bytes per second. */
export const FEED_RATE = 4 * 1024 * 1024;
/** Size of the large asset in 1.2.0 (about ten seconds of download at FEED_RATE). */
export const BIG_ASSET_BYTES = 40 * 1024 * 1024;
const bin = path.join(root, 'bin', 'upkeep.js');
const node = process.execPath;

function upkeep(args, opts = {}) {
  const r = spawnSync(node, [bin, ...args], { cwd: demo, encoding: 'utf8', ...opts });
  if (r.status !== 0) {
    process.stderr.write(r.stdout + r.stderr);
    throw new Error(`upkeep ${args.join(' ')} exited with ${r.status}`);
  }
  return r.stdout;
}

/** Like upkeep() without blocking this process (which serves the feed meanwhile). */
function upkeepAsync(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(node, [bin, ...args], { cwd: demo, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else {
        process.stderr.write(out);
        reject(new Error(`upkeep ${args.join(' ')} exited with ${code}`));
      }
    });
  });
}

function freePort(preferred) {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => {
      const t = createServer();
      t.listen(0, '127.0.0.1', () => {
        const { port } = t.address();
        t.close(() => resolve(port));
      });
    });
    s.listen(preferred, '127.0.0.1', () => s.close(() => resolve(preferred)));
  });
}

const SERVICE = `#!/usr/bin/env node
// Demo service managed by Upkeep: /health reports the installed version (read on every request).
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const port = Number(process.argv[2] || process.env.DEMO_PORT || 8080);
const versionFile = path.join(__dirname, '..', 'VERSION');
http.createServer((req, res) => {
  const version = fs.readFileSync(versionFile, 'utf8').trim();
  if (req.url === '/health') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ status: 'ok', version }));
  } else {
    res.end('Demo service ' + version + '\\n');
  }
}).listen(port, '127.0.0.1', () => console.log('demo service on http://127.0.0.1:' + port));
`;

const NOTES = {
  '1.0.0': '## Demo 1.0.0\n\nThe first release of the demo service.',
  '1.1.0': '## What\'s new in 1.1.0\n\n- Faster start-up\n- A friendlier `/health` answer\n\nSee the [changelog](https://example.com/changelog).',
  '1.2.0': '## 1.2.0 — security fix\n\n**Critical:** fixes a request smuggling issue.\n\n- Hardened header parsing\n- Rotated the default secret\n\n| area | change |\n|---|---|\n| http | stricter parsing |',
};

/** Deterministic incompressible bytes (SHA-256 counter stream) for the large demo asset. */
function bigAsset(bytes) {
  const out = Buffer.alloc(bytes);
  for (let off = 0, i = 0; off < bytes; i++) {
    const block = createHmac('sha256', 'upkeep-demo').update(String(i)).digest();
    off += block.copy(out, off);
  }
  return out;
}

/**
 * Serves `dir` read-only over HTTP on 127.0.0.1 at `rate` bytes/s per response (Range requests
 * honoured, so interrupted downloads resume). Returns { url, close }.
 */
export function serveThrottled(dir, rate) {
  const server = createHttpServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '');
    const file = path.resolve(dir, rel);
    let size;
    try {
      if (!file.startsWith(path.resolve(dir) + path.sep) || (req.method !== 'GET' && req.method !== 'HEAD')) throw new Error('no');
      const st = statSync(file);
      if (!st.isFile()) throw new Error('no');
      size = st.size;
    } catch {
      res.writeHead(404).end();
      return;
    }
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range && Number(range[1]) < size) start = Number(range[1]);
    const headers = { 'content-type': 'application/octet-stream', 'content-length': String(size - start), 'accept-ranges': 'bytes', 'cache-control': 'no-cache' };
    if (start > 0) res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${size - 1}/${size}` });
    else res.writeHead(200, headers);
    if (req.method === 'HEAD' || size === start) {
      res.end();
      return;
    }
    const began = Date.now();
    let sent = 0;
    const stream = createReadStream(file, { start, highWaterMark: 64 * 1024 });
    stream.on('data', (chunk) => {
      sent += chunk.length;
      res.write(chunk);
      const ahead = (sent / rate) * 1000 - (Date.now() - began);
      if (ahead > 0) {
        stream.pause();
        setTimeout(() => stream.resume(), ahead);
      }
    });
    stream.on('end', () => res.end());
    stream.on('error', () => res.destroy());
    res.on('close', () => stream.destroy());
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${server.address().port}/`, close: () => new Promise((r) => server.close(r)) }));
  });
}

/** The admin token kept from the last run, or a new one; returns { token, sha256, kept }. */
function adminToken() {
  if (existsSync(tokenFile)) {
    const token = readFileSync(tokenFile, 'utf8').trim();
    if (/^upk_[A-Za-z0-9_-]{20,}$/.test(token)) return { token, sha256: createHash('sha256').update(token).digest('hex'), kept: true };
  }
  const made = JSON.parse(upkeep(['--json', 'token', 'create', '--name', 'demo-admin', '--scope', 'admin']));
  writeFileSync(tokenFile, made.token + '\n', { mode: 0o600 });
  return { token: made.token, sha256: made.sha256, kept: false };
}

function writeBuild(version) {
  const b = path.join(demo, 'builds', version);
  mkdirSync(path.join(b, 'bin'), { recursive: true });
  mkdirSync(path.join(b, 'config'), { recursive: true });
  writeFileSync(path.join(b, 'VERSION'), version + '\n');
  writeFileSync(path.join(b, 'bin', 'demo-service.js'), SERVICE);
  chmodSync(path.join(b, 'bin', 'demo-service.js'), 0o755);
  writeFileSync(path.join(b, 'README.md'), `# Demo service ${version}\n`);
  writeFileSync(path.join(b, 'config', 'app.conf'), `greeting = "hello from ${version}"\n`);
  if (version !== '1.0.0') writeFileSync(path.join(b, 'CHANGELOG.md'), NOTES[version]);
  if (version === '1.2.0') {
    mkdirSync(path.join(b, 'assets'), { recursive: true });
    writeFileSync(path.join(b, 'assets', 'bundle.bin'), bigAsset(BIG_ASSET_BYTES));
  }
  const notes = path.join(demo, 'builds', `notes-${version}.md`);
  writeFileSync(notes, NOTES[version]);
  return { dir: b, notes };
}

/**
 * True when `built` is missing or a file under one of `dirs` changed after it was written (mtime):
 * after a `git pull` or an edit, the demo must not run yesterday's command line or dashboard.
 */
export function needsBuild(built, dirs) {
  let builtAt;
  try {
    builtAt = statSync(built).mtimeMs;
  } catch {
    return true;
  }
  const newer = (dir) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return false;
    }
    return entries.some((e) => {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) return e.name !== 'node_modules' && newer(p);
      return e.isFile() && statSync(p).mtimeMs > builtAt;
    });
  };
  return dirs.some(newer);
}

async function main() {
  const sources = (...dirs) => dirs.map((d) => path.join(root, d));
  // As `npm run build:node`: tsc, then the one-file bundle, which every build rewrites (tsc leaves
  // unchanged outputs alone), so the bundle's time says when the command line was last built.
  if (needsBuild(path.join(root, 'dist', 'node', 'src-main', 'cli', 'upkeep-cli.js'), sources('src-main', 'src-shared'))) {
    console.log('Building the command line...');
    const tsc = spawnSync(node, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.node.json')], { stdio: 'inherit' });
    if (tsc.status === 0) spawnSync(node, [path.join(root, 'scripts', 'bundle-cli.mjs')], { cwd: root, stdio: 'inherit' });
  }
  if (needsBuild(path.join(root, 'out', 'renderer', 'index.html'), sources('src-renderer', 'src-shared'))) {
    console.log('Building the dashboard...');
    const r = spawnSync(node, [path.join(root, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js'), 'build'], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) console.log('(dashboard build failed; the API still runs)');
  }

  rmSync(demo, { recursive: true, force: true });
  mkdirSync(demo, { recursive: true });
  upkeep(['release', 'keygen', '--out', 'keys']);
  const pub = readFileSync(path.join(demo, 'keys', 'upkeep.pub'), 'utf8').trim();
  for (const v of ['1.0.0', '1.1.0', '1.2.0']) {
    const { dir, notes } = writeBuild(v);
    upkeep(['release', 'publish', dir, '--feed', 'feed', '--product', 'demo', '--version', v, '--channel', 'stable', '--key', 'keys/upkeep.key', '--notes', notes, ...(v === '1.2.0' ? ['--critical'] : [])]);
  }

  const servicePort = await freePort(18080);
  const apiPort = Number(process.env.UPKEEP_DEMO_PORT || (await freePort(8765)));
  const token = adminToken();
  const feed = await serveThrottled(path.join(demo, 'feed'), FEED_RATE);
  const config = (withHealth) => `# Generated by npm run demo
state_dir: ./state
api:
  host: 127.0.0.1
  port: ${apiPort}
  tokens:
    - { name: demo-admin, sha256: ${token.sha256}, scopes: [admin] }
targets:
  - id: demo
    name: Demo service
    kind: files
    layout: in-place
    install_dir: ./install
    product: demo
    feed: { url: "${feed.url}" }
    channel: stable
    trust: { keys: ["${pub}"], threshold: 1 }
    retention: 3
    check_interval: 300
    auto_apply: none
${withHealth ? `    health: { url: "http://127.0.0.1:${servicePort}/health", expect_version: true, timeout_s: 5, retries: 5 }\n` : ''}`;
  // The first install has no service to health-check yet: install 1.0.0, start the service from
  // the install dir, then switch on the health check for every later update.
  writeFileSync(path.join(demo, 'upkeep.yaml'), config(false));
  await upkeepAsync(['apply', '--version', '1.0.0']);
  const service = spawn(node, [path.join(demo, 'install', 'bin', 'demo-service.js'), String(servicePort)], { stdio: 'ignore' });
  writeFileSync(path.join(demo, 'upkeep.yaml'), config(true));
  await upkeepAsync(['check']);

  // Its own process group: Ctrl+C reaches only this script, which stops the daemon once.
  const daemon = spawn(node, [bin, 'daemon', '--config', path.join(demo, 'upkeep.yaml')], { cwd: demo, stdio: ['ignore', 'inherit', 'inherit'], detached: true });
  const url = `http://127.0.0.1:${apiPort}/`;
  console.log(`
Upkeep demo is running.
  Dashboard:    ${url}
  Admin token:  ${token.token}  ${token.kept ? '(same as last run, kept in .demo-token)' : '(new; kept in .demo-token for the next runs)'}
  Feed:         ${feed.url} (throttled to ${FEED_RATE / 1024 / 1024} MiB/s; 1.2.0 brings a ${BIG_ASSET_BYTES / 1024 / 1024} MiB asset)
  Demo service: http://127.0.0.1:${servicePort}/health (now 1.0.0; 1.1.0 and a critical 1.2.0 are published)
  Try:          curl -H "Authorization: Bearer ${token.token}" -X POST ${url}api/targets/demo/apply
  CLI:          node bin/upkeep.js --config ${demo.startsWith(root + path.sep) ? path.relative(root, path.join(demo, 'upkeep.yaml')) : path.join(demo, 'upkeep.yaml')} status
Press Ctrl+C to stop.
`);
  let stopping = false;
  // The daemon gets the signal this script got, so Ctrl+C reads "SIGINT: stopping", not SIGTERM.
  const stop = (signal) => {
    if (stopping) return;
    stopping = true;
    daemon.kill(signal);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  daemon.on('exit', (code) => {
    service.kill('SIGTERM');
    void feed.close();
    console.log('Upkeep demo stopped.');
    process.exit(code ?? 0);
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((err) => {
    console.error(err.message);
    process.exit(1);
  });
}
