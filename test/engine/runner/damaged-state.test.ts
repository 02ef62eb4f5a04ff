/**
 * One target's damaged state files never hide the others: the views list every target, the
 * damaged one with ERR_STATE_CORRUPT (naming the file and the field) as its error, while its
 * operations keep refusing and the other targets keep working. And the progress lines of a
 * transaction say what happens to each file (removed vs restored or replaced).
 */
import { describe, it, expect, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TargetView, UpkeepEvent } from '../../../src-shared/api';
import { parseConfig } from '../../../src-main/engine/config/load';
import { OperationRunner } from '../../../src-main/engine/runner/operation-runner';
import { DEFAULT_LIMITS } from '../../../src-main/engine/limits';
import { FeedSimulator, SIM_ROOT } from '../../helpers/feed-simulator';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await fsp.rm(d, { recursive: true, force: true });
});

async function setup(o: { layout?: 'in-place' | 'versioned' } = {}) {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'upkeep-damaged-'));
  dirs.push(dir);
  const sim = new FeedSimulator();
  const target = (id: string) => [
    `  - id: ${id}`, '    kind: files', `    install_dir: ./${id}`, '    product: demo', `    layout: ${o.layout ?? 'in-place'}`,
    `    feed: { url: ${JSON.stringify(SIM_ROOT)} }`, `    trust: ${JSON.stringify(sim.trust())}`,
  ];
  const text = ['state_dir: ./state', 'targets:', ...target('demo'), ...target('other')].join('\n');
  const make = () => new OperationRunner({ loaded: parseConfig(text, { file: path.join(dir, 'upkeep.yaml'), dir, env: {} }), actor: 'cli', fetcher: sim, limits: { ...DEFAULT_LIMITS, progressHz: Infinity } });
  const runner = make();
  const events: UpkeepEvent[] = [];
  runner.bus.subscribe((e) => events.push(e));
  const state = path.join(dir, 'state');
  return { dir, sim, runner, events, make, state, targetState: (id: string) => path.join(state, 'targets', id) };
}

const byId = (views: TargetView[]) => Object.fromEntries(views.map((v) => [v.id, v]));

async function installBoth(s: Awaited<ReturnType<typeof setup>>): Promise<void> {
  s.sim.publish('1.0.0', { 'bin/app': 'one' });
  s.sim.publish('1.1.0', { 'bin/app': 'two' });
  for (const id of ['demo', 'other']) {
    await s.runner.apply(id, { version: '1.0.0' });
    await s.runner.apply(id, { version: '1.1.0' });
  }
}

/** The newest point's point.json (highest seq): a rollback to the newest point needs it. */
async function newestPointFile(s: Awaited<ReturnType<typeof setup>>, id: string): Promise<string> {
  const pts = path.join(s.state, 'points', id);
  const files = (await fsp.readdir(pts)).filter((n) => n.startsWith('rb_')).map((n) => path.join(pts, n, 'point.json'));
  const seqs = await Promise.all(files.map(async (f) => (JSON.parse(await fsp.readFile(f, 'utf8')) as { seq: number }).seq));
  return files[seqs.indexOf(Math.max(...seqs))]!;
}

