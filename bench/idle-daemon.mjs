// An idle daemon with 10 targets (scheduler, HTTP API, file watcher off): CPU time and RSS over
// BENCH_IDLE_SECONDS (default 60) once start-up is over: every target's start-up check has
// ended (polled through GET /api/targets, which then stops), then SETTLE_SECONDS more for the
// garbage collection of start-up's garbage. Goal: < 1 % of one CPU, < 100 MB RSS.
import os from 'node:os';
import path from 'node:path';
import { cpuSeconds, freePort, makeFeed, makeTree, row, rss, startDaemon, writeDaemonConfig } from './lib.mjs';

const SECONDS = Number(process.env.BENCH_IDLE_SECONDS || 60);
const SETTLE_SECONDS = 10;
const BUSY = new Set(['checking', 'downloading', 'verifying', 'applying', 'health-checking', 'rolling-back']);

/** Resolves once no target is busy (start-up checks done); at most 60 s. */
async function startUpOver(port, token) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const r = await fetch(`http://127.0.0.1:${port}/api/targets`, { headers: { authorization: `Bearer ${token}` } });
    const body = await r.json();
    const targets = Array.isArray(body) ? body : body.targets;
    if (r.ok && targets.length === 10 && targets.every((t) => !BUSY.has(t.state.kind))) return;
    await new Promise((res) => setTimeout(res, 500));
  }
  throw new Error('start-up checks did not end within 60 s');
}

export async function run(dir) {
  const build = path.join(dir, 'build');
  await makeTree(build, 20, 256, '1.0.0');
  const { feed, pub } = await makeFeed(dir, [['1.0.0', build]]);
  const port = await freePort();
  const { config, token } = await writeDaemonConfig(dir, { n: 10, feed, pub, port });
  const d = await startDaemon(config, port);
  try {
    await startUpOver(port, token);
    await new Promise((r) => setTimeout(r, SETTLE_SECONDS * 1000));
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
