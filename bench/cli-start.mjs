// CLI start: `upkeep --help` and `upkeep status` (one installed target), alternated with
// `node -e 0` in the same run. Goal: each < 120 ms (wall clock, median). `upkeep_own_ms` is the
// median minus node's own start: what Upkeep adds. The machine is shared, so each row carries the
// load average when the bench started.
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN, cli, makeFeed, makeTree, median, ms, row } from './lib.mjs';

const RUNS = Number(process.env.BENCH_CLI_RUNS || 15);

function timeOnce(args, cwd) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { cwd, stdio: 'ignore' });
  const t = ms(t0);
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`);
  return t;
}

export async function run(dir) {
  const build = path.join(dir, 'build');
  await makeTree(build, 20, 256, '1.0.0');
  const { feed, pub } = await makeFeed(dir, [['1.0.0', build]]);
  const config = path.join(dir, 'upkeep.yaml');
  await fsp.writeFile(config, ['state_dir: ./state', 'targets:', '  - id: demo', '    kind: files', '    install_dir: ./install', '    product: demo', `    feed: { url: ${JSON.stringify(feed)} }`, `    trust: { keys: [${JSON.stringify(pub)}] }`].join('\n') + '\n');
  cli(['--config', config, 'apply']);
  const cmds = {
    'node -e 0': ['-e', '0'],
    'upkeep --help': [BIN, '--help'],
    'upkeep status': [BIN, '--config', config, 'status'],
  };
  const times = Object.fromEntries(Object.keys(cmds).map((k) => [k, []]));
  for (const args of Object.values(cmds)) timeOnce(args, dir); // warm the page cache
  for (let i = 0; i < RUNS; i++) for (const [k, args] of Object.entries(cmds)) times[k].push(timeOnce(args, dir));
  const load = os.loadavg().map((x) => Number(x.toFixed(2)));
  const base = median(times['node -e 0']);
  return ['upkeep --help', 'upkeep status'].map((k) => {
    const v = median(times[k]);
    return row(`${k} (median of ${RUNS})`, {
      value: v, unit: 'ms', reference: base, reference_name: 'node -e 0', upkeep_own_ms: Number((v - base).toFixed(1)), load_average: load, goal: '< 120 ms', met: v < 120,
      note: `Upkeep's own ${(v - base).toFixed(0)} ms`,
    });
  });
}
