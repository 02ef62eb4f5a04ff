/**
 * Harness for the browser end-to-end tests: a real signed feed (published with the real CLI),
 * served by a local HTTP server that can hold a blob mid-transfer, the real daemon as a child
 * process serving the built dashboard, and headless Debian Chromium driven by playwright-core.
 * Nothing here fakes the product: the tests see what a user's browser sees.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createReadStream, existsSync, promises as fsp, readdirSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { BIN, ROOT, runCli, type CliRun } from '../helpers/cli';
import { tempDir, writeTree } from '../helpers/tree';

export { ROOT, BIN };

/** Where every screenshot goes (git-ignored). */
export const RESULTS_DIR = path.join(ROOT, 'test-results', 'e2e');
/** Where README screenshots go when UPKEEP_UPDATE_SCREENSHOTS=1. */
export const DOCS_SCREENSHOTS_DIR = path.join(ROOT, 'docs', 'screenshots');
/** Debian's Chromium; browsers are never downloaded. Overridable for other machines. */
export const CHROMIUM_PATH = process.env.UPKEEP_CHROMIUM ?? '/usr/bin/chromium';

/** Runs `upkeep ...args` and fails with its output when it exits non-zero. */
export async function upkeepOk(args: string[], cwd?: string): Promise<CliRun> {
  const r = await runCli(args, cwd ? { cwd } : {});
  if (r.code !== 0) throw new Error(`upkeep ${args.join(' ')} exited with ${r.code}\n${r.stdout}${r.stderr}`);
  return r;
}

// ---- the dashboard build ------------------------------------------------------------------------

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const abs = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(abs) : statSync(abs).mtimeMs);
  }
  return newest;
}

/**
 * Makes sure out/renderer holds a dashboard built from the current src-renderer and src-shared
 * sources, running `electron-vite build` when it is missing or older. Returns its index.html path.
 */
export function ensureDashboardBuilt(): string {
  const index = path.join(ROOT, 'out', 'renderer', 'index.html');
  const sources = Math.max(newestMtime(path.join(ROOT, 'src-renderer')), newestMtime(path.join(ROOT, 'src-shared')));
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return index;
  const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js'), 'build'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0 || !existsSync(index)) throw new Error(`Building the dashboard failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
  return index;
}

// ---- feed fixture -------------------------------------------------------------------------------

export type Files = Parameters<typeof writeTree>[1];

export interface FeedFixture {
  /** Temp dir holding everything (keys, builds, feed, config, state, install). */
  dir: string;
  feed: string;
  key: string;
  /** `ed25519:<base64>` public key line. */
  pub: string;
  /** Writes a build tree for `version` and returns its directory. */
  build(version: string, files: Files): Promise<string>;
  /** Publishes `buildDir` as `version` on channel stable with these Markdown notes. */
  publish(buildDir: string, version: string, notes: string, extra?: string[]): Promise<void>;
  /** build + publish: writes `files` as `version`'s build, publishes it, and returns the build dir. */
  release(version: string, files: Files, notes: string, extra?: string[]): Promise<string>;
  cleanup(): Promise<void>;
}

/** A temp dir with a fresh signing key and an empty feed directory. */
export async function createFeedFixture(prefix = 'upkeep-e2e-browser-'): Promise<FeedFixture> {
  const dir = await tempDir(prefix);
  const keys = path.join(dir, 'keys');
  await upkeepOk(['release', 'keygen', '--out', keys, '--json']);
  const key = path.join(keys, 'upkeep.key');
  const pub = (await fsp.readFile(path.join(keys, 'upkeep.pub'), 'utf8')).trim();
  const feed = path.join(dir, 'feed');
  const fixture: FeedFixture = {
    dir,
    feed,
    key,
    pub,
    async build(version, files) {
      const b = path.join(dir, 'builds', version);
      await writeTree(b, files);
      return b;
    },
    async publish(buildDir, version, notes, extra = []) {
      const notesFile = path.join(dir, 'builds', `notes-${version}.md`);
      await fsp.writeFile(notesFile, notes);
      await upkeepOk(['release', 'publish', buildDir, '--feed', feed, '--product', 'demo', '--version', version, '--channel', 'stable', '--key', key, '--notes', notesFile, ...extra, '--json']);
    },
    async release(version, files, notes, extra = []) {
      const b = await fixture.build(version, files);
      await fixture.publish(b, version, notes, extra);
      return b;
    },
    async cleanup() {
      await fsp.rm(dir, { recursive: true, force: true });
    },
  };
  return fixture;
}

