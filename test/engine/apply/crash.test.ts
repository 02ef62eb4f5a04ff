/**
 * SIGKILL crash suite: a child process applies (and, in a second loop, rolls back) a release
 * of >= 2,000 small files and is killed at random instants — uniformly over the measured
 * duration of an uninterrupted run, and right after phase markers. After each kill, recovery
 * runs in a fresh child process (what the next start of Upkeep does) and the install dir must
 * be exactly the old or exactly the new tree (bytes, modes, symlinks, directories), with
 * installed.json, the journal and the rollback points agreeing.
 *
 * A third loop kills recovery itself: after the first SIGKILL (held verify, after the commit,
 * mid-switch, during the automatic undo of a failed health check, or at a random instant),
 * recovery runs in a child that is SIGKILLed one to three times at random instants after it
 * starts (its undo, the staged-name cleanup, the finish's removals), then runs to its end; the
 * tree must be exactly the old or the new one, the journal gone, and the next operation (apply
 * from the old tree, rollback from the new one) must succeed and give exactly the other tree.
 *
 * UPKEEP_CRASH_RUNS sets the number of kills per loop (default 50), UPKEEP_RECOVERY_CRASH_RUNS
 * the kills of recovery per layout (default 6), UPKEEP_CRASH_SEED the random
 * seed (printed, and named in every failure, so a failing sequence can be replayed);
 * `npm run test:soak` runs the long campaign (scripts/soak.mjs).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyRelease, listPoints, readInstalled } from '../../../src-main/engine/apply/index';
import type { PlannedFile } from '../../../src-main/engine/apply/index';
import { CRASH_BASE, CRASH_SEED as SEED, copyTree, envCount, names, rng, run, runChild as spawnChild, recordFailure, tallyKills } from '../../helpers/kill-loop';
import type { KillOptions } from '../../helpers/kill-loop';
import { CRASH_FILES as N, releaseV1, releaseV2 } from './crash-fixtures';
import type { Sandbox, SnapEntry } from './helpers';
import { makeSandbox, snapshot, toPlanned } from './helpers';

const RUNS = envCount('UPKEEP_CRASH_RUNS', 50);
/** SIGKILLs of recovery itself per layout (recoveryLoop). */
const RECOVERY_RUNS = envCount('UPKEEP_RECOVERY_CRASH_RUNS', 6);
const CHILD = path.resolve(__dirname, 'crash-child.ts');

/** Runs the crash child; killing on the verify marker holds verify() open so the kill lands before the commit. */
const runChild = (args: string[], opts: KillOptions & { failVerify?: boolean } = {}) =>
  spawnChild(CHILD, args, { ...opts, env: { UPKEEP_CRASH_HOLD_VERIFY: opts.killOnMarker === 'verify' ? '1' : '0', UPKEEP_CRASH_FAIL_VERIFY: opts.failVerify ? '1' : '0' } });

