/**
 * A FIFO at the name of one of Upkeep's own small files (fingerprints.json, machine-id, a lock
 * file) never makes a command hang reading it: the fingerprint hint is ignored (the files are
 * hashed instead) and the others are ERR_STATE_CORRUPT naming the file (exit 5), nothing changed.
 */
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli';
import { snapshot, tempDir, writeTree } from '../helpers/tree';

let dir: string;
let config: string;
let keys: string;
const state = (...p: string[]) => path.join(dir, 'state', ...p);

async function publish(v: string, text: string): Promise<void> {
  await writeTree(path.join(dir, `b${v}`), { 'bin/demo': `demo ${text}\n` });
  const r = await runCli(['release', 'publish', path.join(dir, `b${v}`), '--feed', path.join(dir, 'feed'), '--product', 'demo', '--version', v, '--key', path.join(keys, 'upkeep.key')]);
  expect(r.code, r.stderr).toBe(0);
}

beforeEach(async () => {
  dir = await tempDir('upkeep-cli-fifo-');
  keys = path.join(dir, 'keys');
  expect((await runCli(['release', 'keygen', '--out', keys])).code).toBe(0);
  await publish('1.0.0', 'one');
  const pub = (await fsp.readFile(path.join(keys, 'upkeep.pub'), 'utf8')).trim();
  config = path.join(dir, 'upkeep.yaml');
  await fsp.writeFile(config, [
    'state_dir: ./state', 'targets:', '  - id: demo', '    kind: files', '    install_dir: ./install', '    product: demo',
    '    feed: { url: ./feed }', `    trust: { keys: [${JSON.stringify(pub)}] }`,
  ].join('\n'));
  const r = await runCli(['--config', config, 'apply']);
  expect(r.code, r.stderr).toBe(0);
  await publish('1.1.0', 'two');
});
afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

function mkfifo(file: string): void {
  execFileSync('rm', ['-f', file]);
  execFileSync('mkfifo', [file]);
}

describe('a FIFO at one of Upkeep\'s own files', () => {
  it('fingerprints.json: ignored as a hint, the apply hashes and completes', async () => {
    mkfifo(state('targets', 'demo', 'fingerprints.json'));
    const r = await runCli(['--config', config, 'apply'], { timeoutMs: 30_000 });
    expect(r.signal).toBeNull();
    expect(r.code, r.stderr).toBe(0);
    expect(await fsp.readFile(path.join(dir, 'install', 'bin/demo'), 'utf8')).toBe('demo two\n');
  });

  it('machine-id and the target lock: ERR_STATE_CORRUPT naming it (exit 5), install unchanged', async () => {
    const before = await snapshot(path.join(dir, 'install'));
    mkfifo(state('machine-id'));
    let r = await runCli(['--config', config, 'check', '--json'], { timeoutMs: 30_000 });
    expect(r.signal).toBeNull();
    expect(r.code, r.stdout + r.stderr).toBe(5);
    expect(r.json.error).toMatchObject({ code: 'ERR_STATE_CORRUPT', message: expect.stringContaining(`${state('machine-id')}: not a regular file`) });
    await fsp.rm(state('machine-id'));

    const lock = state('locks', 'demo.lock');
    mkfifo(lock);
    r = await runCli(['--config', config, 'apply', '--json'], { timeoutMs: 30_000 });
    expect(r.signal).toBeNull();
    expect(r.code, r.stdout + r.stderr).toBe(5);
    expect(r.json.error).toMatchObject({ code: 'ERR_STATE_CORRUPT', message: expect.stringContaining(`${lock}: not a regular file`) });
    expect(await snapshot(path.join(dir, 'install'))).toEqual(before);
  });
});
