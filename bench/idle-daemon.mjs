// An idle daemon with 10 targets (scheduler, HTTP API, file watcher off): CPU time and RSS over
// BENCH_IDLE_SECONDS (default 60) after start-up settles. Goal: < 1 % of one CPU, < 100 MB RSS.
import os from 'node:os';
import path from 'node:path';
import { cpuSeconds, freePort, makeFeed, makeTree, row, rss, startDaemon, writeDaemonConfig } from './lib.mjs';

const SECONDS = Number(process.env.BENCH_IDLE_SECONDS || 60);

export async function run(dir) {
  const build = path.join(dir, 'build');
  await makeTree(build, 20, 256, '1.0.0');
  const { feed, pub } = await makeFeed(dir, [['1.0.0', build]]);
  const port = await freePort();
  const { config } = await writeDaemonConfig(dir, { n: 10, feed, pub, port });
  const d = await startDaemon(config, port);
  try {
    await new Promise((r) => setTimeout(r, 3000)); // start-up checks settle
    const pid = d.child.pid;
    const load = os.loadavg().map((x) => Number(x.toFixed(2)));
    const cpu0 = cpuSeconds(pid);
    const t0 = Date.now();
    let peak = rss(pid).now;
    while (Date.now() - t0 < SECONDS * 1000) {
      await new Promise((r) => setTimeout(r, 1000));
      peak = Math.max(peak, rss(pid).now);
    }
    const cpuPct = ((cpuSeconds(pid) - cpu0) / ((Date.now() - t0) / 1000)) * 100;
    return [
      row(`idle daemon, 10 targets: CPU over ${SECONDS} s`, { value: cpuPct, unit: '% of one CPU', load_average: load, goal: '< 1 %', met: cpuPct < 1 }),
      row(`idle daemon, 10 targets: RSS over ${SECONDS} s`, { value: peak / 1e6, unit: 'MB (highest sample)', load_average: load, goal: '< 100 MB', met: peak < 100e6 }),
    ];
  } finally {
    await d.stop();
  }
}
