/**
 * SIGKILL crash suite: a child process applies (and, in a second loop, rolls back) a release
 * of >= 2,000 small files and is killed at random instants — uniformly over the measured
 * duration of an uninterrupted run, and right after phase markers. After each kill, recovery
 * runs in a fresh child process (what the next start of Upkeep does) and the install dir must
 * be exactly the old or exactly the new tree (bytes, modes, symlinks, directories), with
 * installed.json, the journal and the rollback points agreeing.
 *
 * UPKEEP_CRASH_RUNS sets the number of kills per loop (default 50), UPKEEP_CRASH_SEED the random
 * seed (printed, and named in every failure, so a failing sequence can be replayed);
 * `npm run test:soak` runs the long campaign (scripts/soak.mjs).
 */
import { spawn } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyRelease, listPoints, readInstalled } from '../../../src-main/engine/apply/index';
import type { PlannedFile } from '../../../src-main/engine/apply/index';
import type { Sandbox, SnapEntry, SpecFile } from './helpers';
import { makeSandbox, snapshot, toPlanned } from './helpers';

const RUNS = Math.max(1, Number(process.env.UPKEEP_CRASH_RUNS ?? 50) || 50);
const SEED = Number(process.env.UPKEEP_CRASH_SEED ?? Date.now());
const CHILD = path.resolve(__dirname, 'crash-child.ts');
/**
 * Where the sandbox lives: tmpfs when there is one. A SIGKILL loses no written data whether
 * or not it was fsynced (the kernel keeps it), so tmpfs tests exactly the same crash
 * behaviour, only without ~5 ms per fsync; the fsync ordering that makes power loss safe is
 * argued in journal.ts. Override with UPKEEP_CRASH_DIR.
 */
const BASE = process.env.UPKEEP_CRASH_DIR ?? (existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir());

interface Outcome {
  killed: boolean;
  ms: number;
  markers: string[];
  stdout: string;
  stderr: string;
  code: number | null;
}

/** Runs the child; kills it with SIGKILL after `killAfterMs` or right after `killOnMarker` (+ `extraMs`). */
function runChild(args: string[], opts: { killAfterMs?: number; killOnMarker?: string; extraMs?: number } = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    // Killing on the verify marker holds verify() open so the kill lands before the commit.
    const env = { ...process.env, UPKEEP_CRASH_HOLD_VERIFY: opts.killOnMarker === 'verify' ? '1' : '0' };
    const child = spawn(process.execPath, ['-r', 'tsx/cjs', CHILD, ...args], { cwd: process.cwd(), env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killed = false;
    const markers: string[] = [];
    const kill = (): void => {
      if (killed || child.exitCode !== null) return;
      killed = child.kill('SIGKILL');
    };
    let timer: NodeJS.Timeout | undefined;
    if (opts.killAfterMs !== undefined) timer = setTimeout(kill, opts.killAfterMs);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      for (const m of stdout.matchAll(/^PHASE (\w+)$/gm)) {
        if (markers.includes(m[1])) continue;
        markers.push(m[1]);
        if (m[1] === opts.killOnMarker) {
          if (opts.extraMs) setTimeout(kill, opts.extraMs);
          else kill();
        }
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ killed: killed && signal === 'SIGKILL', ms: Date.now() - started, markers, stdout, stderr, code });
    });
  });
}

/** Every entry name under `dir` (relative paths), without reading contents. */
async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(dir, { withFileTypes: true, recursive: true })) out.push(path.relative(dir, path.join(e.parentPath, e.name)));
  return out;
}

