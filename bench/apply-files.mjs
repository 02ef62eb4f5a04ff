// Apply and rollback of a `files` target through the real CLI (`upkeep apply`, `upkeep rollback`)
// as a user runs them, cache warm (`upkeep download` first), against references timed in the same
// run, alternating, with the page cache dropped before each timed run when permitted (root):
// - the limit: copying the same new files (from the release's build tree, on the same filesystem
//   as the cache; a rollback prunes the blobs it leaves) into a staging dir on the
//   install dir's filesystem + a loop doing the same renames (old -> backup, staged -> place) +
//   one `sync`;
// - naive: `cp -a` of the install dir as the backup + `cp` of the new files over it + `sync`.
// Medians over the runs are compared. Used by apply-many.mjs (10,000 small files) and
// apply-big.mjs (~1 GiB in 50 files).
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cli, makeFeed, median, row } from './lib.mjs';

/** Drops the page cache (dirty pages written first); false when not permitted. */
function dropCaches() {
  try {
    execFileSync('sync');
    writeFileSync('/proc/sys/vm/drop_caches', '3\n');
    return true;
  } catch {
    return false;
  }
}

async function time(fn) {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

/** Writes release trees 1.0.0 and 2.0.0 of `n` files of `size` random bytes (2.0.0 changes every file). */
async function buildTrees(dir, n, size) {
  const trees = [];
  for (const v of ['1.0.0', '2.0.0']) {
    const root = path.join(dir, `build-${v}`);
    const files = [];
    for (let i = 0; i < n; i++) {
      const rel = `d${i % 100}/f${i}.bin`;
      const abs = path.join(root, rel);
      if (i < 100) await fsp.mkdir(path.dirname(abs), { recursive: true });
      // Big files in 8 MiB pieces: never a whole 20 MiB buffer per file in memory at once.
      const h = createHash('sha256');
      const fh = await fsp.open(abs, 'w', 0o644);
      for (let left = size; left > 0; left -= 8 * 1024 * 1024) {
        const chunk = randomBytes(Math.min(left, 8 * 1024 * 1024));
        h.update(chunk);
        await fh.write(chunk);
      }
      await fh.close();
      files.push({ path: rel, sha256: h.digest('hex') });
    }
    trees.push([v, root, files]);
  }
  return trees;
}

/** The limit: copy the new files into a staging dir, rename old -> backup and staged -> place, one sync. */
async function limit(install, staging, backup, files, build) {
  await fsp.mkdir(staging, { recursive: true });
  // Bounded concurrency, like a tuned copier would do.
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < files.length) {
      const i = next++;
      await fsp.copyFile(path.join(build, files[i].path), path.join(staging, String(i)));
    }
  }));
  const made = new Set();
  for (const [i, f] of files.entries()) {
    const bak = path.join(backup, f.path);
    if (!made.has(path.dirname(bak))) {
      await fsp.mkdir(path.dirname(bak), { recursive: true });
      made.add(path.dirname(bak));
    }
    await fsp.rename(path.join(install, f.path), bak);
    await fsp.rename(path.join(staging, String(i)), path.join(install, f.path));
  }
  execFileSync('sync');
}

/** Naive: `cp -a` backup of the install dir, `cp` of the new tree over it, `sync`. */
function naive(install, backup, build) {
  execFileSync('cp', ['-a', install, backup]);
  execFileSync('cp', ['-r', '--no-preserve=all', `${build}/.`, install]);
  execFileSync('sync');
}

/**
 * Runs the scenario `runs` times and returns result rows: apply vs the limit, rollback vs apply
 * (goal: rollback <= apply) and vs the limit, and (with `naiveGoal`) apply vs the naive copy.
 */
