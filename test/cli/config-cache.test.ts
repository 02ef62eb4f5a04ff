/**
 * The validated-config cache of the command line (engine/config/config-cache.ts): a run that
 * finds its entry leaves it byte-identical (a write always seals with a fresh IV), and any change
 * to the config's text, to an environment variable validation read, or to the program misses and
 * validates again, so every run prints what a run without the cache prints. Entries hold no
 * secret in the clear, and a directory other users may write is neither read nor written.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { BIN, ROOT, runCli } from '../helpers/cli';
import { tempDir } from '../helpers/tree';
import { makeKey } from '../helpers/feed-builder';

let dir: string;
let tmp: string;
let config: string;
let keyLine: string;

const SECRET = 'ghp_configcachesecret0123456789abcdefABCDEF';

function configText(extra: string[] = []): string {
  return ['state_dir: ./state', `github_token: ${SECRET}`, ...extra, 'targets:', '  - id: demo', '    kind: files', '    install_dir: ./install', '    product: demo', `    feed: { url: ${JSON.stringify(path.join(dir, 'feed'))} }`, `    trust: { keys: [${JSON.stringify(keyLine)}] }`].join('\n') + '\n';
}

beforeAll(async () => {
  dir = await tempDir('upkeep-config-cache-');
  tmp = path.join(dir, 'tmp');
  await fsp.mkdir(tmp);
  config = path.join(dir, 'upkeep.yaml');
  keyLine = makeKey().line;
  await fsp.writeFile(config, configText());
});

afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

const cacheDir = (): string => path.join(tmp, `upkeep-compile-cache-${process.getuid!()}`);
const status = (env: Record<string, string | undefined> = {}) => runCli(['--config', config, '--json', 'status'], { cwd: dir, env: { TMPDIR: tmp, ...env } });

/** The one config entry's bytes (fails when there is not exactly one). */
async function entry(): Promise<{ file: string; bytes: Buffer }> {
  const names = (await fsp.readdir(cacheDir())).filter((n) => /^upkeep-config-[0-9a-f]+\.cache$/.test(n));
  expect(names).toHaveLength(1);
  const file = path.join(cacheDir(), names[0]!);
  return { file, bytes: await fsp.readFile(file) };
}

