// Shared pieces of the benchmarks: the built CLI as a child process, signed feeds made with the
// real publisher, a daemon on a free loopback port, process CPU/RSS sampling from /proc, and the
// summary helpers (median, ratio, goal lines).
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..');
export const BIN = path.join(ROOT, 'bin', 'upkeep.js');

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

/** Runs the CLI to completion; throws with its output when it exits non-zero. */
export function cli(args, o = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: o.cwd ?? ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, UPKEEP_CONFIG: undefined } });
  if (r.status !== 0) throw new Error(`upkeep ${args.join(' ')} exited ${r.status}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** Writes `count` small files (about `bytes` each) under `dir`; `variant` changes every third file's bytes. */
export async function makeTree(dir, count, bytes, variant) {
  for (let i = 0; i < count; i++) {
    const file = path.join(dir, `d${i % 40}`, `f${i}.txt`);
    if (i % 40 === i) await fsp.mkdir(path.dirname(file), { recursive: true });
    const changed = variant !== '1.0.0' && i % 3 === 0;
    await fsp.writeFile(file, `${i} ${changed ? variant : '1.0.0'} `.padEnd(bytes, 'x'));
  }
}

/** A signing key and a feed with the given builds published (real `upkeep release`). */
export async function makeFeed(dir, builds) {
  const keys = path.join(dir, 'keys');
  cli(['release', 'keygen', '--out', keys]);
  const feed = path.join(dir, 'feed');
  for (const [version, buildDir] of builds) {
    cli(['release', 'publish', buildDir, '--feed', feed, '--product', 'demo', '--version', version, '--key', path.join(keys, 'upkeep.key')]);
  }
  return { feed, pub: readFileSync(path.join(keys, 'upkeep.pub'), 'utf8').trim() };
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** A config with `n` files targets on one feed (target t0 first), the API on `port` with an admin token. */
export async function writeDaemonConfig(dir, { n, feed, pub, port }) {
  const token = randomBytes(24).toString('hex');
  const sha = createHash('sha256').update(token).digest('hex');
  const lines = [
    'state_dir: ./state',
    'check_interval: 86400',
    `log: { file: ./state/logs/upkeep.log, level: warn }`,
    'api:',
    '  enabled: true',
    '  host: 127.0.0.1',
    `  port: ${port}`,
    `  tokens: [{ name: bench, sha256: ${sha}, scopes: [admin] }]`,
    'targets:',
  ];
  for (let i = 0; i < n; i++) {
    lines.push(
      `  - id: t${i}`,
      '    kind: files',
      `    install_dir: ./install-${i}`,
      '    product: demo',
      `    feed: { url: ${JSON.stringify(feed)} }`,
      `    trust: { keys: [${JSON.stringify(pub)}] }`,
      '    auto_download: false',
      '    auto_apply: none',
    );
  }
  const config = path.join(dir, 'upkeep.yaml');
  await fsp.writeFile(config, lines.join('\n') + '\n');
  return { config, token };
}

/** Starts `upkeep daemon` and resolves once GET /health answers. */
export async function startDaemon(config, port) {
  const child = spawn(process.execPath, [BIN, '--config', config, 'daemon', '--no-watch'], { cwd: path.dirname(config), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`daemon exited ${child.exitCode}: ${stderr}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/health`);
      if (r.ok) break;
    } catch {}
    if (Date.now() > deadline) throw new Error(`daemon did not answer /health: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode !== null) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([done, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid) {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/** Resident set size now and at its peak (VmRSS, VmHWM), in bytes. */
export function rss(pid) {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return { now: kb('VmRSS'), peak: kb('VmHWM') };
}

/** The machine the numbers were measured on. */
export function machine() {
  const cpus = os.cpus();
  return {
    nproc: os.availableParallelism?.() ?? cpus.length,
    cpu: cpus[0]?.model ?? 'unknown',
    memory_gib: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    load_average_at_start: os.loadavg().map((x) => Number(x.toFixed(2))),
  };
}

/** One result row: a measured value, an optional reference, the ratio and whether the goal is met. */
export function row(name, o) {
  const r = { name, ...o };
  if (o.value !== undefined && o.reference !== undefined && o.reference > 0) r.ratio = Number((o.value / o.reference).toFixed(3));
  return r;
}

/** Prints a row as one line. */
export function printRow(r) {
  const parts = [`${r.name}: ${fmt(r.value)} ${r.unit ?? ''}`.trim()];
  if (r.reference !== undefined) parts.push(`reference (${r.reference_name}) ${fmt(r.reference)} ${r.unit ?? ''}`.trim());
  if (r.ratio !== undefined) parts.push(`ratio ${r.ratio.toFixed(2)}x`);
  if (r.goal) parts.push(`goal ${r.goal}: ${r.met ? 'met' : 'NOT met'}`);
  if (r.note) parts.push(r.note);
  console.log('  ' + parts.join(' | '));
}

function fmt(v) {
  return typeof v === 'number' ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2)) : String(v);
}
