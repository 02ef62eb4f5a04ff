/**
 * SIGKILL during retention pruning: the target starts with three rollback points and an apply
 * with `retention: 2` keeps two, so every commit deletes the two oldest points (for the versioned
 * layout also the version directory only they kept) after the new tree is in place. The child
 * is killed at random instants after the commit marker (the finish: point publication, retention
 * pruning, version pruning) and, on every fourth run, anywhere in the apply. After recovery in a
 * fresh process the install dir is exactly the old or the new tree (bytes, modes, links), the
 * points are exactly the old three or the new two, no half-deleted point directory remains, each
 * remaining point is complete (its backed-up files or kept version directory hold the bytes and
 * modes it records), and on some runs every remaining point is rolled back to in turn and
 * restores its exact tree.
 *
 * UPKEEP_PRUNE_CRASH_RUNS sets the kills per layout (default 2); UPKEEP_CRASH_SEED the seed.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyRelease, listPoints, readInstalled, rollbackToPoint } from '../../../src-main/engine/apply/index';
import type { PlannedFile, RollbackPoint } from '../../../src-main/engine/apply/index';
import { CRASH_BASE, CRASH_SEED as SEED, copyTree, envCount, names, rng, runChild, recordFailure, tallyKills } from '../../helpers/kill-loop';
import type { KillOptions } from '../../helpers/kill-loop';
import { releaseV1, releaseV2 } from './crash-fixtures';
import type { Sandbox, SnapEntry } from './helpers';
import { makeSandbox, sha256, snapshot, toPlanned } from './helpers';

const RUNS = envCount('UPKEEP_PRUNE_CRASH_RUNS', 2);
const CHILD = path.resolve(__dirname, 'crash-child.ts');
/** Every how many kills the remaining points are all rolled back to and compared. */
const ROLLBACK_CHECK_EVERY = 4;