describe('validated-config cache of the command line', () => {
  it('is written by the first run and used by the next; a damaged entry is a miss and is rewritten', async () => {
    const first = await status();
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.json[0].install_dir).toBe(path.join(dir, 'install'));
    const written = await entry();
    expect((await fsp.stat(written.file)).mode & 0o777).toBe(0o600);
    // Sealed: the token from the config is not in the file.
    expect(written.bytes.includes(Buffer.from(SECRET))).toBe(false);
    expect(written.bytes.includes(Buffer.from('install'))).toBe(false);

    const second = await status();
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    expect((await entry()).bytes.equals(written.bytes)).toBe(true);

    const damaged = Buffer.from(written.bytes);
    damaged[damaged.length - 3]! ^= 0x01;
    await fsp.writeFile(written.file, damaged);
    const third = await status();
    expect(third.stderr).toBe('');
    expect(third.stdout).toBe(first.stdout);
    const rewritten = await entry();
    expect(rewritten.bytes.equals(damaged)).toBe(false);
    const fourth = await status();
    expect(fourth.stdout).toBe(first.stdout);
    expect((await entry()).bytes.equals(rewritten.bytes)).toBe(true);
  });

  it('misses when the text changes, including to an invalid config, and when a variable validation reads changes', async () => {
    const before = (await entry()).bytes;
    await fsp.writeFile(config, configText(['check_interval: 7200']).replace('install_dir: ./install', 'install_dir: ./install2'));
    const changed = await status();
    expect(changed.code).toBe(0);
    expect(changed.json[0].install_dir).toBe(path.join(dir, 'install2'));
    const afterChange = (await entry()).bytes;
    expect(afterChange.equals(before)).toBe(false);

    // An invalid config is reported as such (never answered from an older entry) and not stored.
    await fsp.writeFile(config, configText().replace('kind: files', 'kind: filez'));
    const invalid = await status();
    expect(invalid.code).toBe(2);
    expect(invalid.json.error.code).toBe('ERR_CONFIG_INVALID');
    expect((await entry()).bytes.equals(afterChange)).toBe(true);

    await fsp.writeFile(config, configText());
    const back = await status();
    expect(back.code).toBe(0);
    expect(back.json[0].install_dir).toBe(path.join(dir, 'install'));
    const stored = (await entry()).bytes;

    // UPKEEP_BACKUP_RETENTION is read by validation (it sets the default target's retention).
    const overridden = await status({ UPKEEP_BACKUP_RETENTION: '7' });
    expect(overridden.code).toBe(0);
    expect(overridden.json[0].policy.retention).toBe(7);
    const afterEnv = (await entry()).bytes;
    expect(afterEnv.equals(stored)).toBe(false);
    const bad = await status({ UPKEEP_BACKUP_RETENTION: '0' });
    expect(bad.code).toBe(2);
    expect(bad.json.error.code).toBe('ERR_CONFIG_INVALID');
    // Unset again: a miss, the file's own value.
    const plain = await status();
    expect(plain.stdout).toBe(back.stdout);
    expect((await entry()).bytes.equals(afterEnv)).toBe(false);
    // A variable validation does not read changes nothing.
    const kept = (await entry()).bytes;
    const other = await status({ UPKEEP_UNRELATED_VARIABLE: 'x' });
    expect(other.stdout).toBe(back.stdout);
    expect((await entry()).bytes.equals(kept)).toBe(true);
  });

  it('misses when the program changes: another build has entries of its own', async () => {
    const kept = await entry();
    // A copy of the installed command line whose bundle differs by one comment.
    const copy = path.join(dir, 'copy');
    await fsp.mkdir(path.join(copy, 'bin'), { recursive: true });
    await fsp.mkdir(path.join(copy, 'dist', 'node', 'src-main', 'cli'), { recursive: true });
    await fsp.copyFile(path.join(ROOT, 'package.json'), path.join(copy, 'package.json'));
    await fsp.copyFile(BIN, path.join(copy, 'bin', 'upkeep.js'));
    const bundle = await fsp.readFile(path.join(ROOT, 'dist', 'node', 'src-main', 'cli', 'upkeep-cli.js'), 'utf8');
    await fsp.writeFile(path.join(copy, 'dist', 'node', 'src-main', 'cli', 'upkeep-cli.js'), `${bundle}\n// another build\n`);
    // bin/upkeep.js checks that main.js exists; with no tsc build info beside it, it runs the bundle.
    await fsp.copyFile(path.join(ROOT, 'dist', 'node', 'src-main', 'cli', 'main.js'), path.join(copy, 'dist', 'node', 'src-main', 'cli', 'main.js'));
    await fsp.symlink(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
    const run = () => spawnSync(process.execPath, [path.join(copy, 'bin', 'upkeep.js'), '--config', config, '--json', 'status'], { cwd: dir, env: { ...process.env, UPKEEP_CONFIG: undefined, TMPDIR: tmp }, encoding: 'utf8' });
    const r = run();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe((await status()).stdout);
    const names = (await fsp.readdir(cacheDir())).filter((n) => /^upkeep-config-[0-9a-f]+\.cache$/.test(n));
    expect(names).toHaveLength(2);
    expect((await fsp.readFile(kept.file)).equals(kept.bytes)).toBe(true);
    const own = path.join(cacheDir(), names.find((n) => path.join(cacheDir(), n) !== kept.file)!);
    const ownBytes = await fsp.readFile(own);
    const again = run();
    expect(again.stdout).toBe(r.stdout);
    expect((await fsp.readFile(own)).equals(ownBytes)).toBe(true);
    await fsp.rm(own);
  });

  it('is neither read nor written in a directory other users may write to', async () => {
    const kept = await entry();
    const garbage = Buffer.alloc(256, 9);
    await fsp.writeFile(kept.file, garbage);
    await fsp.chmod(cacheDir(), 0o777);
    try {
      const r = await status();
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.json.map((v: { id: string }) => v.id)).toEqual(['demo']);
      expect((await fsp.readFile(kept.file)).equals(garbage)).toBe(true);
    } finally {
      await fsp.chmod(cacheDir(), 0o700);
    }
  });
});
