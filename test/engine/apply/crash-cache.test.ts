/**
 * SIGKILL during download-cache pruning. The cache holds the blobs of the installed release and
 * of the newest available release (downloaded, not installed), plus the blobs of an earlier
 * installed release whose rollback point was deleted, 2,000 blobs nothing needs, stale partial
 * downloads and the per-version view of a release nothing needs. A child prunes it (what every commit does) and is killed at random instants,
 * mostly within the measured duration of the pruning itself. After each kill the next start
 * runs (recovery, in a fresh engine), and then:
 * - every blob left verifies against its SHA-256 name, every blob still needed is there, and
 *   the cache holds no name it did not hold before (pruning never leaves temp or partial files);
 * - the view of the available release is intact;
 * - the next operation works: on every third run an apply of the available release with the
 *   feed's blobs gone (so every byte comes from the kept cache; the tree is compared byte for
 *   byte, mode for mode, link for link), else an uninterrupted prune; either way the cache ends
 *   holding exactly what it must, with no partial file or stale view left.
 *
 * UPKEEP_CACHE_CRASH_RUNS sets the kills per layout (default 2); UPKEEP_CRASH_SEED the seed.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pruneDownloadCache } from '../../../src-main/engine/apply/cache-prune';
import { deletePoint, listPoints, readInstalled } from '../../../src-main/engine/apply/index';
import { parseConfig } from '../../../src-main/engine/config/load';
import { DEFAULT_LIMITS } from '../../../src-main/engine/limits';
import { OperationRunner as Engine } from '../../../src-main/engine/runner/operation-runner';
import { FeedBuilder, indexPayload, makeKey, sha256 } from '../../helpers/feed-builder';
import { CRASH_BASE, CRASH_SEED as SEED, copyTree, envCount, names, rng, runChild, recordFailure, tallyKills } from '../../helpers/kill-loop';
import type { KillOptions } from '../../helpers/kill-loop';
import type { SnapEntry } from './helpers';
import { snapshot } from './helpers';

const RUNS = envCount('UPKEEP_CACHE_CRASH_RUNS', 2);
const CHILD = path.resolve(__dirname, 'cache-crash-child.ts');
const FILES = 300;
const JUNK = 2000;
const VERSIONS = ['1.0.0', '1.1.0', '1.2.0'] as const;

/** Release contents: most files change every version; `docs` turns from a file into a directory in 1.2.0. */
function files(v: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < FILES; i++) out[`d${i % 7}/f${i}.txt`] = i % 5 === 0 ? `same in every version ${i}\n` : `${v} file ${i}\n`;
  if (v === '1.2.0') out['docs/index.md'] = 'docs as a directory';
  else out.docs = `docs as one file in ${v}`;
  return out;
}
const blobsOf = (v: string): string[] => Object.values(files(v)).map((c) => sha256(c));

