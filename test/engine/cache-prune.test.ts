/**
 * The download cache keeps the blobs of the installed version, of retained rollback points and
 * of the newest available release, and nothing else.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { FeedBuilder, indexPayload, makeKey, engineFor, sha256 } from '../helpers/feed-builder';
import { tempDir } from '../helpers/tree';
import { TARGET_VIEW_MAX_FILES } from '../../src-shared/api';
import { pruneDownloadCache } from '../../src-main/engine/apply/cache-prune';
import { AVAILABLE_DIGESTS_MAX_BYTES } from '../../src-main/engine/state/store';
import { DEFAULT_LIMITS } from '../../src-main/engine/limits';
import { MAX_STATE_FILE_BYTES } from '../../src-main/engine/fs/atomic';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await fsp.rm(d, { recursive: true, force: true });
});

const files = (v: string) => ({ 'bin/app': `app ${v}`, 'lib/core.txt': `core ${v}`, 'share/same.txt': 'identical in every version' });
const blobsOf = (v: string) => Object.values(files(v)).map((c) => sha256(c));

describe('download cache pruning', () => {
  it('keeps installed, retained-point and newest-available blobs only', async () => {
    const dir = await tempDir('upkeep-prune-');
    dirs.push(dir);
    const feed = new FeedBuilder(path.join(dir, 'feed'));
    const key = makeKey();
    const entries = [];
    for (const v of ['1.0.0', '1.1.0', '1.2.0', '1.3.0']) entries.push(await feed.release(v, files(v), [key]));
    const engine = engineFor(dir, feed.dir, { keys: [key.line], threshold: 1 }, ['retention: 1']);
    const cached = async (): Promise<Set<string>> => new Set(await fsp.readdir(path.join(dir, 'state', 'downloads', 'blobs', 'sha256')));

    for (const [i, v] of ['1.0.0', '1.1.0', '1.2.0'].entries()) {
      await feed.index('stable', indexPayload(i + 1, entries.slice(0, i + 1).reverse()), [key]);
      await engine.apply('demo', { version: v });
    }
    // Installed 1.2.0, one point (before = 1.1.0); 1.0.0 is needed by nothing.
    let c = await cached();
    for (const h of [...blobsOf('1.2.0'), ...blobsOf('1.1.0')]) expect(c.has(h), h).toBe(true);
    expect(c.has(sha256('app 1.0.0'))).toBe(false);
    expect(c.has(sha256('core 1.0.0'))).toBe(false);

    // 1.3.0 becomes available and is downloaded; a rollback to 1.1.0 then keeps it (newest available).
    await feed.index('stable', indexPayload(4, [...entries].reverse()), [key]);
    await engine.check('demo');
    await engine.download('demo', {});
    await engine.rollback('demo', {});
    c = await cached();
    for (const h of [...blobsOf('1.1.0'), ...blobsOf('1.3.0')]) expect(c.has(h), h).toBe(true);
    expect(c.has(sha256('app 1.2.0'))).toBe(false);
    expect([...c].sort()).toEqual([...new Set([...blobsOf('1.1.0'), ...blobsOf('1.3.0')])].sort());
    expect(await fsp.readdir(path.join(dir, 'state', 'downloads', 'releases', 'demo'))).toEqual(['1.3.0']);
    // And it still applies from the cache.
    expect((await engine.apply('demo', {})).version).toBe('1.3.0');
    // The installed version's blobs are kept, so its view stays, every link whole.
    const view = path.join(dir, 'state', 'downloads', 'releases', 'demo');
    expect(await fsp.readdir(view)).toEqual(['1.3.0']);
    for (const [rel, data] of Object.entries(files('1.3.0'))) expect(await fsp.readFile(path.join(view, '1.3.0', rel), 'utf8')).toBe(data);
  });

  it('a damaged point.json: the prune keeps every blob and view (not an ERR_STATE_CORRUPT failure), and a rollback to a newer point still prunes nothing', async () => {
    const dir = await tempDir('upkeep-prune-damaged-');
    dirs.push(dir);
    const feed = new FeedBuilder(path.join(dir, 'feed'));
    const key = makeKey();
    const entries = [];
    for (const v of ['1.0.0', '1.1.0', '1.2.0']) entries.push(await feed.release(v, files(v), [key]));
    const engine = engineFor(dir, feed.dir, { keys: [key.line], threshold: 1 }, ['retention: 3']);
    for (const [i, v] of ['1.0.0', '1.1.0', '1.2.0'].entries()) {
      await feed.index('stable', indexPayload(i + 1, entries.slice(0, i + 1).reverse()), [key]);
      await engine.apply('demo', { version: v });
    }
    const blobs = path.join(dir, 'state', 'downloads', 'blobs', 'sha256');
    const releases = path.join(dir, 'state', 'downloads', 'releases', 'demo');
    await fsp.writeFile(path.join(blobs, sha256('not needed')), 'not needed');
    await fsp.mkdir(path.join(releases, '0.9.0'), { recursive: true });
    // The point of 1.0.0 -> 1.1.0 (it keeps 1.0.0's files) gets a point.json off its schema (its seq
    // still readable, so it is known to be older than the newest point).
    const pointsDir = path.join(dir, 'state', 'points', 'demo');
    const docs = await Promise.all((await fsp.readdir(pointsDir)).map(async (id) => ({ id, doc: JSON.parse(await fsp.readFile(path.join(pointsDir, id, 'point.json'), 'utf8')) as Record<string, unknown> })));
    const middle = docs.find((d) => d.doc.seq === 2)!;
    await fsp.writeFile(path.join(pointsDir, middle.id, 'point.json'), JSON.stringify({ ...middle.doc, before: 'damaged' }));
    const before = (await fsp.readdir(blobs)).sort();
    expect(before).toContain(sha256('app 1.0.0'));

    expect(await pruneDownloadCache(engine.config().config)).toBe(0);
    expect((await fsp.readdir(blobs)).sort()).toEqual(before);
    expect(await fsp.readdir(releases)).toContain('0.9.0');
    // A rollback to the newest point (1.2.0 -> 1.1.0) does not consume the damaged one: it succeeds and prunes nothing.
    expect((await engine.rollback('demo', {})).version).toBe('1.1.0');
    expect((await fsp.readdir(blobs)).sort()).toEqual(before);
  });

  it('deletes a view an interrupted prune left half deleted under its hidden name, and stale views', async () => {
    const dir = await tempDir('upkeep-prune-views-');
    dirs.push(dir);
    const feed = new FeedBuilder(path.join(dir, 'feed'));
    const key = makeKey();
    const entry = await feed.release('1.0.0', files('1.0.0'), [key]);
    await feed.index('stable', indexPayload(1, [entry]), [key]);
    const engine = engineFor(dir, feed.dir, { keys: [key.line], threshold: 1 });
    const releases = path.join(dir, 'state', 'downloads', 'releases', 'demo');
    // What a prune SIGKILLed mid-way leaves: a view renamed to its hidden name and partly deleted.
    await fsp.mkdir(path.join(releases, '.pruning-0.8.0', 'lib'), { recursive: true });
    await fsp.writeFile(path.join(releases, '.pruning-0.8.0', 'lib', 'left.txt'), 'one file left');
    await fsp.mkdir(path.join(releases, '0.9.0', 'bin'), { recursive: true });
    await fsp.writeFile(path.join(releases, '0.9.0', 'bin', 'app'), 'a view nothing needs');
    await engine.apply('demo', {});
    expect(await fsp.readdir(releases)).toEqual([]);
  });
  it('keeps every blob of an available release of more files than runtime.json lists, and keeps all blobs when those digests are unknown', async () => {
    const dir = await tempDir('upkeep-prune-many-');
    dirs.push(dir);
    const feed = new FeedBuilder(path.join(dir, 'feed'));
    const key = makeKey();
    const many = (v: string): Record<string, string> => Object.fromEntries(Array.from({ length: TARGET_VIEW_MAX_FILES * 3 }, (_, i) => [`lib/f${String(i).padStart(3, '0')}.txt`, `${v} file ${i}`]));
    const e1 = await feed.release('1.0.0', files('1.0.0'), [key]);
    const e2 = await feed.release('1.1.0', files('1.1.0'), [key]);
    const e3 = await feed.release('2.0.0', many('2.0.0'), [key]);
    const engine = engineFor(dir, feed.dir, { keys: [key.line], threshold: 1 }, ['retention: 1']);
    const blobs = path.join(dir, 'state', 'downloads', 'blobs', 'sha256');
    const state = path.join(dir, 'state', 'targets', 'demo');
    await feed.index('stable', indexPayload(1, [e1]), [key]);
    await engine.apply('demo', {});
    // 2.0.0 (60 files) becomes available and is downloaded, not applied.
    await feed.index('stable', indexPayload(2, [e3, e1]), [key]);
    await engine.check('demo');
    await engine.download('demo', {});
    // runtime.json lists the first files and the count; every digest is beside it.
    const rt = JSON.parse(await fsp.readFile(path.join(state, 'runtime.json'), 'utf8')) as { available: { version: string; files: unknown[]; file_count: number } };
    expect(rt.available.version).toBe('2.0.0');
    expect(rt.available.files).toHaveLength(TARGET_VIEW_MAX_FILES);
    expect(rt.available.file_count).toBe(TARGET_VIEW_MAX_FILES * 3);
    const digests = JSON.parse(await fsp.readFile(path.join(state, 'available-digests.json'), 'utf8')) as { version: string; sha256: string[] };
    expect(digests.version).toBe('2.0.0');
    expect(new Set(digests.sha256)).toEqual(new Set(Object.values(many('2.0.0')).map((c) => sha256(c))));
    // An apply of 1.1.0 prunes 1.0.0's blobs (kept by the new point: retention 1) but no blob of 2.0.0.
    await feed.index('stable', indexPayload(3, [e3, e2, e1]), [key]);
    await engine.apply('demo', { version: '1.1.0' });
    // 2.0.0 is still newer than what was installed: still offered.
    expect((JSON.parse(await fsp.readFile(path.join(state, 'runtime.json'), 'utf8')) as { available: { version: string } }).available.version).toBe('2.0.0');
    let c = new Set(await fsp.readdir(blobs));
    for (const content of Object.values(many('2.0.0'))) expect(c.has(sha256(content)), content).toBe(true);
    for (const h of blobsOf('1.1.0')) expect(c.has(h), h).toBe(true);
    // available-digests.json of another version (a crash between its write and runtime.json's):
    // the prune cannot know 2.0.0's blobs, so it removes none, not even one nothing needs.
    await fsp.writeFile(path.join(blobs, sha256('not needed')), 'not needed');
    await fsp.writeFile(path.join(state, 'available-digests.json'), JSON.stringify({ version: '1.9.0', sha256: [] }));
    expect(await pruneDownloadCache(engine.config().config)).toBe(0);
    c = new Set(await fsp.readdir(blobs));
    expect(c.has(sha256('not needed'))).toBe(true);
    for (const content of Object.values(many('2.0.0'))) expect(c.has(sha256(content)), content).toBe(true);
    // The next check writes the digests again, and the next prune removes only what nothing needs.
    await engine.check('demo');
    expect((JSON.parse(await fsp.readFile(path.join(state, 'available-digests.json'), 'utf8')) as { version: string }).version).toBe('2.0.0');
    expect(await pruneDownloadCache(engine.config().config)).toBe('not needed'.length);
    c = new Set(await fsp.readdir(blobs));
    expect(c.has(sha256('not needed'))).toBe(false);
    for (const content of Object.values(many('2.0.0'))) expect(c.has(sha256(content)), content).toBe(true);
    for (const h of blobsOf('1.1.0')) expect(c.has(h), h).toBe(true);

    // A directory where available-digests.json belongs: checks still work, and no blob is pruned.
    await fsp.rm(path.join(state, 'available-digests.json'));
    await fsp.mkdir(path.join(state, 'available-digests.json', 'sub'), { recursive: true });
    await fsp.writeFile(path.join(blobs, sha256('not needed')), 'not needed');
    await engine.check('demo');
    expect((await engine.view('demo')).available).toMatchObject({ version: '2.0.0', file_count: TARGET_VIEW_MAX_FILES * 3 });
    expect(await pruneDownloadCache(engine.config().config)).toBe(0);
    expect(new Set(await fsp.readdir(blobs)).has(sha256('not needed'))).toBe(true);

    // A planted available-digests.json larger than any release's digests could make (here of the
    // right version, listing none of 2.0.0's blobs) is refused from its size: no blob is pruned.
    await fsp.rm(path.join(state, 'available-digests.json'), { recursive: true });
    await engine.check('demo');
    const planted = `{"version":"2.0.0","sha256":[${' '.repeat(AVAILABLE_DIGESTS_MAX_BYTES)}]}`;
    await fsp.writeFile(path.join(state, 'available-digests.json'), planted);
    expect(await pruneDownloadCache(engine.config().config)).toBe(0);
    c = new Set(await fsp.readdir(blobs));
    expect(c.has(sha256('not needed'))).toBe(true);
    for (const content of Object.values(many('2.0.0'))) expect(c.has(sha256(content)), content).toBe(true);
    // The next check writes it anew, at its usual size.
    await engine.check('demo');
    const rewritten = await fsp.readFile(path.join(state, 'available-digests.json'), 'utf8');
    expect(rewritten.length).toBeLessThan(AVAILABLE_DIGESTS_MAX_BYTES);
    expect(new Set((JSON.parse(rewritten) as { sha256: string[] }).sha256)).toEqual(new Set(Object.values(many('2.0.0')).map((x) => sha256(x))));
    expect(await pruneDownloadCache(engine.config().config)).toBe('not needed'.length);
  });

  it('bounds available-digests.json by the largest release: as many entries as a manifest may list files', () => {
    const entry = JSON.stringify({ version: '1.0.0', sha256: ['a'.repeat(64), 'b'.repeat(64)] }, null, 2).split('\n')[3]!;
    expect(`${entry}\n`.length).toBe(72);
    expect(AVAILABLE_DIGESTS_MAX_BYTES).toBeGreaterThanOrEqual(DEFAULT_LIMITS.maxManifestFiles * 72);
    expect(AVAILABLE_DIGESTS_MAX_BYTES).toBeLessThan(MAX_STATE_FILE_BYTES / 16);
  });
});