describe('a damaged state file of one target', () => {
  const cases: Array<{ what: string; file: (s: Awaited<ReturnType<typeof setup>>) => Promise<string>; field: string; current: string | null }> = [
    { what: 'installed.json with "version": 5', file: async (s) => path.join(s.targetState('demo'), 'installed.json'), field: 'version', current: null },
    { what: 'point.json with "to_version": 5', file: (s) => newestPointFile(s, 'demo'), field: 'to_version', current: '1.1.0' },
    { what: 'runtime.json with an unknown field', file: async (s) => path.join(s.targetState('demo'), 'runtime.json'), field: 'version', current: '1.1.0' },
  ];
  for (const c of cases) {
    it(`${c.what}: every target is listed, the damaged one with ERR_STATE_CORRUPT naming the file; its operations refuse, the others work`, async () => {
      const s = await setup();
      await installBoth(s);
      const file = await c.file(s);
      const original = await fsp.readFile(file, 'utf8');
      const doc = JSON.parse(original) as Record<string, unknown>;
      if (c.field === 'to_version') doc.to_version = 5;
      else doc.version = 5;
      const damaged = JSON.stringify(doc);
      await fsp.writeFile(file, damaged);
      // A fresh runner (a new `upkeep status`, a restarted daemon) and the running one once its
      // snapshot is re-read (it reads the disk again after a second when idle: reread() says now).
      await s.runner.reread('demo');
      for (const runner of [s.make(), s.runner]) {
        const views = byId(await runner.views());
        expect(Object.keys(views)).toEqual(['demo', 'other']);
        expect(views.other!.last_error).toBeNull();
        expect(views.other!.current_version).toBe('1.1.0');
        expect(views.other!.points_count).toBe(2);
        const err = views.demo!.last_error!;
        expect(err.code).toBe('ERR_STATE_CORRUPT');
        expect(err.message).toContain(file);
        expect(err.message).toContain(c.field === 'to_version' ? 'to_version' : 'version');
        expect(err.details).toMatchObject({ file });
        expect(views.demo!.state).toMatchObject({ kind: 'failed', error: { code: 'ERR_STATE_CORRUPT' } });
        expect(views.demo!.current_version).toBe(c.current);
        expect(runner.damage('demo')).toMatchObject({ code: 'ERR_STATE_CORRUPT' });
        expect(runner.damage('other')).toBeNull();
        // The single view says the same.
        expect((await runner.view('demo')).last_error).toEqual(err);
      }
      for (const op of [(r: OperationRunner) => r.apply('demo'), (r: OperationRunner) => r.check('demo'), (r: OperationRunner) => r.download('demo'), (r: OperationRunner) => r.rollback('demo')]) {
        for (const runner of [s.make(), s.runner]) await expect(op(runner)).rejects.toMatchObject({ code: 'ERR_STATE_CORRUPT' });
      }
      expect(await fsp.readFile(path.join(s.dir, 'demo', 'bin', 'app'), 'utf8')).toBe('two');
      expect(await fsp.readFile(file, 'utf8')).toBe(damaged);
      await expect(s.runner.rollback('other')).resolves.toMatchObject({ version: '1.0.0' });
      expect(await fsp.readFile(path.join(s.dir, 'other', 'bin', 'app'), 'utf8')).toBe('one');
      // Repaired: the damage is gone from the next view at once.
      await fsp.writeFile(file, original);
      const demo = await s.runner.view('demo');
      expect(demo.current_version).toBe('1.1.0');
      expect(s.runner.damage('demo')).toBeNull();
    });
  }

  it('a corrupt journal: recovery of the other targets goes on, and the target is listed with the error', async () => {
    const s = await setup();
    await installBoth(s);
    const journal = path.join(s.targetState('demo'), 'journal.json');
    await fsp.writeFile(journal, '{ torn');
    const runner = s.make();
    const logs: string[] = [];
    runner.bus.subscribe((e) => void (e.type === 'log' && logs.push(e.line.message)));
    await expect(runner.recoverAll()).resolves.toEqual([]);
    expect(logs.some((l) => l.includes(journal) && l.includes('ERR_STATE_CORRUPT'))).toBe(true);
    const views = byId(await runner.views());
    expect(views.other!.last_error).toBeNull();
    expect(views.demo!.last_error).toMatchObject({ code: 'ERR_STATE_CORRUPT', details: { file: journal } });
    await expect(runner.apply('demo')).rejects.toMatchObject({ code: 'ERR_STATE_CORRUPT' });
    // The journal removed: nothing is left to recover, and the error with it.
    await fsp.rm(journal);
    expect((await runner.view('demo')).last_error).toBeNull();
  });
});

describe('progress lines say what happens to each file', () => {
  const messages = (events: UpkeepEvent[], phase: string) => events.flatMap((e) => (e.type === 'progress' && e.progress.phase === phase && e.progress.file ? [e.progress.message] : []));

  it('a rollback to nothing installed says "Removing" for every file, never "Restoring"', async () => {
    const s = await setup();
    s.sim.publish('1.0.0', { 'bin/app': 'one', 'hello.txt': 'hi' });
    await s.runner.apply('demo');
    s.events.length = 0;
    await s.runner.rollback('demo');
    const lines = messages(s.events, 'rollback');
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter((l) => !l.startsWith('Removing '))).toEqual([]);
    expect(new Set(lines)).toEqual(new Set(['Removing bin/app', 'Removing hello.txt']));
  });

  it('a versioned rollback to nothing says "Removing current"', async () => {
    const s = await setup({ layout: 'versioned' });
    s.sim.publish('1.0.0', { 'bin/app': 'one' });
    await s.runner.apply('demo');
    s.events.length = 0;
    await s.runner.rollback('demo');
    expect(messages(s.events, 'rollback')).toEqual(['Removing current']);
  });

  it('an apply says "Removing" for a file the new version drops and "Backing up" for one it replaces; its rollback "Restoring" both', async () => {
    const s = await setup();
    s.sim.publish('1.0.0', { 'bin/app': 'one', 'old.txt': 'old' });
    await s.runner.apply('demo');
    s.sim.publish('1.1.0', { 'bin/app': 'two' });
    s.events.length = 0;
    await s.runner.apply('demo');
    const backup = messages(s.events, 'backup');
    expect(new Set(backup)).toEqual(new Set(['Backing up bin/app', 'Removing old.txt']));
    s.events.length = 0;
    await s.runner.rollback('demo');
    const lines = messages(s.events, 'rollback');
    expect(lines.some((l) => l.startsWith('Removing'))).toBe(false);
    expect(lines).toContain('Restoring old.txt');
    expect(lines).toContain('Restoring bin/app');
  });
});
