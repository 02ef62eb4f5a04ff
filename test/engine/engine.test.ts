/**
 * The pipeline's own decisions (src-main/engine/engine.ts) against real feeds and installs:
 * platform eligibility, what happens after the commit point, command-target version rules,
 * and the state shown after a rollback.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { FeedBuilder, makeKey, indexPayload, engineFor } from '../helpers/feed-builder';
import { snapshot, tempDir } from '../helpers/tree';
import { UpkeepError } from '../../src-shared/errors';
import { parseConfig } from '../../src-main/engine/config/load';
import { OperationRunner as Engine } from '../../src-main/engine/runner/operation-runner';
import { runCli } from '../helpers/cli';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await fsp.rm(d, { recursive: true, force: true });
});
async function dir(): Promise<string> {
  const d = await tempDir('upkeep-engine-');
  dirs.push(d);
  return d;
}
const codeOf = (p: Promise<unknown>) => p.then(() => null, (e) => (e instanceof UpkeepError ? e.code : String(e)));

describe('platform eligibility', () => {
  it('never offers or installs a release that has no files for this machine', async () => {
    const d = await dir();
    const feed = new FeedBuilder(path.join(d, 'feed'));
    const key = makeKey();
    const e1 = await feed.release('1.0.0', { 'bin/app': 'one' }, [key]);
    const other = process.platform === 'win32' ? 'linux' : 'win32';
    const e2 = await feed.release('1.2.0', { 'bin/app.exe': 'windows only' }, [key], {}, (f) => ({ ...f, platform: other }));
    await feed.index('stable', indexPayload(1, [e2, e1]), [key]);
    const engine = engineFor(d, feed.dir, { keys: [key.line], threshold: 1 });
    await engine.apply('demo', { version: '1.0.0' });
    const before = await snapshot(path.join(d, 'install'));

    const c = await engine.check('demo');
    expect(c.update_available).toBe(false);
    expect((await engine.apply('demo')).up_to_date).toBe(true);
    expect(await codeOf(engine.apply('demo', { version: '1.2.0' }))).toBe('ERR_NO_RELEASE');
    expect(await snapshot(path.join(d, 'install'))).toEqual(before);
  });
});

describe('after the commit point', () => {
  it('a failure to record the update is logged, never reported as a rollback', async () => {
    const d = await dir();
    const feed = new FeedBuilder(path.join(d, 'feed'));
    const key = makeKey();
    const e1 = await feed.release('1.0.0', { 'bin/app': 'one' }, [key]);
    const e2 = await feed.release('1.1.0', { 'bin/app': 'two' }, [key]);
    await feed.index('stable', indexPayload(1, [e2, e1]), [key]);
    const marker = path.join(d, 'rollback-hook-ran');
    const engine = engineFor(d, feed.dir, { keys: [key.line], threshold: 1 }, [`hooks: { rollback: "touch ${marker}" }`]);
    await engine.apply('demo', { version: '1.0.0' });
    // History can no longer be appended (a directory where the file should be).
    await fsp.rm(path.join(d, 'state', 'history.jsonl'), { force: true });
    await fsp.mkdir(path.join(d, 'state', 'history.jsonl'));
    const logs: string[] = [];
    engine.bus.subscribe((e) => {
      if (e.type === 'log') logs.push(e.line.message);
    });
    const r = await engine.apply('demo');
    expect(r).toMatchObject({ success: true, version: '1.1.0' });
    expect(await fsp.readFile(path.join(d, 'install', 'bin', 'app'), 'utf8')).toBe('two');
    expect((await engine.view('demo')).current_version).toBe('1.1.0');
    await expect(fsp.access(marker)).rejects.toThrow();
    expect(logs.some((l) => l.includes('1.1.0 is installed, but recording it failed'))).toBe(true);
  });
});

describe('command targets without a feed', () => {
  async function commandEngine(d: string): Promise<Engine> {
    const text = [
      'state_dir: ./state',
      'targets:',
      '  - id: svc',
      '    kind: command',
      '    install_dir: ./svc',
      '    initial_version: 1.0.0',
      '    steps:',
      `      switch: "echo $UPKEEP_TO_VERSION > ${path.join(d, 'running')}"`,
      `      smoke: "test \\"$UPKEEP_TO_VERSION\\" != 1.3.0"`,
      `      rollback: "echo $UPKEEP_TO_VERSION > ${path.join(d, 'running')}"`,
    ].join('\n');
    await fsp.mkdir(path.join(d, 'svc'), { recursive: true });
    return new Engine({ loaded: parseConfig(text, { file: path.join(d, 'upkeep.yaml'), dir: d, env: {} }), actor: 'cli' });
  }

  it('refuses a downgrade and a non-SemVer version like feed versions', async () => {
    const d = await dir();
    const engine = await commandEngine(d);
    expect(await codeOf(engine.apply('svc', { version: '0.1.0' }))).toBe('ERR_DOWNGRADE');
    expect(await codeOf(engine.apply('svc', { version: 'not a version' }))).toBe('ERR_USAGE');
    expect(await codeOf(engine.apply('svc', { version: '1.0.0' }))).toBe('ERR_DOWNGRADE');
    expect((await engine.view('svc')).current_version).toBe('1.0.0');
    expect((await engine.apply('svc', { version: '1.2.0' })).version).toBe('1.2.0');
    expect((await fsp.readFile(path.join(d, 'running'), 'utf8')).trim()).toBe('1.2.0');
  });

  it('a successful rollback clears the failure shown by the last apply', async () => {
    const d = await dir();
    const engine = await commandEngine(d);
    await engine.apply('svc', { version: '1.2.0' });
    expect(await codeOf(engine.apply('svc', { version: '1.3.0' }))).toBe('ERR_STEP_FAILED');
    expect((await engine.view('svc')).state.kind).toBe('failed');
    const rb = await engine.rollback('svc');
    expect(rb).toMatchObject({ success: true, version: '1.0.0', from_version: '1.2.0' });
    const v = await engine.view('svc');
    expect(v.current_version).toBe('1.0.0');
    expect(v.last_error).toBeNull();
    expect(v.state.kind).not.toBe('failed');
    expect((await fsp.readFile(path.join(d, 'running'), 'utf8')).trim()).toBe('1.0.0');
  });
});

describe('CLI over several targets', () => {
  it('status and history without a target cover every target', async () => {
    const d = await dir();
    const feed = new FeedBuilder(path.join(d, 'feed'));
    const key = makeKey();
    await feed.index('stable', indexPayload(1, [await feed.release('1.0.0', { a: 'a' }, [key])]), [key]);
    const target = (id: string) => [`  - id: ${id}`, '    kind: files', `    install_dir: ./${id}`, '    product: demo', `    feed: { url: ${JSON.stringify(feed.dir)} }`, `    trust: { keys: [${JSON.stringify(key.line)}] }`];
    const config = path.join(d, 'upkeep.yaml');
    await fsp.writeFile(config, ['state_dir: ./state', 'targets:', ...target('one'), ...target('two')].join('\n'));
    const st = await runCli(['--config', config, 'status', '--json']);
    expect(st.code, st.stderr).toBe(0);
    expect(st.json.map((v: { id: string }) => v.id)).toEqual(['one', 'two']);
    const h = await runCli(['--config', config, 'history', '--json']);
    expect(h.code, h.stderr).toBe(0);
    const c = await runCli(['--config', config, 'check', '--json']);
    expect(c.code).toBe(2);
    expect(c.json.error.code).toBe('ERR_USAGE');
  });
});