export async function benchApplyCli(dir, { label, files: n, size, runs, applyGoal, naiveGoal }) {
  const loadAtStart = os.loadavg().map((x) => Number(x.toFixed(2)));
  const trees = await buildTrees(dir, n, size);
  const { feed, pub } = await makeFeed(dir, trees.map(([v, root]) => [v, root]));
  const ours = [], back = [], ref = [], cp = [];
  let dropped = true;
  for (let r = 0; r < runs; r++) {
    const run = path.join(dir, `run${r}`);
    await fsp.mkdir(run, { recursive: true });
    const config = path.join(run, 'upkeep.yaml');
    await fsp.writeFile(config, [
      'state_dir: ./state',
      'log: { file: ./state/logs/upkeep.log, level: warn }',
      'targets:',
      '  - id: app',
      '    kind: files',
      '    install_dir: ./install',
      '    product: demo',
      `    feed: { url: ${JSON.stringify(feed)} }`,
      `    trust: { keys: [${JSON.stringify(pub)}] }`,
      '    auto_download: false',
      '    auto_apply: none',
      '',
    ].join('\n'));
    const up = (...args) => cli(['--config', config, ...args], { cwd: run });
    up('apply', 'app', '--version', '1.0.0');
    up('download', 'app', '--version', '2.0.0');
    const newFiles = trees[1][2];
    execFileSync('cp', ['-a', path.join(run, 'install'), path.join(run, 'ref-install')]);
    execFileSync('cp', ['-a', path.join(run, 'install'), path.join(run, 'cp-install')]);
    // Alternate which side goes first from run to run.
    const steps = [
      async () => {
        dropped = dropCaches() && dropped;
        ref.push(await time(() => limit(path.join(run, 'ref-install'), path.join(run, 'ref-staging'), path.join(run, 'ref-backup'), newFiles, trees[1][1])));
      },
      async () => {
        dropped = dropCaches() && dropped;
        cp.push(await time(async () => naive(path.join(run, 'cp-install'), path.join(run, 'cp-backup'), trees[1][1])));
      },
      async () => {
        dropped = dropCaches() && dropped;
        ours.push(await time(async () => up('apply', 'app', '--version', '2.0.0')));
        dropped = dropCaches() && dropped;
        back.push(await time(async () => up('rollback', 'app', '--yes')));
      },
    ];
    for (const step of r % 2 === 0 ? steps : [...steps].reverse()) await step();
    await fsp.rm(run, { recursive: true, force: true });
  }
  const note = `median of ${runs}; ${dropped ? 'page cache dropped before each timed run' : 'page cache NOT dropped (not permitted)'}`;
  const a = median(ours), b = median(back), l = median(ref), c = median(cp);
  // The machine is shared: the load around the runs says how much the absolute times are inflated.
  const load = { load_average_at_start: loadAtStart, load_average_at_end: os.loadavg().map((x) => Number(x.toFixed(2))), runs: { apply_ms: ours, rollback_ms: back, limit_ms: ref, cp_ms: cp } };
  const rows = [
    row(`upkeep apply, ${label} vs the limit (staging copy + renames + sync; ${note})`, { value: a, unit: 'ms', reference: l, reference_name: 'the limit', goal: `<= ${applyGoal}x the limit`, met: a <= applyGoal * l, ...load }),
    // Each rollback runs right after its apply: how many of those pairs the rollback was faster in.
    row(`upkeep rollback, ${label} vs apply (${note})`, { value: b, unit: 'ms', reference: a, reference_name: 'upkeep apply', goal: '<= apply', met: b <= a, limit_ratio: Number((b / l).toFixed(3)), note: `rollback <= its apply in ${back.filter((x, i) => x <= ours[i]).length} of ${runs} runs` }),
  ];
  if (naiveGoal) {
    rows.push(row(`upkeep apply, ${label} vs cp -a backup + copy + sync (${note})`, { value: a, unit: 'ms', reference: c, reference_name: 'cp -a backup + copy', goal: `>= ${naiveGoal}x faster`, met: a * naiveGoal <= c }));
  } else {
    rows.push(row(`upkeep apply, ${label} vs cp -a backup + copy + sync (${note})`, { value: a, unit: 'ms', reference: c, reference_name: 'cp -a backup + copy' }));
  }
  return rows;
}
