#!/usr/bin/env node
// `npm run bench`: every benchmark, printed as ratios against references measured in the same run
// (machines are shared and noisy, so absolute times mean little), and written to
// bench/results.json with the machine they ran on. Uses the built CLI and engine
// (npm run build:node). BENCH_ONLY=status-reads,cli-start picks benches; each bench file documents
// its own BENCH_* knobs.
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { machine, printRow } from './lib.mjs';

const BENCHES = [
  ['engine', 'download + verify and apply through the engine'],
  ['apply-many', 'update and rollback of 10,000 small files through the CLI vs the limit (apply-files.mjs)'],
  ['apply-big', 'update and rollback of ~1 GiB in 50 files through the CLI vs the limit and cp -a (apply-files.mjs)'],
  ['cli-start', 'CLI start (issue: lazy imports)'],
  ['download', 'download + verify 1 GiB vs curl, peak RSS'],
  ['idle-daemon', 'idle daemon with 10 targets'],
  ['status-reads', 'status reads under load, alone and during an apply'],
];

const only = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',')) : null;
const results = { measured_at: new Date().toISOString(), machine: machine(), benches: {} };
console.log(`machine: ${results.machine.nproc} CPUs, ${results.machine.cpu}, node ${results.machine.node}, load ${results.machine.load_average_at_start.join(' ')}`);
let failed = false;
for (const [name, title] of BENCHES) {
  if (only && !only.has(name)) continue;
  console.log(`${name}: ${title}`);
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), `upkeep-bench-${name}-`));
  try {
    const mod = await import(`./${name}.mjs`);
    const rows = await mod.run(dir);
    for (const r of rows) printRow(r);
    results.benches[name] = rows;
  } catch (err) {
    failed = true;
    console.log(`  failed: ${err && err.stack ? err.stack : err}`);
    results.benches[name] = { error: String(err && err.message ? err.message : err) };
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}
const file = path.join(import.meta.dirname, 'results.json');
let previous = {};
try {
  previous = JSON.parse(await fsp.readFile(file, 'utf8'));
} catch {}
// A partial run (BENCH_ONLY) keeps the other benches' last results.
const merged = { ...results, benches: { ...(only ? previous.benches ?? {} : {}), ...results.benches } };
await fsp.writeFile(file, JSON.stringify(merged, null, 2) + '\n');
console.log(`written ${path.relative(process.cwd(), file)}`);
process.exitCode = failed ? 1 : 0;