/** A deterministic pseudo-random generator (runs are reproducible given UPKEEP_CRASH_SEED). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const N = 2000;
function releaseV1(): SpecFile[] {
  const files: SpecFile[] = [];
  for (let i = 0; i < N; i++) {
    const dir = i % 5 === 0 ? '' : `d${i % 17}/${i % 3 === 0 ? 'deep/er/' : ''}`;
    files.push({ path: `${dir}f${i}.txt`, content: `v1 file ${i} ${'x'.repeat(i % 97)}\n`, mode: i % 7 === 0 ? 0o755 : i % 11 === 0 ? 0o600 : 0o644 });
  }
  files.push({ path: 'gone/only/here.txt', content: 'removed in v2 with its dirs' });
  // Type changes in v2: file -> directory, directory -> file, file -> link, link -> file.
  files.push({ path: 'docs', content: 'docs as one file in v1' });
  files.push({ path: 'manual/index.md', content: 'manual as a directory in v1' });
  files.push({ path: 'manual/part/two.md', content: 'part two' });
  files.push({ path: 'lib/libx.so', content: 'a copy in v1' });
  files.push({ path: 'lib/libx.so.1', content: 'libx 1', mode: 0o755 });
  files.push({ path: 'lib/current', target: 'libx.so.1' });
  return files;
}
const TYPE_CHANGED = new Set(['docs', 'manual/index.md', 'manual/part/two.md', 'lib/libx.so', 'lib/current']);
function releaseV2(v1: SpecFile[]): SpecFile[] {
  const out: SpecFile[] = [];
  v1.forEach((f, i) => {
    if (f.path.startsWith('gone/')) return; // removed, and its directories become empty
    if (TYPE_CHANGED.has(f.path)) return;
    if (i % 10 === 1) return; // removed
    if (i % 4 === 0) out.push({ ...f, content: `v2 changed ${i}\n` }); // changed bytes
    else if (i % 13 === 0) out.push({ ...f, mode: 0o640 }); // changed mode only
    else out.push(f); // unchanged
  });
  out.push({ path: 'docs/index.md', content: 'docs as a directory in v2' });
  out.push({ path: 'manual', content: 'manual as one file in v2' });
  out.push({ path: 'lib/libx.so', target: 'libx.so.1' });
  out.push({ path: 'lib/current', content: 'a file where a link was' });
  for (let i = 0; i < 300; i++) out.push({ path: `newdir/n${i % 4}/a${i}.txt`, content: `added ${i}\n`, mode: i % 9 === 0 ? 0o755 : 0o644 });
  return out;
}

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

  const reset = async (from: string): Promise<void> => {
    await fsp.rm(work, { recursive: true, force: true });
    await run('cp', ['-a', from, work]);
  };
  const run = (cmd: string, args: string[]): Promise<void> =>
    new Promise((resolve, reject) => {
      const c = spawn(cmd, args, { stdio: 'inherit' });
      c.on('error', reject);
      c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}`))));
    });

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
    const leftovers = (await names(work)).filter((p) => /\.upkeep-|(^|\/)\.tx-|upkeep-xdev|journal\.json/.test(p));
    expect(leftovers, opIdNote).toEqual([]);
    return isOld ? 'old' : 'new';
  }

  beforeAll(async () => {
    sb = await makeSandbox(`upkeep-crash-${layout}-`, BASE);
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

  async function crashLoop(kind: 'apply' | 'rollback'): Promise<Record<'old' | 'new', number>> {
    const counts = { old: 0, new: 0 };
    const T = kind === 'apply' ? tApply : tRollback;
    let dirty = true;
    for (let i = 0; i < runs; i++) {
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
      counts[which]++;
      dirty = which === 'new';
      const pts = await listPoints(sb.pointsDir);
      expect(pts.map((p) => p.to_version), note).toEqual(state === 'new' ? ['2.0.0', '1.0.0'] : ['1.0.0']); // state is v1 (old) or v2 (new)
      if (!out.killed) expect(which, note).toBe('new');
    }
    console.log(`crash ${layout} ${kind}: ${runs} SIGKILLs recovered (${counts.old} old, ${counts.new} new), seed ${SEED}`);
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
  }, 900_000);

  it(`recovers a rollback SIGKILLed at random instants to exactly one of the two trees`, async () => {
    const counts = await crashLoop('rollback');
    expect(counts.old + counts.new).toBe(runs);
    if (runs >= 6) {
      // Kills while verify() holds always end old; kills after the commit marker always end new.
      expect(counts.old, JSON.stringify(counts)).toBeGreaterThan(0);
      expect(counts.new, JSON.stringify(counts)).toBeGreaterThan(0);
    }
  }, 900_000);
});
