/**
 * What the command line loads before it answers: `upkeep --help` and `upkeep status` must not load
 * the packages other commands need (the HTTP server, signature formats, feed adapters' clients),
 * since each costs tens of ms of every start. Checked on the module cache of a real child process,
 * not by timing (speed is measured in bench/cli-start.mjs).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { BIN } from '../helpers/cli';
import { tempDir } from '../helpers/tree';
import { makeKey } from '../helpers/feed-builder';

/** Packages no command needs to print help or status. */
const HEAVY = ['fastify', '@fastify/static', 'prom-client', 'jose', 'openpgp', 'pkijs', 'asn1js', 'tuf-js', 'axios', 'undici', 'tar', 'yauzl', 'fast-xml-parser'];
/** Packages `--help` does not need either (config and state reading; bundled for the other commands). */
const CONFIG_ONLY = ['zod', 'yaml', 'write-file-atomic'];
/** Node.js modules only downloads, archives, hooks, proxies and questions need; `status` loads none. */
const HEAVY_BUILTINS = ['http', 'https', 'tls', 'zlib', 'child_process', 'readline', 'readline/promises', 'worker_threads', 'dgram'];

let dir: string;
let preload: string;

beforeAll(async () => {
  dir = await tempDir();
  preload = path.join(dir, 'record-modules.cjs');
  // Prints the files in the module cache when the process exits, one per line, to fd 3, then the
  // Node.js modules loaded (process.moduleLoadList), each as `builtin:<name>`.
  await fsp.writeFile(
    preload,
    "process.on('exit', () => require('node:fs').writeSync(3, [...Object.keys(require.cache), ...process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => 'builtin:' + m.slice(13))].join('\\n')));\n",
  );
});

afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

/** The npm packages (by name, `@scope/name`) the module files belong to. */
function packagesIn(files: string[]): Set<string> {
  const packages = new Set<string>();
  for (const f of files) {
    const m = /node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)[\\/](?!.*node_modules)/.exec(f);
    if (m) packages.add(m[1]!.replace('\\', '/'));
  }
  return packages;
}

/** The npm packages (by name) in the module cache after `upkeep ...args` exits, and its exit code. */
function packagesLoaded(args: string[]): { code: number | null; packages: Set<string>; files: string[]; builtins: string[]; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--require', preload, BIN, ...args], {
    cwd: dir,
    env: { ...process.env, UPKEEP_CONFIG: undefined },
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    encoding: 'utf8',
  });
  const lines = String(r.output[3] ?? '').split('\n').filter(Boolean);
  const files = lines.filter((l) => !l.startsWith('builtin:'));
  const builtins = lines.filter((l) => l.startsWith('builtin:')).map((l) => l.slice('builtin:'.length));
  const packages = packagesIn(files);
  return { code: r.status, packages, files, builtins, stdout: r.stdout, stderr: r.stderr };
}