describe.each(['in-place', 'versioned'] as const)('crash safety of download-cache pruning (%s)', (layout) => {
  let dir: string;
  let work: string;
  let pristine: string;
  let configFile: string;
  let configText: string;
  let blobsDir: string;
  let releasesDir: string;
  /** Every name under the download dir before pruning. */
  let before: Set<string>;
  let keep: Set<string>;
  let availableView: SnapEntry[];
  let oldView: SnapEntry[];
  let blobsBefore = 0;
  let tree12: SnapEntry[];
  let tAll = 0;
  let tPrune = 0;
  const random = rng(SEED ^ (layout === 'in-place' ? 0xcace : 0xcacf));

  const engine = (): Engine => new Engine({ loaded: parseConfig(configText, { file: configFile, dir, env: {} }), actor: 'cli', limits: { ...DEFAULT_LIMITS, retries: 1, backoffBaseMs: 5, maxBackoffMs: 10 } });
  const active = (): Promise<SnapEntry[]> => snapshot(layout === 'versioned' ? path.join(work, 'install', 'current') : path.join(work, 'install'));
  const cached = async (): Promise<string[]> => (await fsp.readdir(path.join(blobsDir, 'sha256'))).sort();
  const downloadNames = async (): Promise<string[]> => (await names(path.join(work, 'downloads'))).sort();

  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(CRASH_BASE, `upkeep-crash-cache-${layout}-`));
    work = path.join(dir, 'w');
    configFile = path.join(dir, 'upkeep.yaml');
    blobsDir = path.join(work, 'downloads', 'blobs');
    releasesDir = path.join(work, 'downloads', 'releases', 'demo');
    const feed = new FeedBuilder(path.join(dir, 'feed'));
    const key = makeKey();
    configText = [
      'state_dir: ./w/state',
      'download_dir: ./w/downloads',
      'targets:',
      '  - id: demo',
      '    kind: files',
      '    install_dir: ./w/install',
      '    product: demo',
      `    layout: ${layout}`,
      '    retention: 1',
      `    feed: { url: ${JSON.stringify(feed.dir)} }`,
      `    trust: { keys: ${JSON.stringify([key.line])}, threshold: 1 }`,
    ].join('\n');
    await fsp.writeFile(configFile, configText);
    const entries = [];
    for (const v of VERSIONS) entries.push(await feed.release(v, files(v), [key]));
    // Installed 1.1.0 with one point (before: 1.0.0); 1.2.0 is available and downloaded.
    for (const [i, v] of ['1.0.0', '1.1.0'].entries()) {
      await feed.index('stable', indexPayload(i + 1, entries.slice(0, i + 1).reverse()), [key]);
      expect((await engine().apply('demo', { version: v })).version).toBe(v);
    }
    await feed.index('stable', indexPayload(3, [...entries].reverse()), [key]);
    await engine().check('demo');
    await engine().download('demo', {});
    availableView = await snapshot(path.join(releasesDir, '1.2.0'));
    expect(availableView.length).toBeGreaterThan(FILES);
    expect((await readInstalled(path.join(work, 'state', 'targets', 'demo')))?.version).toBe('1.1.0');
    const pointsDir = path.join(work, 'state', 'points', 'demo');
    const [point] = await listPoints(pointsDir);
    expect(point?.before?.version).toBe('1.0.0');
    for (const h of blobsOf('1.0.0')) expect(await cached(), h).toContain(h);
    // The point is deleted (as a lower retention would), so the blobs only it needed, which the
    // applies of 1.0.0 installed, are pruned too.
    await deletePoint(pointsDir, point.rollback_id);
    keep = new Set([...blobsOf('1.1.0'), ...blobsOf('1.2.0')]);
    for (const h of keep) expect(await cached(), h).toContain(h);

    // What nothing needs: blobs of older releases, stale partial downloads, an old release view.
    for (let i = 0; i < JUNK; i++) {
      const data = `an old release's file ${i}\n`;
      const blob = path.join(blobsDir, 'sha256', sha256(data));
      await fsp.writeFile(blob, data);
      if (i < 200) {
        const view = path.join(releasesDir, '0.9.0', `d${i % 9}`, `f${i}.txt`);
        await fsp.mkdir(path.dirname(view), { recursive: true });
        await fsp.symlink(blob, view);
      }
    }
    await fsp.mkdir(path.join(blobsDir, 'partial'), { recursive: true });
    const old = new Date(Date.now() - 3600_000);
    for (let i = 0; i < 20; i++) {
      const p = path.join(blobsDir, 'partial', sha256(`partial ${i}`));
      await fsp.writeFile(p, `half of a download ${i}`);
      await fsp.utimes(p, old, old);
    }
    oldView = await snapshot(path.join(releasesDir, '0.9.0'));
    before = new Set(await downloadNames());
    blobsBefore = (await cached()).length;
    pristine = path.join(dir, 'pristine');
    await copyTree(work, pristine);

    // The tree 1.2.0 installs (applied once from a copy, so the loop starts from the pristine state).
    expect((await engine().apply('demo', {})).version).toBe('1.2.0');
    tree12 = await active();
    expect(tree12.length).toBeGreaterThan(FILES);
    await copyTree(pristine, work);

    const full = await runChild(CHILD, [configFile]);
    expect(full.code, full.stderr).toBe(0);
    tAll = full.ms;
    tPrune = Math.max(1, full.ms - full.markerAt.prune);
    expect(await cached()).toEqual([...keep].sort());
    expect(await fsp.readdir(path.join(blobsDir, 'partial'))).toEqual([]);
    expect(await fsp.readdir(releasesDir)).toEqual(['1.2.0']);
  }, 600_000);

  afterAll(async () => {
    if (dir) await fsp.rm(dir, { recursive: true, force: true });
  });

  it('recovers from a SIGKILL at any instant of cache pruning: no bad or missing blob, and the next apply works from the cache', async () => {
    let kills = 0;
    let applies = 0;
    let midway = 0; // kills that left the pruning half done
    try {
      for (let i = 0; kills < RUNS; i++) {
        if (i >= 10 * RUNS) throw new Error(`seed ${SEED} ${layout}: only ${kills} of ${i} runs were killed before they finished`);
        await copyTree(pristine, work);
        const opts: KillOptions = i % 4 === 3 ? { killAfterMs: Math.floor(random() * tAll) } : { killOnMarker: 'prune', extraMs: Math.floor(random() * tPrune) };
        const out = await runChild(CHILD, [configFile], opts);
        const note = `seed ${SEED} ${layout} cache run ${i} (${JSON.stringify(opts)}, markers ${out.markers.join(',')})`;
        if (!out.killed) expect(out.code, `${note}: ${out.stderr}`).toBe(0);
        // The next start: recovery of every target.
        await engine().recoverAll();

        const left = await cached();
        for (const h of left) expect(sha256(await fsp.readFile(path.join(blobsDir, 'sha256', h))), `${note}: blob ${h}`).toBe(h);
        for (const h of keep) expect(left.includes(h), `${note}: needed blob ${h} is missing`).toBe(true);
        // Nothing new but the hidden name of a view being deleted; a view under a version's name is whole.
        const now = await downloadNames();
        expect(now.filter((n) => !before.has(n) && !n.startsWith('releases/demo/.pruning-0.9.0')), `${note}: new names in the download dir`).toEqual([]);
        expect(await snapshot(path.join(releasesDir, '1.2.0')), `${note}: the available release's view`).toEqual(availableView);
        const view09 = await snapshot(path.join(releasesDir, '0.9.0'));
        if (view09.length > 0) expect(view09, `${note}: a view under its version's name is whole or absent`).toEqual(oldView);
        if (left.length < blobsBefore && left.length > keep.size) midway++;

        if (i % 3 === 0) {
          // The next apply needs the kept 1.2.0 blobs, and the feed no longer has them.
          const feedBlobs = path.join(dir, 'feed', 'blobs');
          await fsp.rename(feedBlobs, `${feedBlobs}-away`);
          try {
            const r = await engine().apply('demo', {});
            expect(r.version, note).toBe('1.2.0');
          } finally {
            await fsp.rename(`${feedBlobs}-away`, feedBlobs);
          }
          expect(await active(), `${note}: the tree after the next apply`).toEqual(tree12);
          // Installed 1.2.0, point before 1.1.0, nothing newer available: the installed version's view stays.
          expect(await cached(), note).toEqual([...keep].sort());
          expect(await fsp.readdir(releasesDir), note).toEqual(['1.2.0']);
          applies++;
        } else {
          await pruneDownloadCache(engine().config().config);
          expect(await cached(), note).toEqual([...keep].sort());
          expect(await fsp.readdir(releasesDir), note).toEqual(['1.2.0']);
        }
        expect(await fsp.readdir(path.join(blobsDir, 'partial')), `${note}: partial downloads left`).toEqual([]);
        if (out.killed) kills++;
        else {
          // The machine's load varies: a run that finished before its kill shortens the windows.
          tAll = Math.min(tAll, out.ms);
          if (out.markerAt.prune !== undefined) tPrune = Math.max(1, Math.min(tPrune, out.ms - out.markerAt.prune));
        }
      }
    } catch (err) {
      await recordFailure(`${layout} cache-prune`, kills, err);
      throw err;
    }
    await tallyKills(`${layout} cache-prune`, kills, `${midway} left it half done, ${applies} next applies from the cache`);
    expect(kills).toBe(RUNS);
    // The kills land inside the pruning, not only before or after it.
    if (RUNS >= 8) expect(midway).toBeGreaterThan(0);
  }, Math.max(600_000, RUNS * 20_000));
});
