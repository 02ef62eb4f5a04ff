/**
 * Shared set-up of the daemon integration tests: a real signed local feed (published release by
 * release), a YAML config on disk, the real daemon core + HTTP server in this process or as a
 * real `upkeep daemon` child, a JSON client over the real fetch, and bounded polling.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createDaemon, type Daemon } from '../../src-main/engine/daemon';
import { startServer, type RunningServer } from '../../src-main/server/index';
import { createToken } from '../../src-main/cli/commands/token';
import { BIN, ROOT } from '../helpers/cli';
import { FeedBuilder, indexPayload, makeKey, type TestKey } from '../helpers/feed-builder';
import { tempDir, writeTree } from '../helpers/tree';

export type Files = Record<string, string>;

export interface IndexEntry {
  version: string;
  manifest: string;
  sha256: string;
  size: number;
  is_critical: boolean;
  /** Staged rollout: the share of machines (0–100) that may take it; absent reaches everyone. */
  rollout?: { percent: number };
}

/** A temp dir holding a signed feed, a config, the install dir and builds of every published version. */
export class Fixture {
  readonly feed: FeedBuilder;
  readonly entries: IndexEntry[] = [];
  /** Files of each published version, as published. */
  readonly published = new Map<string, Files>();
  /** Manifest envelope sha256 of each published version. */
  readonly manifestHash = new Map<string, string>();
  private sequence = 0;
  readonly admin = createToken();
  readonly reader = createToken();

  private constructor(readonly dir: string, readonly key: TestKey) {
    this.feed = new FeedBuilder(path.join(dir, 'feed'));
  }

  static async create(prefix = 'upkeep-daemon-'): Promise<Fixture> {
    const dir = await tempDir(prefix);
    return new Fixture(dir, makeKey());
  }

  get installDir(): string {
    return path.join(this.dir, 'install');
  }

  get configPath(): string {
    return path.join(this.dir, 'upkeep.yaml');
  }

  get feedDir(): string {
    return this.feed.dir;
  }

  /** Publishes a signed release and a new channel index (sequence + 1) listing every release so far. */
  async publish(version: string, files: Files, o: { critical?: boolean; buildCommit?: string; notes?: string; rollout?: number } = {}): Promise<void> {
    const over: Record<string, unknown> = {
      is_critical: o.critical ?? false,
      build_commit: o.buildCommit ?? `c0ffee${version.replace(/\D/g, '')}`,
      release_notes: o.notes ?? `## ${version}\n- changes`,
    };
    const e = await this.feed.release(version, files, [this.key], over);
    const entry: IndexEntry = {
      version: e.version, manifest: e.manifest, sha256: e.sha256, size: e.size, is_critical: o.critical ?? false, ...(o.rollout !== undefined ? { rollout: { percent: o.rollout } } : {}),
    };
    this.entries.push(entry);
    this.published.set(version, files);
    this.manifestHash.set(version, e.sha256);
    await this.signIndex();
  }

  /** Sets the staged-rollout percent of a published version and signs a new index (sequence + 1). */
  async setRollout(version: string, percent: number): Promise<void> {
    const entry = this.entries.find((x) => x.version === version);
    if (!entry) throw new Error(`${version} is not published`);
    entry.rollout = { percent };
    await this.signIndex();
  }

  private async signIndex(): Promise<void> {
    this.sequence += 1;
    await this.feed.index('stable', indexPayload(this.sequence, this.entries), [this.key]);
  }

  /** The YAML text of a one-target config (`demo`, files, in-place) over this fixture's feed. */
  configText(o: { name?: string; target?: string[]; api?: string[]; top?: string[]; extraTargets?: string[] } = {}): string {
    return [
      'state_dir: ./state',
      ...(o.top ?? []),
      'api:',
      '  port: 8765',
      '  public_reads: false',
      '  tokens:',
      `    - { name: ops, sha256: ${this.admin.sha256}, scopes: [admin] }`,
      `    - { name: grafana, sha256: ${this.reader.sha256}, scopes: [read] }`,
      ...(o.api ?? []).map((l) => `  ${l}`),
      'targets:',
      '  - id: demo',
      `    name: ${o.name ?? 'Demo server'}`,
      '    kind: files',
      '    install_dir: ./install',
      '    product: demo',
      `    feed: { url: ${JSON.stringify(this.feedDir)} }`,
      `    trust: { keys: [${JSON.stringify(this.key.line)}], threshold: 1 }`,
      ...(o.target ?? []).map((l) => `    ${l}`),
      ...(o.extraTargets ?? []).map((l) => `  ${l}`),
      '',
    ].join('\n');
  }

  async writeConfig(text: string): Promise<void> {
    await fsp.writeFile(this.configPath, text);
  }

  /** Writes `files` into a fresh dir (for snapshot comparisons with the install dir). */
  async build(version: string): Promise<string> {
    const dir = path.join(this.dir, `build-${version}`);
    await fsp.rm(dir, { recursive: true, force: true });
    await writeTree(dir, Object.fromEntries(Object.entries(this.published.get(version)!).map(([p, d]) => [p, { data: d, mode: 0o644 }])));
    return dir;
  }

