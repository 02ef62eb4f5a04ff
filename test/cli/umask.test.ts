/**
 * Under a permissive umask (0000) nothing Upkeep creates is writable by group or others: not the
 * install tree (either layout), not its state, download cache, locks or rollback points — a
 * world-writable journal or cache record would let any local user steer a root apply. A
 * restrictive umask (0077) still gives installed directories 0755, so others can run the app.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli';
import { snapshot, tempDir, writeTree } from '../helpers/tree';

let dir: string;
let saved = 0o022;
beforeEach(async () => {
  saved = process.umask();
  dir = await tempDir('upkeep-cli-umask-');
});
afterEach(async () => {
  process.umask(saved);
  await fsp.rm(dir, { recursive: true, force: true });
});

async function setup(layout: string): Promise<string> {
  const keys = path.join(dir, 'keys');
  expect((await runCli(['release', 'keygen', '--out', keys])).code).toBe(0);
  for (const [v, files] of [['1.0.0', { 'a/b/f': 'one\n', docs: 'docs\n' }], ['2.0.0', { 'a/b/f': 'two\n', 'docs/x/i.md': 'i\n' }]] as const) {
    await writeTree(path.join(dir, `b${v}`), files);
    const r = await runCli(['release', 'publish', path.join(dir, `b${v}`), '--feed', path.join(dir, 'feed'), '--product', 'demo', '--version', v, '--key', path.join(keys, 'upkeep.key')]);
    expect(r.code, r.stderr).toBe(0);
  }
  const pub = (await fsp.readFile(path.join(keys, 'upkeep.pub'), 'utf8')).trim();
  const config = path.join(dir, 'upkeep.yaml');
  await fsp.writeFile(config, [
    'state_dir: ./state', 'targets:', '  - id: demo', '    kind: files', '    install_dir: ./install', `    layout: ${layout}`, '    product: demo',
    '    feed: { url: ./feed }', `    trust: { keys: [${JSON.stringify(pub)}] }`,
  ].join('\n'));
  return config;
}

describe.each(['in-place', 'versioned'])('layout %s', (layout) => {
  it('umask 0000: apply, update and rollback create nothing writable by group or others', async () => {
    const config = await setup(layout);
    process.umask(0o000); // inherited by the CLI child processes
    for (const args of [['apply', '--version', '1.0.0'], ['apply'], ['rollback', '--yes']]) {
      const r = await runCli(['--config', config, ...args]);
      expect(r.code, r.stderr).toBe(0);
    }
    const wide = [...(await snapshot(path.join(dir, 'state'))).map((e) => ({ ...e, path: `state/${e.path}` })), ...(await snapshot(path.join(dir, 'install'))).map((e) => ({ ...e, path: `install/${e.path}` }))]
      .filter((e) => e.type !== 'symlink' && (e.mode & 0o022) !== 0)
      .map((e) => `${e.path} ${e.mode.toString(8)}`);
    expect(wide).toEqual([]);
  });

  it('umask 0077: installed directories are still 0755', async () => {
    const config = await setup(layout);
    process.umask(0o077);
    for (const args of [['apply', '--version', '1.0.0'], ['apply']]) expect((await runCli(['--config', config, ...args])).code).toBe(0);
    const dirs = (await snapshot(path.join(dir, 'install'))).filter((e) => e.type === 'dir').map((e) => `${e.path} ${e.mode.toString(8)}`);
    expect(dirs.length).toBeGreaterThan(2);
    expect(dirs.filter((d) => !d.endsWith(' 755'))).toEqual([]);
  });
});
