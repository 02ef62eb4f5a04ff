// Update and rollback of a 10,000-file tree (512-byte files, every file changed) through the CLI,
// against the limit (staging copy + the same renames + one sync) and a naive `cp -a` backup +
// copy, alternated, through bench/apply-files.mjs. BENCH_FILES and BENCH_APPLY_RUNS (default 5:
// rollback and apply differ by less than this machine's run-to-run noise) size it.
// Goals: apply <= 1.3x the limit, rollback <= apply.
import { benchApplyCli } from './apply-files.mjs';

export async function run(dir) {
  const files = Number(process.env.BENCH_FILES || 10000);
  return benchApplyCli(dir, { label: `${files} files of 512 B`, files, size: 512, runs: Number(process.env.BENCH_APPLY_RUNS || 5), applyGoal: 1.3 });
}
