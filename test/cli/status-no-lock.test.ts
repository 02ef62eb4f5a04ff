/**
 * `upkeep status` recovers every target first, but a target with nothing to recover is not
 * locked: a status of a healthy install writes nothing under the state dir (not even a lock file
 * taken and removed), while an interrupted operation's journal is still acted on.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli';
import { tempDir } from '../helpers/tree';
import { makeKey } from '../helpers/feed-builder';

let dir: string;
let config: string;

beforeAll(async () => {
  dir = await tempDir('upkeep-status-no-lock-');
  config = path.join(dir, 'upkeep.yaml');
  await fsp.mkdir(path.join(dir, 'install'));
  await fsp.writeFile(
    config,
    ['state_dir: ./state', 'targets:', '  - id: demo', '    kind: files', '    install_dir: ./install', '    product: demo', `    feed: { url: ${JSON.stringify(path.join(dir, 'feed'))} }`, `    trust: { keys: [${JSON.stringify(makeKey().line)}] }`].join('\n') + '\n',
  );
});

afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

/** Every path under `root` with its type and modification time (ns). */
async function tree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    const st = await fsp.lstat(d, { bigint: true });
    out.push(`${path.relative(root, d) || '.'} ${st.isDirectory() ? 'dir' : 'file'} ${st.mtimeNs}`);
    if (st.isDirectory()) for (const n of (await fsp.readdir(d)).sort()) await walk(path.join(d, n));
  };
  await walk(root);
  return out;
}

describe('upkeep status and the target lock', () => {
  it('leaves the state dir as it was when there is nothing to recover, and still recovers a journal', async () => {
    const status = () => runCli(['--config', config, '--json', 'status'], { cwd: dir });
    const first = await status();
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const state = path.join(dir, 'state');
    await fsp.mkdir(path.join(state, 'locks'), { recursive: true });
    const before = await tree(state);
    for (let i = 0; i < 2; i++) {
      const r = await status();
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(first.stdout);
    }
    expect(await tree(state)).toEqual(before);

    // A journal is something to recover: status takes the lock and recovery reads it (a torn one
    // is the target's error, exit 5, naming the file).
    const journal = path.join(state, 'targets', 'demo', 'journal.json');
    await fsp.mkdir(path.dirname(journal), { recursive: true });
    await fsp.writeFile(journal, '{ torn');
    // The target is still listed, with that error; the exit code says so.
    const refused = await status();
    expect(refused.code).toBe(5);
    expect(refused.json[0].last_error.code).toBe('ERR_STATE_CORRUPT');
    expect(refused.json[0].last_error.message).toContain('journal.json');
  });
});