describe.each(['in-place', 'versioned'] as const)('crash safety of retention pruning (%s)', (layout) => {
  let sb: Sandbox;
  let work: string;
  let pristine: string;
  let cfg: string;
  let oldTree: SnapEntry[];
  let newTree: SnapEntry[];
  let oldPoints: string[];
  let newPoints: string[];
  /** The active tree (the install dir, or what `current` points at) per installed version; '' = none. */
  const content = new Map<string, SnapEntry[]>();
  let tAll = 0;
  let tFinish = 0;
  const random = rng(SEED ^ (layout === 'in-place' ? 0x5eed : 0xfeed));

  const active = (): Promise<SnapEntry[]> => snapshot(layout === 'versioned' ? path.join(sb.installDir, 'current') : sb.installDir);
  const ids = (pts: RollbackPoint[]): string[] => pts.map((p) => p.rollback_id);

  beforeAll(async () => {
    sb = await makeSandbox(`upkeep-crash-retention-${layout}-`, CRASH_BASE);
    work = sb.root;
    sb.cacheDir = `${sb.root}-cache`;
    await fsp.mkdir(path.join(sb.installDir, 'user-data'), { recursive: true });
    await fsp.writeFile(path.join(sb.installDir, 'user-data', 'notes.txt'), 'not managed by Upkeep');
    const v1 = releaseV1();
    const p1 = await toPlanned(sb.cacheDir, v1);
    const p2: PlannedFile[] = await toPlanned(sb.cacheDir, releaseV2(v1));
    content.set('', await active());
    // Three points: before 1.0.0 (nothing), before 2.0.0 (v1 bytes), before 3.0.0 (v2 bytes).
    for (const [v, files] of [['1.0.0', p1], ['2.0.0', p2], ['3.0.0', p1]] as const) {
      await applyRelease(sb.plan(`setup${v[0]}`, v, files, layout, 3));
      content.set(v, await active());
    }
    oldTree = await snapshot(sb.installDir);
    oldPoints = ids(await listPoints(sb.pointsDir));
    expect(oldPoints).toHaveLength(3);
    pristine = `${sb.root}-pristine`;
    await copyTree(work, pristine);

    const filesJson = `${sb.root}-v4.json`;
    await fsp.writeFile(filesJson, JSON.stringify(p2));
    cfg = `${sb.root}-cfg.json`;
    await fsp.writeFile(cfg, JSON.stringify({ installDir: sb.installDir, stateDir: sb.stateDir, pointsDir: sb.pointsDir, layout, version: '4.0.0', filesJson, opId: 'pruneop', retention: 2 }));
    const full = await runChild(CHILD, ['apply', cfg]);
    expect(full.code, full.stderr).toBe(0);
    expect(full.markers).toContain('commit');
    tAll = full.ms;
    tFinish = Math.max(1, full.ms - full.markerAt.commit);
    newTree = await snapshot(sb.installDir);
    content.set('4.0.0', await active());
    expect(content.get('4.0.0')).toEqual(content.get('2.0.0'));
    newPoints = ids(await listPoints(sb.pointsDir));
    // The two oldest points are gone and the new one is kept.
    expect(newPoints.slice(1)).toEqual(oldPoints.slice(0, 1));
    expect(newPoints).toHaveLength(2);
    expect((await fsp.readdir(sb.pointsDir)).sort()).toEqual([...newPoints].sort());
    if (layout === 'versioned') expect(await fsp.readdir(path.join(sb.installDir, 'versions'))).not.toContain('1.0.0');
  }, 600_000);

  afterAll(async () => {
    for (const p of [sb.root, pristine, sb.cacheDir, `${sb.root}-v4.json`, `${sb.root}-cfg.json`]) if (p) await fsp.rm(p, { recursive: true, force: true });
  });

  /** Each point holds what it records: backed-up bytes and modes (in-place), the kept version dir (versioned). */
  async function assertComplete(pt: RollbackPoint, note: string): Promise<void> {
    if (pt.layout === 'versioned') {
      if (pt.kept_version_dir) expect(await snapshot(path.join(sb.installDir, pt.kept_version_dir)), `${note}: ${pt.rollback_id} kept dir`).toEqual(content.get(pt.before?.version ?? ''));
      return;
    }
    const root = path.join(sb.pointsDir, pt.rollback_id, 'files');
    for (const f of pt.backed_up) {
      const abs = path.join(root, ...f.path.split('/'));
      const st = await fsp.lstat(abs).catch(() => null);
      expect(st, `${note}: ${pt.rollback_id} lacks ${f.path}`).not.toBeNull();
      if (f.target !== undefined) {
        expect(await fsp.readlink(abs), `${note}: ${pt.rollback_id} ${f.path}`).toBe(f.target);
        continue;
      }
      expect(sha256(await fsp.readFile(abs)), `${note}: ${pt.rollback_id} ${f.path} bytes`).toBe(f.sha256);
      expect((st?.mode ?? 0) & 0o7777, `${note}: ${pt.rollback_id} ${f.path} mode`).toBe(f.mode);
    }
  }

  it('recovers an apply SIGKILLed while it prunes old rollback points to the old or the new tree, with whole points only', async () => {
    const counts = { old: 0, new: 0 };
    let kills = 0;
    try {
      for (let i = 0; kills < RUNS; i++) {
        if (i >= 10 * RUNS) throw new Error(`seed ${SEED} ${layout}: only ${kills} of ${i} runs were killed before they finished`);
        await copyTree(pristine, work);
        const opts: KillOptions = i % 4 === 3 ? { killAfterMs: Math.floor(random() * tAll) } : { killOnMarker: 'commit', extraMs: Math.floor(random() * tFinish) };
        const out = await runChild(CHILD, ['apply', cfg], opts);
        if (!out.killed) expect(out.code, out.stderr).toBe(0);
        const rec = await runChild(CHILD, ['recover', cfg]);
        const note = `seed ${SEED} ${layout} retention run ${i} (${JSON.stringify(opts)}, markers ${out.markers.join(',')}, recover ${rec.stdout.trim()})`;
        expect(rec.code, `${note}: ${rec.stderr}`).toBe(0);

        const tree = await snapshot(sb.installDir);
        const isOld = JSON.stringify(tree) === JSON.stringify(oldTree);
        const isNew = JSON.stringify(tree) === JSON.stringify(newTree);
        expect(isOld || isNew, `${note}: the tree is neither the old nor the new one`).toBe(true);
        expect((await readInstalled(sb.stateDir))?.version, note).toBe(isNew ? '4.0.0' : '3.0.0');
        const pts = await listPoints(sb.pointsDir);
        // The new point's id differs per run: compare versions, and the ids of the points kept from before.
        expect(pts.map((p) => p.to_version), `${note}: points`).toEqual(isNew ? ['4.0.0', '3.0.0'] : ['3.0.0', '2.0.0', '1.0.0']);
        expect(ids(pts).slice(isNew ? 1 : 0), `${note}: points`).toEqual(isNew ? newPoints.slice(1) : oldPoints);
        // Nothing but whole points in the points dir: no half-deleted point, no scratch dir.
        expect((await fsp.readdir(sb.pointsDir)).sort(), `${note}: points dir`).toEqual(ids(pts).sort());
        const leftovers = (await names(work)).filter((p) => /\.upkeep-|(^|\/)\.tx-|upkeep-xdev|journal\.json/.test(p));
        expect(leftovers, note).toEqual([]);
        for (const pt of pts) await assertComplete(pt, note);
        if (!out.killed) expect(isNew, note).toBe(true);

        if (kills % ROLLBACK_CHECK_EVERY === 0 && out.killed) {
          // Every remaining point, newest first, restores exactly the tree it was taken from.
          for (const [k, pt] of pts.entries()) {
            const r = await rollbackToPoint({ target: 'app', installDir: sb.installDir, stateDir: sb.stateDir, pointsDir: sb.pointsDir, opId: `check${i}_${k}` });
            expect(r.version, note).toBe(pt.before?.version ?? null);
            expect(await active(), `${note}: rollback to ${pt.rollback_id}`).toEqual(content.get(pt.before?.version ?? ''));
          }
          expect(await listPoints(sb.pointsDir), note).toEqual([]);
        }
        if (!out.killed) {
          // The machine's load varies: a run that finished before its kill shortens the windows.
          tAll = Math.min(tAll, out.ms);
          if (out.markerAt.commit !== undefined) tFinish = Math.max(1, Math.min(tFinish, out.ms - out.markerAt.commit));
          continue;
        }
        kills++;
        counts[isNew ? 'new' : 'old']++;
      }
    } catch (err) {
      await recordFailure(`${layout} retention`, kills, err);
      throw err;
    }
    await tallyKills(`${layout} retention`, kills, `${counts.old} old, ${counts.new} new`);
    expect(counts.old + counts.new).toBe(RUNS);
    if (RUNS >= 8) expect(counts.new, JSON.stringify(counts)).toBeGreaterThan(0);
  }, Math.max(900_000, RUNS * 30_000));
});