  async cleanup(): Promise<void> {
    await fsp.rm(this.dir, { recursive: true, force: true });
  }
}

export interface InProcess {
  core: Daemon;
  server: RunningServer;
  url: string;
  close(): Promise<void>;
}

/** The real daemon core over the fixture's config file, with the real HTTP server on 127.0.0.1:0. */
export async function startInProcess(configPath: string): Promise<InProcess> {
  const core = await createDaemon({ configPath, env: {}, actor: 'api' });
  const server = await startServer(core, { host: '127.0.0.1', port: 0 });
  return {
    core,
    server,
    url: server.url,
    async close() {
      await server.close();
      await core.close();
    },
  };
}

export interface JsonResponse {
  status: number;
  headers: Headers;
   
  body: any;
  text: string;
}

/** One request with the real fetch; parses JSON when the body is JSON. */
export async function call(
  url: string,
  method: string,
  route: string,
  o: { token?: string; json?: unknown; headers?: Record<string, string> } = {},
): Promise<JsonResponse> {
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  let body: string | undefined;
  if (o.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(o.json);
  }
  const res = await fetch(url + route, { method, headers, body });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/** A request with raw node:http, so the Host header can be anything. */
export function rawRequest(url: string, method: string, route: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: Number(u.port), path: route, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Polls `fn` until it returns a truthy value; throws with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false> | T | null | undefined | false, o: { timeoutMs?: number; intervalMs?: number } = {}): Promise<T> {
  const deadline = Date.now() + (o.timeoutMs ?? 15_000);
  let lastErr: unknown = null;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastErr ? ` (last error: ${String(lastErr)})` : ''}`);
    await new Promise((r) => setTimeout(r, o.intervalMs ?? 100));
  }
}

export async function exists(p: string): Promise<boolean> {
  return fsp.access(p).then(() => true, () => false);
}

export interface DaemonChild {
  child: ChildProcess;
  url: string;
  pid: number;
  stderr(): string;
  /** Resolves with the exit code/signal (already resolved if it has exited). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILLs the child if still running (cleanup only). */
  kill(): void;
}

/** Starts `upkeep daemon --config FILE --port 0 --json` and waits for its ready line. */
export function spawnDaemon(configPath: string, extra: string[] = [], timeoutMs = 20_000): Promise<DaemonChild> {
  const child = spawn(process.execPath, [BIN, 'daemon', '--config', configPath, '--port', '0', '--json', ...extra], {
    cwd: ROOT,
    env: { ...process.env, UPKEEP_CONFIG: undefined } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`daemon did not become ready:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.stdout!.on('data', (d) => {
      stdout += d;
      for (const line of stdout.split('\n')) {
        if (!line.trim().startsWith('{')) continue;
        let ev: { event?: string; url?: string; pid?: number };
        try {
          ev = JSON.parse(line) as typeof ev;
        } catch {
          continue;
        }
        if (ev.event === 'ready' && ev.url) {
          clearTimeout(timer);
          resolve({
            child,
            url: ev.url,
            pid: ev.pid ?? child.pid!,
            stderr: () => stderr,
            exited,
            kill: () => {
              if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
            },
          });
          return;
        }
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`daemon exited (${code}) before ready:\n${stdout}\n${stderr}`));
    });
  });
}

/** Collects server-sent events from GET /api/events until `until` returns true or the time runs out. */
export async function collectEvents(
  url: string,
  token: string,
  until: (events: Array<{ event: string; data: any }>) => boolean,  
  o: { timeoutMs?: number; onOpen?: () => void } = {},
): Promise<Array<{ event: string; data: any }>> {  
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), o.timeoutMs ?? 20_000);
  const events: Array<{ event: string; data: any }> = [];  
  try {
    const res = await fetch(`${url}/api/events`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal: ctrl.signal });
    if (res.status !== 200 || !res.body) throw new Error(`GET /api/events answered ${res.status}`);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    let opened = false;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let sep: number;
      while ((sep = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, sep);
        buf = buf.slice(sep + 2);
        let name = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) name = line.slice(7);
          else if (line.startsWith('data: ')) data.push(line.slice(6));
        }
        if (data.length === 0) continue;
        events.push({ event: name, data: JSON.parse(data.join('\n')) });
        // The first state events mean the stream is live: the caller may now start work.
        if (!opened && name === 'state') {
          opened = true;
          o.onOpen?.();
        }
        if (until(events)) {
          ctrl.abort();
          return events;
        }
      }
    }
  } catch (err) {
    if (!(err instanceof Error && err.name === 'AbortError')) throw err;
  } finally {
    clearTimeout(timer);
  }
  return events;
}

/** A fixture and the in-process daemon over it, for one test at a time (see daemonPerTest). */
export interface DaemonSlot {
  fx: Fixture;
  d: InProcess | null;
}

/**
 * Registers (vitest `afterEach`) the teardown of a per-test fixture and daemon: after each test
 * the daemon left in `d` is closed and the fixture in `fx` removed. Tests fill the slot.
 */
export function daemonPerTest(): DaemonSlot {
  const slot = { d: null } as DaemonSlot;
  afterEach(async () => {
    await slot.d?.close();
    slot.d = null;
    await slot.fx?.cleanup();
  });
  return slot;
}
