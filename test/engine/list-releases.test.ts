/**
 * `listReleases` against a real signed feed: the installed release with its notes, the releases
 * this machine may apply (newest first, skipped and incompatible ones left out), and the newest
 * release a staged rollout still holds back. Nothing on disk changes.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { FeedBuilder, makeKey, indexPayload, engineFor } from '../helpers/feed-builder';
import { snapshot, tempDir } from '../helpers/tree';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await fsp.rm(d, { recursive: true, force: true });
});

describe('listReleases', () => {
  it('lists the installed release and every eligible one, and names a release held back by its rollout', async () => {
    const d = await tempDir('upkeep-releases-');
    dirs.push(d);
    const feed = new FeedBuilder(path.join(d, 'feed'));
    const key = makeKey();
    const e1 = await feed.release('1.0.0', { 'bin/app': 'one' }, [key], { release_notes: '## 1.0.0\n\nfirst' });
    const e11 = await feed.release('1.1.0', { 'bin/app': 'two' }, [key], { release_notes: 'eleven' });
    const e12 = await feed.release('1.2.0', { 'bin/app': 'three' }, [key], { release_notes: 'twelve', is_critical: true });
    const e13 = await feed.release('1.3.0', { 'bin/app': 'four' }, [key], { min_upgrade_from: '>=1.1.0' });
    const e14 = await feed.release('1.4.0', { 'bin/app': 'five' }, [key]);
    const e20 = await feed.release('2.0.0', { 'bin/app': 'six' }, [key]);
    // 2.0.0 reaches nobody yet (percent 0 halts a rollout); 1.4.0 is skipped by the user.
    await feed.index('stable', indexPayload(1, [{ ...e20, rollout: { percent: 0 } }, e14, e13, e12, e11, e1]), [key]);
    const engine = engineFor(d, feed.dir, { keys: [key.line], threshold: 1 }, ['skip_versions: ["1.4.0"]']);
    await engine.apply('demo', { version: '1.0.0' });
    const before = await snapshot(path.join(d, 'install'));

    const list = await engine.listReleases('demo');
    expect(list.target).toBe('demo');
    expect(list.current_version).toBe('1.0.0');
    expect(list.installed?.version).toBe('1.0.0');
    expect(list.installed?.release_notes).toContain('first');
    // 1.3.0 cannot be reached from 1.0.0 (min_upgrade_from), 1.4.0 is skipped, 2.0.0 is held back.
    expect(list.eligible.map((r) => r.version)).toEqual(['1.2.0', '1.1.0']);
    expect(list.eligible[0]).toMatchObject({ is_critical: true, release_notes: 'twelve' });
    expect(list.eligible[1].release_notes).toBe('eleven');
    expect(list.rollout_pending).toEqual({ version: '2.0.0', percent: 0 });
    expect(await snapshot(path.join(d, 'install'))).toEqual(before);

    // What apply installs by default is the first eligible release.
    expect((await engine.apply('demo')).version).toBe('1.2.0');
    const after = await engine.listReleases('demo');
    expect(after.installed?.release_notes).toBe('twelve');
    expect(after.eligible.map((r) => r.version)).toEqual(['1.3.0']);
    expect(after.rollout_pending).toEqual({ version: '2.0.0', percent: 0 });
  });
});
