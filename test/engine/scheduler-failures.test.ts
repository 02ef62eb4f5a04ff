/**
 * The scheduler with a real engine and feed when automatic work fails: a release whose apply
 * failed (and was rolled back) is never applied again automatically, and stop() ends a pass.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { FeedBuilder, makeKey, indexPayload, engineFor } from '../helpers/feed-builder';
import { tempDir } from '../helpers/tree';
import { Scheduler } from '../../src-main/engine/scheduler';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await fsp.rm(d, { recursive: true, force: true });
});

async function setup(extra: string[]) {
  const d = await tempDir('upkeep-sched-');
  dirs.push(d);
  const feed = new FeedBuilder(path.join(d, 'feed'));
  const key = makeKey();
  const e1 = await feed.release('1.0.0', { 'bin/app': 'one' }, [key]);
  const e2 = await feed.release('1.1.0', { 'bin/app': 'two' }, [key]);
  await feed.index('stable', indexPayload(1, [e2, e1]), [key]);
  const engine = engineFor(d, feed.dir, { keys: [key.line], threshold: 1 }, ['auto_apply: all', 'check_interval: 60', ...extra]);
  await engine.apply('demo', { version: '1.0.0' });
  return { d, engine };
}

describe('scheduler after failures', () => {
  it('does not apply a release again after its automatic apply failed and rolled back', async () => {
    // The smoke hook records each run and fails for 1.1.0 only.
    const { d, engine } = await setup([`hooks: { smoke: "echo ${'$'}UPKEEP_TO_VERSION >> ${'$'}UPKEEP_INSTALL_DIR/../smoke-runs; test ${'$'}UPKEEP_TO_VERSION != 1.1.0" }`]);
    const s = new Scheduler(engine, () => new Date());
    const t0 = Date.parse('2026-11-24T10:00:00Z');
    for (let i = 0; i < 5; i++) await s.tick(new Date(t0 + i * 61_000));
    const runs = (await fsp.readFile(path.join(d, 'smoke-runs'), 'utf8')).trim().split('\n');
    expect(runs).toEqual(['1.0.0', '1.1.0']);
    expect((await engine.view('demo')).current_version).toBe('1.0.0');
    const applies = (await engine.history('demo')).filter((h) => h.operation === 'apply' && h.actor === 'scheduler');
    expect(applies.map((h) => h.result)).toEqual(['rolled_back']);
    // A manual action lifts the hold.
    s.clearFailure('demo');
    await s.tick(new Date(t0 + 10 * 61_000));
    expect((await fsp.readFile(path.join(d, 'smoke-runs'), 'utf8')).trim().split('\n')).toEqual(['1.0.0', '1.1.0', '1.1.0']);
  });

  it('starts nothing new once stop() was called', async () => {
    const { engine } = await setup([]);
    const s = new Scheduler(engine, () => new Date());
    const stopped = s.stop();
    await s.tick(new Date('2026-11-24T10:00:00Z'));
    await stopped;
    expect((await engine.view('demo')).current_version).toBe('1.0.0');
    expect((await engine.history('demo')).some((h) => h.actor === 'scheduler')).toBe(false);
  });
});
