/**
 * The compiled-code cache bin/upkeep.js keeps for the one-file bundle on a Node.js without its own
 * compile cache (before 22.1): written after the first run, used by the next, refused by V8 when
 * it does not fit (then rewritten), ignored in a directory other users could write. Every run must
 * print the same thing whatever the cache holds. On a Node.js with `module.enableCompileCache`,
 * Node's own cache is used and Upkeep writes none.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli';
import { tempDir } from '../helpers/tree';
import { makeKey } from '../helpers/feed-builder';

const NODE_HAS_CACHE = typeof (require('node:module') as { enableCompileCache?: unknown }).enableCompileCache === 'function';

let dir: string;
let tmp: string;
let config: string;

beforeAll(async () => {
  dir = await tempDir('upkeep-code-cache-');
  tmp = path.join(dir, 'tmp');
  await fsp.mkdir(tmp);
  config = path.join(dir, 'upkeep.yaml');
  const key = makeKey();
  await fsp.writeFile(
    config,
    ['state_dir: ./state', 'targets:', '  - id: demo', '    kind: files', '    install_dir: ./install', '    product: demo', `    feed: { url: ${JSON.stringify(path.join(dir, 'feed'))} }`, `    trust: { keys: [${JSON.stringify(key.line)}] }`].join('\n') + '\n',
  );
});

afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

const cacheDir = (): string => path.join(tmp, `upkeep-compile-cache-${process.getuid!()}`);
const status = () => runCli(['--config', config, '--json', 'status'], { cwd: dir, env: { TMPDIR: tmp } });

async function cacheFiles(): Promise<string[]> {
  try {
    return (await fsp.readdir(cacheDir())).filter((n) => n.endsWith('.v8'));
  } catch {
    return [];
  }
}

describe('compiled-code cache of the command line', () => {
  it('is written once, then used; a corrupt file is refused and rewritten; output never changes', async () => {
    const first = await status();
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.json.map((v: { id: string }) => v.id)).toEqual(['demo']);
    if (NODE_HAS_CACHE) {
      expect(await cacheFiles()).toEqual([]);
      return;
    }
    const files = await cacheFiles();
    expect(files).toHaveLength(1);
    // Named by the bundle's content, not its size and mtime alone (V8 checks only the source's
    // length): by the build identity its first line carries, the SHA-256 of its text as built
    // (the identity written as the build's placeholder), then its size and mtime.
    const bundleFile = path.join(__dirname, '..', '..', 'dist', 'node', 'src-main', 'cli', 'upkeep-cli.js');
    const bundle = await fsp.readFile(bundleFile, 'latin1');
    const id = /^\/\/ upkeep-build ([0-9a-f]{64})\n/.exec(bundle)?.[1];
    expect(id).toBeDefined();
    expect(createHash('sha256').update(bundle.split(id!).join('upkeep-build-id-'.padEnd(64, '0')), 'latin1').digest('hex')).toBe(id);
    const st = await fsp.stat(bundleFile, { bigint: true });
    expect(files[0]).toContain(`-${id!.slice(0, 32)}-${st.size}-${st.mtimeNs}-status.v8`);
    expect((await fsp.stat(cacheDir())).mode & 0o777).toBe(0o700);
    const file = path.join(cacheDir(), files[0]!);
    expect((await fsp.stat(file)).mode & 0o777).toBe(0o600);
    const written = await fsp.readFile(file);
    expect(written.length).toBeGreaterThan(10_000);
    // The first run validated the config (a config cache miss): its code is kept as provisional.
    expect(written[32]).toBe(2);

    // The next run reads the config from its cache and replaces the file, once, with code that
    // lacks the YAML parser and config schemas no later run needs.
    const second = await status();
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    const typical = await fsp.readFile(file);
    expect(typical[32]).toBe(1);
    expect(typical.length).toBeLessThan(written.length);

    // A run that used that cache leaves it as it was.
    const later = await status();
    expect(later.stdout).toBe(first.stdout);
    expect((await fsp.readFile(file)).equals(typical)).toBe(true);

    await fsp.writeFile(file, Buffer.alloc(4096, 7));
    const third = await status();
    expect(third.stderr).toBe('');
    expect(third.code).toBe(0);
    expect(third.stdout).toBe(first.stdout);
    const rewritten = await fsp.readFile(file);
    expect(rewritten.length).toBeGreaterThan(10_000);
  });

  it('refuses a file whose data was damaged (V8 checks only its header and would abort the process) and rewrites it', async () => {
    if (NODE_HAS_CACHE) return;
    await fsp.rm(cacheDir(), { recursive: true, force: true });
    const first = await status();
    expect(first.code).toBe(0);
    const [name] = await cacheFiles();
    expect(name).toBeDefined();
    const file = path.join(cacheDir(), name!);
    const damaged = await fsp.readFile(file);
    // Header bytes left alone, so V8 would accept it: every ~1 KiB of the data flipped.
    for (let i = 2000; i < damaged.length; i += 997) damaged[i] ^= 0x5a;
    await fsp.writeFile(file, damaged);
    for (let run = 0; run < 2; run++) {
      const r = await status();
      expect(r.stderr).toBe('');
      expect(r.signal).toBeNull();
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(first.stdout);
    }
    const rewritten = await fsp.readFile(file);
    expect(rewritten.equals(damaged)).toBe(false);
    expect(rewritten.length).toBeGreaterThan(10_000);
  });

  it('is kept per command: a first `apply --help` leaves status its own cache, and each run keeps using its own', async () => {
    if (NODE_HAS_CACHE) return;
    await fsp.rm(cacheDir(), { recursive: true, force: true });
    const help = await runCli(['--config', config, 'apply', '--help'], { cwd: dir, env: { TMPDIR: tmp } });
    expect(help.code).toBe(0);
    const afterHelp = await cacheFiles();
    expect(afterHelp).toHaveLength(1);
    expect(afterHelp[0]).toMatch(/-help\.v8$/);
    const helpBytes = await fsp.readFile(path.join(cacheDir(), afterHelp[0]!));

    const first = await status();
    expect(first.code).toBe(0);
    // The config cache went with the directory: this run validated the config, the next one
    // replaces its provisional code cache.
    expect((await status()).stdout).toBe(first.stdout);
    const files = (await cacheFiles()).sort();
    expect(files).toHaveLength(2);
    const statusFile = files.find((n) => n.endsWith('-status.v8'));
    expect(statusFile).toBeDefined();
    // The same build: only the command differs in the names.
    expect(statusFile!.replace(/-status\.v8$/, '')).toBe(afterHelp[0]!.replace(/-help\.v8$/, ''));
    const statusBytes = await fsp.readFile(path.join(cacheDir(), statusFile!));
    // status compiled its config, state and view code into its own cache; the help text needed none of it.
    expect(statusBytes.length).toBeGreaterThan(helpBytes.length);

    // Later runs of either command leave both files as they were and print the same.
    const second = await status();
    expect(second.stdout).toBe(first.stdout);
    const helpAgain = await runCli(['--config', config, 'apply', '--help'], { cwd: dir, env: { TMPDIR: tmp } });
    expect(helpAgain.stdout).toBe(help.stdout);
    expect((await fsp.readFile(path.join(cacheDir(), statusFile!))).equals(statusBytes)).toBe(true);
    expect((await fsp.readFile(path.join(cacheDir(), afterHelp[0]!))).equals(helpBytes)).toBe(true);
  });

  it('keeps the code of a failed run as provisional: the next run compiles anew, and a command that keeps failing settles on its second file', async () => {
    if (NODE_HAS_CACHE) return;
    await fsp.rm(cacheDir(), { recursive: true, force: true });
    const bad = () => runCli(['--config', config, 'frobnicate'], { cwd: dir, env: { TMPDIR: tmp } });
    const first = await bad();
    expect(first.code).toBe(2);
    const [name] = await cacheFiles();
    expect(name).toMatch(/-other\.v8$/);
    const file = path.join(cacheDir(), name!);
    expect((await fsp.readFile(file))[32]).toBe(2);
    const second = await bad();
    expect(second.code).toBe(2);
    expect(second.stderr).toBe(first.stderr);
    const settled = await fsp.readFile(file);
    expect(settled[32]).toBe(3);
    const third = await bad();
    expect(third.stderr).toBe(first.stderr);
    expect((await fsp.readFile(file)).equals(settled)).toBe(true);
  });

  it('is neither read nor written in a directory other users may write to', async () => {
    if (NODE_HAS_CACHE) return;
    const [name] = await cacheFiles();
    expect(name).toBeDefined();
    const file = path.join(cacheDir(), name!);
    const garbage = Buffer.alloc(4096, 9);
    await fsp.writeFile(file, garbage);
    await fsp.chmod(cacheDir(), 0o777);
    try {
      const r = await status();
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.json.map((v: { id: string }) => v.id)).toEqual(['demo']);
      expect((await fsp.readFile(file)).equals(garbage)).toBe(true);
    } finally {
      await fsp.chmod(cacheDir(), 0o700);
    }
  });
});
