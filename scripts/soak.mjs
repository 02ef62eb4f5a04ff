#!/usr/bin/env node
// `npm run test:soak`: the crash campaign. SIGKILLs at random instants across apply and rollback
// of >= 2,000 files on both layouts with type changes (engine level, test/engine/apply/crash.test.ts),
// retention pruning of rollback points (crash-retention.test.ts), download-cache pruning
// (crash-cache.test.ts), recovery itself killed after an interrupted apply or rollback (crash.test.ts)
// and the real CLI (test/cli/crash-cli.test.ts), each followed by recovery and
// a byte/mode/link comparison; then the fuzz suites with more runs.
// UPKEEP_SOAK_KILLS sets the minimum number of kills (default 500); UPKEEP_CRASH_SEED replays one.
// Every loop counts only runs whose child really died of the SIGKILL and appends its count to a
// tally file (a failing loop writes its FAIL line there at once: `tail` the file named at the start
// to see it during the run); the total printed is the sum of that tally, and the campaign fails
// below the minimum.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const kills = Math.max(1, Number(process.env.UPKEEP_SOAK_KILLS ?? 500) || 500);
const seed = process.env.UPKEEP_CRASH_SEED ?? String(Date.now());
// Per loop: the CLI suite kills cliRuns times; retention and cache pruning prunePerLayout times on
// each layout; crash.test.ts kills `runs` times per loop on in-place (apply + rollback) and runs/5
// on versioned, 2.4 * runs in all; recovery itself is killed recoveryPerLayout times on each layout.
const cliRuns = Math.max(10, Math.ceil(kills / 25));
const prunePerLayout = Math.max(4, Math.ceil(kills / 20));
const recoveryPerLayout = Math.max(12, Math.ceil(kills / 10));
const runs = Math.max(1, Math.ceil((kills - cliRuns - 4 * prunePerLayout - 2 * recoveryPerLayout) / 2.4));
const planned = 2 * runs + 2 * Math.ceil(runs / 5) + cliRuns + 4 * prunePerLayout + 2 * recoveryPerLayout;
const tallyDir = mkdtempSync(path.join(os.tmpdir(), 'upkeep-soak-'));
const tally = path.join(tallyDir, 'kills.txt');
const started = Date.now();
console.log(`soak: tally in ${tally}`);
console.log(`soak: ${planned} SIGKILLs planned (apply/rollback ${2 * runs + 2 * Math.ceil(runs / 5)}, retention pruning ${2 * prunePerLayout}, cache pruning ${2 * prunePerLayout}, recovery ${2 * recoveryPerLayout}, CLI ${cliRuns}), seed ${seed}`);
const r = spawnSync(process.execPath, [path.join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--config', 'vitest.soak.config.ts'], {
  cwd: root,
  stdio: 'inherit',
  env: {
    ...process.env,
    UPKEEP_CRASH_RUNS: String(runs),
    UPKEEP_CLI_CRASH_RUNS: String(cliRuns),
    UPKEEP_PRUNE_CRASH_RUNS: String(prunePerLayout),
    UPKEEP_CACHE_CRASH_RUNS: String(prunePerLayout),
    UPKEEP_RECOVERY_CRASH_RUNS: String(recoveryPerLayout),
    UPKEEP_CRASH_SEED: seed,
    UPKEEP_SOAK_TALLY: tally,
    UPKEEP_FUZZ_RUNS: process.env.UPKEEP_FUZZ_RUNS ?? '20000',
  },
});
let lines = [];
try {
  lines = readFileSync(tally, 'utf8').split('\n').filter(Boolean);
} catch {
  lines = [];
}
rmSync(tallyDir, { recursive: true, force: true });
const failures = lines.filter((l) => l.startsWith('FAIL '));
const perLoop = lines.filter((l) => !l.startsWith('FAIL ')).map((l) => l.split(' ')).map(([loop, n]) => ({ loop, n: Number(n) || 0 }));
const total = perLoop.reduce((s, x) => s + x.n, 0);
const minutes = ((Date.now() - started) / 60_000).toFixed(1);
console.log(`soak: kills per loop: ${perLoop.map((x) => `${x.loop} ${x.n}`).join(', ') || 'none'}`);
for (const f of failures) console.log(`soak: ${f}`);
const ok = r.status === 0 && failures.length === 0 && total >= kills;
if (ok) console.log(`soak: ${total} SIGKILLs, every one recovered to exactly the old or the new state (seed ${seed}, ${minutes} min)`);
else console.log(`soak: FAILED after ${total} SIGKILLs (minimum ${kills}; seed ${seed}, ${minutes} min; any failing run is named above with its seed)`);
process.exitCode = ok ? 0 : r.status || 1;
