// Update and rollback of a 10,000-file tree against the limit (staging copy + the same renames +
// one sync), alternated, through bench/apply-files.mjs. BENCH_FILES and BENCH_APPLY_RUNS size it.
import path from 'node:path';
import { benchApplyFiles } from './apply-files.mjs';
import { row } from './lib.mjs';

const dist = path.resolve(import.meta.dirname, '..', 'dist', 'node', 'src-main', 'engine');

export async function run(dir) {
  const rows = await benchApplyFiles(path.join(dir, 'many'), { dist, runs: Number(process.env.BENCH_APPLY_RUNS || 3), files: Number(process.env.BENCH_FILES || 10000) });
  return rows.map((r) => row(r.name, { value: r.ours, unit: 'ms', reference: r.ref, reference_name: 'the limit', goal: '<= 1.3x the limit', met: r.ours <= 1.3 * r.ref }));
}