describe.each(['in-place', 'versioned'] as const)('crash safety (%s)', (layout) => {
  // The versioned layout switches with two renames, so fewer kills cover it; in-place gets RUNS.
  const runs = layout === 'in-place' ? RUNS : Math.max(1, Math.ceil(RUNS / 5));
  let sb: Sandbox;
  let work: string; // the sandbox part children change: install, state, backups
  let cfgV2: string;
  let pristineApply: string;
  let pristineRollback: string;
  let oldTree: SnapEntry[];
  let newTree: SnapEntry[];
  let tApply = 0;
  let tRollback = 0;
  // Phase markers seen in uninterrupted runs; marker kills cycle through them, verify and commit first.
  const markers: Record<'apply' | 'rollback', string[]> = { apply: [], rollback: [] };
  const order = (seen: string[]): string[] => ['verify', 'commit', ...seen.filter((m) => m !== 'verify' && m !== 'commit')].filter((m) => seen.includes(m));
  const random = rng(SEED);

  const reset = (from: string): Promise<void> => copyTree(from, work);

  /** Asserts the state is exactly `a` or exactly `b` and consistent; returns which one. */
  async function check(opIdNote: string): Promise<'old' | 'new'> {
    const tree = await snapshot(sb.installDir);
    const isOld = JSON.stringify(tree) === JSON.stringify(oldTree);
    const isNew = JSON.stringify(tree) === JSON.stringify(newTree);
    if (!isOld && !isNew) {
      const diffOld = tree.filter((e) => !oldTree.some((o) => JSON.stringify(o) === JSON.stringify(e))).slice(0, 5);
      throw new Error(`${opIdNote}: tree is neither old nor new; e.g. ${JSON.stringify(diffOld)} (${tree.length} entries vs ${oldTree.length}/${newTree.length})`);
    }
    await expect(fsp.lstat(path.join(sb.stateDir, 'journal.json'))).rejects.toThrow();
    const installed = await readInstalled(sb.stateDir);
    const base = layout === 'versioned' ? path.join(sb.installDir, installed?.version_dir ?? '-') : sb.installDir;
    const rel = path.relative(sb.installDir, base).split(path.sep).join('/');
    const byPath = new Map(tree.map((e) => [e.path, e]));
    for (const f of installed?.files ?? []) {
      const e = byPath.get(rel ? `${rel}/${f.path}` : f.path);
      if (f.target !== undefined) {
        expect(e?.target, `${opIdNote}: installed.json disagrees on link ${f.path}`).toBe(f.target);
        continue;
      }
      expect(e?.sha256, `${opIdNote}: installed.json disagrees on ${f.path}`).toBe(f.sha256);
      expect(e?.mode).toBe(f.mode);
    }
    if (layout === 'versioned') expect(byPath.get('current')?.target).toBe(installed?.version_dir);
    const leftovers = (await names(work)).filter((p) => /\.upkeep-|(^|\/)\.tx-|upkeep-xdev|journal\.json|\.json\.\d+$/.test(p));
    expect(leftovers, `${opIdNote}: leftovers ${JSON.stringify(leftovers.slice(0, 5))}`).toEqual([]);
    return isOld ? 'old' : 'new';
  }

  beforeAll(async () => {
    sb = await makeSandbox(`upkeep-crash-${layout}-`, CRASH_BASE);
    work = path.dirname(sb.installDir); // sb.root: install, state, backups live directly under it
    // Keep the cache outside the part that is reset between runs.
    sb.cacheDir = `${sb.root}-cache`;
    await fsp.mkdir(path.join(sb.installDir, 'user-data'), { recursive: true });
    await fsp.writeFile(path.join(sb.installDir, 'user-data', 'notes.txt'), 'not managed by Upkeep');
    const v1 = releaseV1();
    const p1 = await toPlanned(sb.cacheDir, v1);
    const p2: PlannedFile[] = await toPlanned(sb.cacheDir, releaseV2(v1));
    await applyRelease(sb.plan('setup1', '1.0.0', p1, layout));
    pristineApply = `${sb.root}-pristine-apply`;
    pristineRollback = `${sb.root}-pristine-rollback`;
    await run('cp', ['-a', work, pristineApply]);
    oldTree = await snapshot(sb.installDir);

    const filesJson = `${sb.root}-v2.json`;
    await fsp.writeFile(filesJson, JSON.stringify(p2));
    cfgV2 = `${sb.root}-cfg.json`;
    await fsp.writeFile(cfgV2, JSON.stringify({ installDir: sb.installDir, stateDir: sb.stateDir, pointsDir: sb.pointsDir, layout, version: '2.0.0', filesJson, opId: 'crashop' }));

    const full = await runChild(['apply', cfgV2]);
    expect(full.code, full.stderr).toBe(0);
    tApply = full.ms;
    markers.apply = order(full.markers);
    newTree = await snapshot(sb.installDir);
    expect(newTree).not.toEqual(oldTree);
    expect(newTree.filter((e) => e.type === 'file').length).toBeGreaterThanOrEqual(N);
    await run('cp', ['-a', work, pristineRollback]);

    const fullRb = await runChild(['rollback', cfgV2]);
    expect(fullRb.code, fullRb.stderr).toBe(0);
    tRollback = fullRb.ms;
    markers.rollback = order(fullRb.markers);
    expect(await snapshot(sb.installDir)).toEqual(oldTree);
  }, 600_000);

  afterAll(async () => {
    for (const p of [sb.root, pristineApply, pristineRollback, sb.cacheDir, `${sb.root}-v2.json`, `${sb.root}-cfg.json`]) {
      if (p) await fsp.rm(p, { recursive: true, force: true });
    }
  });

  /** Kills until `runs` runs were really SIGKILLed (a child that finished first is checked too, not counted). */
  async function crashLoop(kind: 'apply' | 'rollback'): Promise<Record<'old' | 'new', number>> {
    const counts = { old: 0, new: 0 };
    // The measured duration; a run that finishes before its kill shortens it (the machine's load varies).
    let T = kind === 'apply' ? tApply : tRollback;
    let dirty = true;
    let kills = 0;
    try {
      for (let i = 0; kills < runs; i++) {
        if (i >= 10 * runs) throw new Error(`seed ${SEED} ${layout} ${kind}: only ${kills} of ${i} runs were killed before they finished`);
        // A run that recovered to the starting state leaves it as the next run's start: no copy needed.
        if (dirty) await reset(kind === 'apply' ? pristineApply : pristineRollback);
        const byMarker = i % 3 === 2;
        const list = markers[kind];
        const opts = byMarker
          ? { killOnMarker: list[Math.floor(i / 3) % list.length], extraMs: Math.floor(random() * 3) * 5 }
          : { killAfterMs: Math.floor(random() * T) };
        const out = await runChild([kind, cfgV2], opts);
        if (!out.killed) expect(out.code, out.stderr).toBe(0);
        const rec = await runChild(['recover', cfgV2]);
        expect(rec.code, rec.stderr).toBe(0);
        const note = `seed ${SEED} ${layout} ${kind} run ${i} (${JSON.stringify(opts)}, markers ${out.markers.join(',')}, recover ${rec.stdout.trim()})`;
        // For a rollback the old tree is v2 and the new one v1.
        const state = await check(note);
        const which = kind === 'apply' ? state : state === 'old' ? 'new' : 'old';
        dirty = which === 'new';
        const pts = await listPoints(sb.pointsDir);
        expect(pts.map((p) => p.to_version), note).toEqual(state === 'new' ? ['2.0.0', '1.0.0'] : ['1.0.0']); // state is v1 (old) or v2 (new)
        if (!out.killed) {
          expect(which, note).toBe('new');
          if (!byMarker) T = Math.min(T, out.ms);
          continue;
        }
        kills++;
        counts[which]++;
      }
    } catch (err) {
      await recordFailure(`${layout} ${kind}`, kills, err);
      throw err;
    }
    await tallyKills(`${layout} ${kind}`, kills, `${counts.old} old, ${counts.new} new`);
    return counts;
  }

  it(`recovers an apply SIGKILLed at random instants to exactly the old or the new tree`, async () => {
    const counts = await crashLoop('apply');
    expect(counts.old + counts.new).toBe(runs);
    if (runs >= 6) {
      // Kills while verify() holds always end old; kills after the commit marker always end new.
      expect(counts.old, JSON.stringify(counts)).toBeGreaterThan(0);
      expect(counts.new, JSON.stringify(counts)).toBeGreaterThan(0);
    }
  }, Math.max(900_000, runs * 20_000));

  it(`recovers a rollback SIGKILLed at random instants to exactly one of the two trees`, async () => {
    const counts = await crashLoop('rollback');
    expect(counts.old + counts.new).toBe(runs);
    if (runs >= 6) {
      // Kills while verify() holds always end old; kills after the commit marker always end new.
      expect(counts.old, JSON.stringify(counts)).toBeGreaterThan(0);
      expect(counts.new, JSON.stringify(counts)).toBeGreaterThan(0);
    }
  }, Math.max(900_000, runs * 20_000));

  /** The first kill of a recoveryLoop run, cycling: each leaves a journal in another phase. */
  type FirstKill = 'verify' | 'commit' | 'undo' | 'switch' | 'random';
  const FIRST_KILLS: FirstKill[] = ['verify', 'commit', 'undo', 'switch', 'random'];

  /**
   * Kills an apply or rollback, then kills the recovery that follows one to three times at random
   * instants after its `work` marker (journal read; uniform over the longest undo or finish seen
   * so far), then lets it finish. Counts only kills of a recovery that had a journal to act on and really died.
   */
  async function recoveryLoop(): Promise<Record<'old' | 'new', number>> {
    const counts = { old: 0, new: 0 };
    // ms from recovery's `work` marker (journal read) to its end, per first kill (the longest uninterrupted one seen).
    const recMs: Record<FirstKill, number> = { verify: 300, commit: 150, undo: 300, switch: 300, random: 300 };
    let kills = 0;
    try {
      for (let i = 0; kills < RECOVERY_RUNS; i++) {
        if (i >= 10 * RECOVERY_RUNS) throw new Error(`seed ${SEED} ${layout} recovery: only ${kills} recoveries killed in ${i} runs`);
        const kind = i % 2 === 0 ? 'apply' : 'rollback';
        const first = FIRST_KILLS[Math.floor(i / 2) % FIRST_KILLS.length]!;
        await reset(kind === 'apply' ? pristineApply : pristineRollback);
        const opts =
          first === 'verify' ? { killOnMarker: 'verify' }
          : first === 'commit' ? { killOnMarker: 'commit', extraMs: Math.floor(random() * 20) }
          : first === 'undo' ? { killOnMarker: 'rollback', extraMs: Math.floor(random() * 40), failVerify: true }
          : first === 'switch' ? { killOnMarker: markers[kind].includes('backup') ? 'backup' : 'switch', extraMs: Math.floor(random() * 10) }
          : { killAfterMs: Math.floor(random() * (kind === 'apply' ? tApply : tRollback)) };
        const out = await runChild([kind, cfgV2], opts);
        const steps: string[] = [`${kind} ${JSON.stringify(opts)} killed=${out.killed} markers ${out.markers.join(',')}`];
        if (!out.killed) expect(out.code, out.stderr).toBe(first === 'undo' ? 1 : 0);
        const pending = (await names(sb.stateDir)).includes('journal.json');
        const tries = pending ? 1 + Math.floor(random() * 3) : 0;
        let maxExtra = 0;
        for (let k = 0; k < tries; k++) {
          const extraMs = Math.floor(random() * recMs[first]);
          maxExtra = Math.max(maxExtra, extraMs);
          const rec = await runChild(['recover', cfgV2], { killOnMarker: 'work', extraMs });
          steps.push(`recover +${extraMs}ms killed=${rec.killed} markers ${rec.markers.join(',')}`);
          if (!rec.killed) {
            expect(rec.code, `${steps.join(' / ')}: ${rec.stderr}`).toBe(0);
            recMs[first] = Math.max(recMs[first], rec.ms - (rec.markerAt.work ?? rec.ms));
            break;
          }
          kills++;
        }
        const rec = await runChild(['recover', cfgV2]);
        const note = `seed ${SEED} ${layout} recovery run ${i}: ${steps.join(' / ')} / final recover ${rec.stdout.trim().split('\n').pop()}`;
        expect(rec.code, `${note}: ${rec.stderr}`).toBe(0);
        // The killed recoveries did at most maxExtra of the work: the whole takes about this much.
        if (pending) recMs[first] = Math.min(5000, Math.max(recMs[first], rec.ms - (rec.markerAt.work ?? rec.ms) + maxExtra));
        const state = await check(note);
        counts[state]++;
        const pts = await listPoints(sb.pointsDir);
        expect(pts.map((p) => p.to_version), note).toEqual(state === 'new' ? ['2.0.0', '1.0.0'] : ['1.0.0']);
        // The next operation works on what recovery left: apply from v1, roll back from v2.
        const next = await runChild([state === 'old' ? 'apply' : 'rollback', cfgV2]);
        expect(next.code, `${note} / next ${state === 'old' ? 'apply' : 'rollback'}: ${next.stderr}`).toBe(0);
        expect(await check(`${note} / next operation`), note).toBe(state === 'old' ? 'new' : 'old');
      }
    } catch (err) {
      await recordFailure(`${layout} recovery`, kills, err);
      throw err;
    }
    await tallyKills(`${layout} recovery`, kills, `${counts.old} old, ${counts.new} new`);
    return counts;
  }

  it(`recovers to exactly the old or the new tree when recovery itself is SIGKILLed at random instants`, async () => {
    const counts = await recoveryLoop();
    // Held verify and failed verify always end old; a kill after the commit marker always ends new.
    expect(counts.old, JSON.stringify(counts)).toBeGreaterThan(0);
    expect(counts.new, JSON.stringify(counts)).toBeGreaterThan(0);
  }, Math.max(900_000, RECOVERY_RUNS * 30_000));
});