// ---- feed HTTP server with a gate -----------------------------------------------------------------

export interface FeedServer {
  /** Base URL, e.g. http://127.0.0.1:PORT/ (loopback http is allowed for feeds). */
  url: string;
  /** Blob requests (by path) seen so far. */
  blobRequests: string[];
  /**
   * Holds blobs larger than `minBytes`: each such response sends its first half (slowly) and then
   * waits until `release()` is called. Returns a promise that resolves once a held blob is waiting.
   */
  hold(minBytes: number): Promise<void>;
  /** Lets held and future blobs through. */
  release(): void;
  close(): Promise<void>;
}

/** Serves `root` read-only over HTTP on 127.0.0.1 with an ephemeral port. */
export async function startFeedServer(root: string): Promise<FeedServer> {
  let holdMin: number | null = null;
  let gate: Promise<void> = Promise.resolve();
  let openGate: () => void = () => undefined;
  let onHeld: (() => void) | null = null;
  const blobRequests: string[] = [];
  const sockets = new Set<import('node:net').Socket>();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '');
    const abs = path.resolve(root, rel);
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !abs.startsWith(path.resolve(root) + path.sep)) {
      res.writeHead(404).end();
      return;
    }
    let size: number;
    try {
      const st = await fsp.stat(abs);
      if (!st.isFile()) throw new Error('not a file');
      size = st.size;
    } catch {
      res.writeHead(404).end();
      return;
    }
    const isBlob = rel.startsWith('blobs/');
    if (isBlob) blobRequests.push(rel);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size), 'cache-control': 'no-cache' });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (isBlob && holdMin !== null && size >= holdMin) {
      const half = Math.floor(size / 2);
      const fh = await fsp.open(abs, 'r');
      try {
        // Like a slow link: the first half in slices a little apart (so the client sees bytes
        // arrive over time and reports progress), then nothing until release().
        const slices = 8;
        for (let i = 0; i < slices; i++) {
          const from = Math.floor((half * i) / slices);
          const to = Math.floor((half * (i + 1)) / slices);
          const chunk = Buffer.alloc(to - from);
          await fh.read(chunk, 0, chunk.length, from);
          res.write(chunk);
          await new Promise((resolve) => setTimeout(resolve, 150));
        }
        onHeld?.();
        await gate;
        const rest = Buffer.alloc(size - half);
        await fh.read(rest, 0, size - half, half);
        res.end(rest);
      } finally {
        await fh.close();
      }
      return;
    }
    createReadStream(abs).pipe(res);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    blobRequests,
    hold(minBytes) {
      holdMin = minBytes;
      gate = new Promise<void>((resolve) => (openGate = resolve));
      return new Promise<void>((resolve) => (onHeld = resolve));
    },
    release() {
      holdMin = null;
      onHeld = null;
      openGate();
    },
    async close() {
      openGate();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---- config, token, daemon ------------------------------------------------------------------------

export interface AdminToken {
  token: string;
  sha256: string;
}

/** A fresh admin token from `upkeep token create` (the plain token and the hash for the config). */
export async function createAdminToken(name = 'e2e-admin'): Promise<AdminToken> {
  const r = await upkeepOk(['--json', 'token', 'create', '--name', name, '--scope', 'admin']);
  const { token, sha256 } = r.json as AdminToken;
  if (typeof token !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`unexpected token output: ${r.stdout}`);
  return { token, sha256 };
}

/**
 * Writes an upkeep.yaml for one files target "demo" (in-place layout) fed from `feedUrl` (an
 * http://127.0.0.1 URL or a directory); with `token`, that token is the API's admin token.
 */
export async function writeDaemonConfig(f: FeedFixture, feedUrl: string, token?: AdminToken): Promise<string> {
  const file = path.join(f.dir, 'upkeep.yaml');
  await fsp.writeFile(file, [
    'state_dir: ./state',
    'api:',
    '  host: 127.0.0.1',
    '  port: 0',
    ...(token ? ['  tokens:', `    - { name: e2e-admin, sha256: ${token.sha256}, scopes: [admin] }`] : ['  tokens: []']),
    'targets:',
    '  - id: demo',
    '    name: Demo service',
    '    kind: files',
    '    layout: in-place',
    '    install_dir: ./install',
    '    product: demo',
    `    feed: { url: ${JSON.stringify(feedUrl)} }`,
    '    channel: stable',
    `    trust: { keys: [${JSON.stringify(f.pub)}], threshold: 1 }`,
    '    retention: 3',
    '    check_interval: 3600',
    '    auto_apply: none',
    '',
  ].join('\n'));
  return file;
}

export interface Daemon {
  /** e.g. http://127.0.0.1:PORT */
  url: string;
  /** Everything the daemon wrote so far (stdout + stderr), for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** Starts `upkeep daemon --config FILE --port 0 --json` and resolves once it printed its ready line. */
export async function startDaemon(config: string, cwd: string): Promise<Daemon> {
  const child: ChildProcess = spawn(process.execPath, [BIN, 'daemon', '--config', config, '--port', '0', '--no-watch', '--json'], {
    cwd,
    env: { ...process.env, UPKEEP_CONFIG: undefined } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`daemon did not become ready:\n${out}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const msg = JSON.parse(line);
          if (msg?.event === 'ready' && typeof msg.url === 'string') {
            clearTimeout(timer);
            resolve(msg.url.replace(/\/+$/, ''));
          }
        } catch {
          // not a JSON line
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`daemon exited with ${code} before it was ready:\n${out}`));
    });
  });
  return {
    url,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// ---- browser ------------------------------------------------------------------------------------

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught page errors seen so far. */
  errors: string[];
  close(): Promise<void>;
}

export interface LaunchOptions {
  /**
   * Ignore the page's Content-Security-Policy, to prove a defence holds on its own (the
   * sanitiser), not only because the CSP also blocks inline script.
   */
  bypassCSP?: boolean;
}

/** Launches headless Chromium with a fresh profile directory and opens one page. */
export async function launchBrowser(options: LaunchOptions = {}): Promise<Browser> {
  const profile = await tempDir('upkeep-chromium-');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    viewport: { width: 1280, height: 800 },
    bypassCSP: options.bypassCSP ?? false,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  page.on('response', (res) => {
    if (res.status() >= 400) errors.push(`http ${res.status()}: ${res.request().method()} ${new URL(res.url()).pathname}`);
  });
  return {
    context,
    page,
    errors,
    async close() {
      await context.close();
      await fsp.rm(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Saves a full-page PNG as test-results/e2e/<name>.png and, when UPKEEP_UPDATE_SCREENSHOTS=1 and
 * `docs` is not false, as docs/screenshots/<name>.png (the README's pictures). Returns the first path.
 */
export async function screenshot(page: Page, name: string, options: { docs?: boolean } = {}): Promise<string> {
  await fsp.mkdir(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${name}.png`);
  const png = await page.screenshot({ path: file, fullPage: true, animations: 'disabled' });
  if (process.env.UPKEEP_UPDATE_SCREENSHOTS === '1' && options.docs !== false) {
    await fsp.mkdir(DOCS_SCREENSHOTS_DIR, { recursive: true });
    await fsp.writeFile(path.join(DOCS_SCREENSHOTS_DIR, `${name}.png`), png);
  }
  return file;
}

/** Closes every toast on screen (as a user would), so screenshots show the screen underneath. */
export async function dismissToasts(page: Page): Promise<void> {
  const buttons = page.locator('[data-testid="toast"] button');
  for (let n = await buttons.count(); n > 0; n = await buttons.count()) {
    await buttons.first().click();
    await page.waitForFunction((before) => document.querySelectorAll('[data-testid="toast"]').length < before, n);
  }
}

// ---- a suite's set-up and teardown ----------------------------------------------------------------

/** A suite's first step: the dashboard built (when its sources are newer), then a fresh feed fixture. */
export function dashboardFixture(prefix: string): Promise<FeedFixture> {
  ensureDashboardBuilt();
  return createFeedFixture(prefix);
}

/** The real daemon over `config` (started in `cwd`) and headless Chromium with one page, for a suite. */
export async function openDashboard(config: string, cwd: string): Promise<{ daemon: Daemon; browser: Browser; page: Page }> {
  const daemon = await startDaemon(config, cwd);
  const browser = await launchBrowser().catch(async (err: unknown) => {
    await daemon.stop();
    throw err;
  });
  return { daemon, browser, page: browser.page };
}

/** Something a suite opened: a browser or feed server (close), a daemon (stop), a fixture (cleanup). */
export type Opened = { close(): Promise<void> } | { stop(): Promise<void> } | { cleanup(): Promise<void> } | null | undefined;

/** Closes what a suite opened, in the order given (browser, daemon, feed server, fixture); what a failed set-up never opened is skipped. */
export async function closeAll(...items: Opened[]): Promise<void> {
  for (const x of items) {
    if (!x) continue;
    if ('close' in x) await x.close();
    else if ('stop' in x) await x.stop();
    else await x.cleanup();
  }
}
