#!/usr/bin/env node
// `npm run test:soak`: the crash campaign. SIGKILLs at random instants across apply and rollback
// of >= 2,000 files on both layouts (engine level) and through the real CLI, each followed by
// recovery and a byte/mode/link comparison of the whole tree; then the fuzz suites with more runs.
// UPKEEP_SOAK_KILLS sets the minimum number of kills (default 500); UPKEEP_CRASH_SEED replays one.
// Prints the number of kills and, for any failure, the seed and run that failed.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const kills = Math.max(1, Number(process.env.UPKEEP_SOAK_KILLS ?? 500) || 500);
const seed = process.env.UPKEEP_CRASH_SEED ?? String(Date.now());
// crash.test.ts kills RUNS times per loop on in-place (apply + rollback) and RUNS/5 on versioned:
// 2.4 * RUNS in all; the CLI suite adds UPKEEP_CLI_CRASH_RUNS.
const cliRuns = Math.max(10, Math.ceil(kills / 25));
const runs = Math.ceil((kills - cliRuns) / 2.4);
const total = 2 * runs + 2 * Math.ceil(runs / 5) + cliRuns;
console.log(`soak: ${total} SIGKILLs planned (engine ${2 * runs + 2 * Math.ceil(runs / 5)}, CLI ${cliRuns}), seed ${seed}`);
const r = spawnSync(process.execPath, [path.join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--config', 'vitest.soak.config.ts'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, UPKEEP_CRASH_RUNS: String(runs), UPKEEP_CLI_CRASH_RUNS: String(cliRuns), UPKEEP_CRASH_SEED: seed, UPKEEP_FUZZ_RUNS: process.env.UPKEEP_FUZZ_RUNS ?? '20000' },
});
console.log(r.status === 0 ? `soak: ${total} SIGKILLs, every one recovered to exactly the old or the new tree (seed ${seed})` : `soak: FAILED (seed ${seed}; the failing run is named above)`);
process.exitCode = r.status ?? 1;
