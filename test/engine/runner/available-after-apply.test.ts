/**
 * After an explicit apply of an older release, the newer release stays available, assessed again
 * from the version now installed: a major bump that was not breaking from a fresh install is
 * breaking from the older release (and is then never applied automatically).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { FeedBuilder, indexPayload, makeKey, engineFor } from '../../helpers/feed-builder';
import { tempDir } from '../../helpers/tree';
import { decide } from '../../../src-main/engine/scheduler';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await fsp.rm(d, { recursive: true, force: true });
});

describe('available release after an apply of an older one', () => {
  it('is re-assessed as breaking from the installed version, and not applied automatically', async () => {
    const dir = await tempDir('upkeep-avail-after-');
    dirs.push(dir);
    const feed = new FeedBuilder(path.join(dir, 'feed'));
    const key = makeKey();
    const one = await feed.release('1.0.0', { 'bin/app': 'app 1' }, [key]);
    const two = await feed.release('2.0.0', { 'bin/app': 'app 2' }, [key]);
    await feed.index('stable', indexPayload(1, [two, one]), [key]);
    const engine = engineFor(dir, feed.dir, { keys: [key.line], threshold: 1 }, ['auto_apply: all']);

    await engine.check('demo');
    // From nothing installed, 2.0.0 is no breaking move.
    expect((await engine.view('demo')).available?.is_breaking).toBe(false);

    await engine.apply('demo', { version: '1.0.0' });
    const v = await engine.view('demo');
    expect(v.current_version).toBe('1.0.0');
    expect(v.available?.version).toBe('2.0.0');
    expect(v.available?.is_breaking).toBe(true);
    expect(v.state).toMatchObject({ kind: 'available', version: '2.0.0', is_breaking: true });
    expect(decide(v, new Date(), new Date(), null).apply).toBe(false);
    expect(await fsp.readFile(path.join(dir, 'install', 'bin', 'app'), 'utf8')).toBe('app 1');
  });
});
