// Status reads against a real daemon with 10 targets (autocannon): GET /api/targets and
// GET /api/updates alone and during an apply of 2,000 files, each next to GET /health measured in
// the same run; and the apply's time under that load against its time alone.
// Goals: >= 2,000 req/s and p99 < 20 ms alone; p99 < 50 ms during the apply; apply under load
// <= 1.3x its time alone.
import { createRequire } from 'node:module';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, makeFeed, makeTree, median, ms, row, startDaemon, writeDaemonConfig, cli } from './lib.mjs';

const require = createRequire(import.meta.url);
const autocannon = require('autocannon');
const { Agent } = require('undici');

// An apply starved by reads may take minutes: no client-side timeout on the operation requests.
const patient = new Agent({ headersTimeout: 0, bodyTimeout: 0 });

const FILES = Number(process.env.BENCH_STATUS_FILES || 2000);
const SECONDS = Number(process.env.BENCH_STATUS_SECONDS || 5);
const CONNECTIONS = Number(process.env.BENCH_STATUS_CONNECTIONS || 32);

function load(url, o = {}) {
  return new Promise((resolve, reject) => {
    const inst = autocannon({ url, connections: CONNECTIONS, duration: o.duration ?? SECONDS, ...(o.headers ? { headers: o.headers } : {}) }, (err, res) => (err ? reject(err) : resolve(res)));
    if (o.stopWhen) o.stopWhen.then(() => inst.stop());
  });
}

const summary = (r) => ({ rps: r.requests.average, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors + r.timeouts });

async function applyOnce(d, token, version) {
  const t0 = process.hrtime.bigint();
  const res = await fetch(`${d.url}/api/targets/t0/apply`, { dispatcher: patient, method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ version }) });
  const body = await res.text();
  if (!res.ok) throw new Error(`apply ${version}: HTTP ${res.status} ${body}`);
  return ms(t0);
}

async function rollbackOnce(d, token) {
  const res = await fetch(`${d.url}/api/targets/t0/rollback`, { dispatcher: patient, method: 'POST', headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`rollback: HTTP ${res.status} ${await res.text()}`);
}

/** @returns {Promise<object[]>} result rows */
export async function run(dir) {
  const b1 = path.join(dir, 'build-1.0.0');
  const b2 = path.join(dir, 'build-1.1.0');
  await makeTree(b1, FILES, 1024, '1.0.0');
  await makeTree(b2, FILES, 1024, '1.1.0');
  const { feed, pub } = await makeFeed(dir, [['1.0.0', b1], ['1.1.0', b2]]);
  const port = await freePort();
  const { config, token } = await writeDaemonConfig(dir, { n: 10, feed, pub, port });
  cli(['--config', config, 'apply', 't0', '--version', '1.0.0']);
  cli(['--config', config, 'download', 't0', '--version', '1.1.0']);
  const d = await startDaemon(config, port);
  const rows = [];
  // The machine may be shared: the load average is part of every figure.
  const loadAt = { start: os.loadavg().map((x) => Math.round(x * 100) / 100) };
  try {
    // Let start-up checks settle.
    await new Promise((r) => setTimeout(r, 2000));
    const alone = {};
    // What one answer weighs: a status read's cost grows with its body (every file of an available release is listed).
    const bodyBytes = {};
    for (const route of ['/health', '/api/targets', '/api/updates']) bodyBytes[route] = (await (await fetch(d.url + route)).arrayBuffer()).byteLength;
    for (const route of ['/health', '/api/targets', '/api/updates']) alone[route] = summary(await load(d.url + route));

    // The apply alone (twice, median), rolled back between runs.
    const applyAlone = [];
    for (let i = 0; i < 2; i++) {
      applyAlone.push(await applyOnce(d, token, '1.1.0'));
      await rollbackOnce(d, token);
    }
    const during = {};
    const applyLoaded = {};
    for (const route of ['/api/targets', '/api/updates']) {
      let finish;
      const finished = new Promise((r) => (finish = r));
      const loadRun = load(d.url + route, { duration: 600, stopWhen: finished });
      await new Promise((r) => setTimeout(r, 300));
      applyLoaded[route] = await applyOnce(d, token, '1.1.0');
      finish();
      during[route] = summary(await loadRun);
      await rollbackOnce(d, token);
    }
    const applyMs = median(applyAlone);
    for (const route of ['/api/targets', '/api/updates']) {
      const a = alone[route];
      rows.push(row(`GET ${route} alone`, { value: a.rps, unit: 'req/s', reference: alone['/health'].rps, reference_name: 'GET /health', p99_ms: a.p99, health_p99_ms: alone['/health'].p99, non2xx: a.non2xx, errors: a.errors, body_bytes: bodyBytes[route], health_body_bytes: bodyBytes['/health'], goal: '>= 2000 req/s and p99 < 20 ms', met: a.rps >= 2000 && a.p99 < 20 && a.non2xx === 0, note: `p99 ${a.p99} ms (/health p99 ${alone['/health'].p99} ms), body ${bodyBytes[route]} bytes` }));
      const dr = during[route];
      rows.push(row(`GET ${route} during a ${FILES}-file apply`, { value: dr.rps, unit: 'req/s', p99_ms: dr.p99, non2xx: dr.non2xx, errors: dr.errors, goal: 'p99 < 50 ms', met: dr.p99 < 50, note: `p99 ${dr.p99} ms` }));
      rows.push(row(`apply of ${FILES} files under GET ${route} load`, { value: applyLoaded[route], unit: 'ms', reference: applyMs, reference_name: 'the same apply alone', goal: '<= 1.3x alone', met: applyLoaded[route] <= 1.3 * applyMs }));
    }
    loadAt.end = os.loadavg().map((x) => Math.round(x * 100) / 100);
    for (const r of rows) r.load_average = loadAt;
    rows.push(row('GET /health alone', { load_average: loadAt, value: alone['/health'].rps, unit: 'req/s', p99_ms: alone['/health'].p99, note: `p99 ${alone['/health'].p99} ms` }));
  } finally {
    await d.stop();
    await fsp.rm(path.join(dir, 'state'), { recursive: true, force: true });
  }
  return rows;
}
