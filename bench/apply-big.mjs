// Update and rollback of ~1 GiB in 50 files (every file changed) through the CLI, against the
// limit (staging copy + the same renames + one sync) and a naive `cp -a` backup + copy,
// alternated, through bench/apply-files.mjs. BENCH_BIG_MIB, BENCH_BIG_FILES and BENCH_APPLY_RUNS
// size it. Goals: apply <= 1.0x the limit and >= 3x faster than the naive copy; rollback <= apply.
import { benchApplyCli } from './apply-files.mjs';

export async function run(dir) {
  const mib = Number(process.env.BENCH_BIG_MIB || 1024);
  const files = Number(process.env.BENCH_BIG_FILES || 50);
  const size = Math.floor((mib * 1024 * 1024) / files);
  return benchApplyCli(dir, { label: `${mib} MiB in ${files} files`, files, size, runs: Number(process.env.BENCH_APPLY_RUNS || 3), applyGoal: 1.0, naiveGoal: 3 });
}