describe('modules loaded at start', () => {
  it('upkeep --help loads no npm package (off a terminal, a Node.js with require(esm) needs no version ranges parsed)', () => {
    const r = packagesLoaded(['--help']);
    expect(r.code).toBe(0);
    expect(r.files.length).toBeGreaterThan(0);
    expect(r.files.some((f) => f.endsWith('upkeep-cli.js'))).toBe(false);
    expect(process.features.require_module).toBe(true);
    expect([...r.packages]).toEqual([]);
  });

  it('upkeep apply --help loads no engine package either', () => {
    const r = packagesLoaded(['apply', '--help']);
    expect(r.code).toBe(0);
    for (const p of [...HEAVY, ...CONFIG_ONLY]) expect(r.packages, p).not.toContain(p);
  });

  it('upkeep status reads the config and state without the server, signature or feed client packages', async () => {
    const key = makeKey();
    const config = path.join(dir, 'upkeep.yaml');
    await fsp.writeFile(
      config,
      [
        'state_dir: ./state',
        'targets:',
        '  - id: demo',
        '    kind: files',
        '    install_dir: ./install',
        '    product: demo',
        `    feed: { url: ${JSON.stringify(path.join(dir, 'feed'))} }`,
        `    trust: { keys: [${JSON.stringify(key.line)}] }`,
      ].join('\n') + '\n',
    );
    const r = packagesLoaded(['--config', config, 'status']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('demo');
    // The one-file bundle ran (scripts/bundle-cli.mjs), with zod inside it.
    expect(r.files.some((f) => f.endsWith(path.join('cli', 'upkeep-cli.js')))).toBe(true);
    for (const p of HEAVY) expect(r.packages, p).not.toContain(p);
    // No version is compared, nothing downloaded, unpacked or run: semver and those Node.js modules stay unloaded.
    expect(r.packages).not.toContain('semver');
    expect(r.builtins).toContain('fs');
    for (const m of HEAVY_BUILTINS) expect(r.builtins, m).not.toContain(m);
    // `--version` naming a release is an option of the command, not `upkeep --version`: the bundle runs it.
    const apply = packagesLoaded(['--config', config, 'apply', 'demo', '--version', '1.0.0']);
    expect(apply.code, apply.stderr).not.toBe(0); // the feed does not exist
    expect(apply.files.some((f) => f.endsWith(path.join('cli', 'upkeep-cli.js')))).toBe(true);
  });

  it('upkeep status writing to files or /dev/null loads neither node:tty nor node:net (no terminal is told from one fstat)', async () => {
    const config = path.join(dir, 'upkeep.yaml'); // written by the test above
    for (const target of ['file', 'devnull'] as const) {
      const out = target === 'file' ? path.join(dir, 'status.out') : '/dev/null';
      const fd = openSync(out, 'w');
      try {
        const r = spawnSync(process.execPath, ['--require', preload, BIN, '--config', config, 'status'], {
          cwd: dir,
          env: { ...process.env, UPKEEP_CONFIG: undefined },
          stdio: ['ignore', fd, fd, 'pipe'],
          encoding: 'utf8',
        });
        expect(r.status).toBe(0);
        const builtins = String(r.output[3] ?? '').split('\n').filter((l) => l.startsWith('builtin:')).map((l) => l.slice('builtin:'.length));
        expect(builtins).toContain('fs');
        expect(builtins, target).not.toContain('tty');
        expect(builtins, target).not.toContain('net');
      } finally {
        closeSync(fd);
      }
    }
    expect(await fsp.readFile(path.join(dir, 'status.out'), 'utf8')).toContain('demo');
  });

  it('an idle upkeep daemon has not loaded the feed clients, signature formats or JSON-schema compilers', async () => {
    const key = makeKey();
    const config = path.join(dir, 'daemon.yaml');
    const lines = ['state_dir: ./daemon-state', 'check_interval: 86400', 'api: { enabled: true, host: 127.0.0.1, port: 0 }', 'targets:'];
    for (let i = 0; i < 3; i++) {
      lines.push(`  - id: t${i}`, '    kind: files', `    install_dir: ./install-${i}`, '    product: demo', `    feed: { url: ${JSON.stringify(path.join(dir, 'feed'))} }`, `    trust: { keys: [${JSON.stringify(key.line)}] }`, '    auto_apply: none');
    }
    await fsp.writeFile(config, lines.join('\n') + '\n');
    const child = spawn(process.execPath, ['--require', preload, BIN, '--config', config, 'daemon', '--no-watch'], {
      cwd: dir,
      env: { ...process.env, UPKEEP_CONFIG: undefined },
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let loaded = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (d) => (loaded += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const deadline = Date.now() + 30_000;
    while (!stdout.includes('daemon running') && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(stdout, stderr).toContain('daemon running');
    await new Promise((r) => setTimeout(r, 1000)); // start-up work settles
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const packages = packagesIn(loaded.split('\n'));
    expect(packages).toContain('fastify'); // the API really is up
    for (const p of ['openpgp', 'pkijs', 'tuf-js', 'axios', 'undici', 'tar', 'yauzl', 'fast-xml-parser', 'ajv', 'ajv-formats', '@fastify/ajv-compiler', '@fastify/fast-json-stringify-compiler']) expect(packages, p).not.toContain(p);
  });
});
