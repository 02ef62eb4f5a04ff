// Download + verify over loopback, alternated with `curl` alone (no verification) in the same
// run: 16 MiB and 1 GiB (BENCH_DOWNLOAD_MIB). The server is its own process; the downloader runs
// in a child process so its peak RSS is measured alone.
// Goals: time <= 1.05x curl in every run; peak RSS < 100 MB and flat from 16 MiB to 1 GiB
// (the 1 GiB peak within 10 % of the 16 MiB peak).
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { median, ms, row } from './lib.mjs';

const BIG_MIB = Number(process.env.BENCH_DOWNLOAD_MIB || 1024);
const RUNS = Number(process.env.BENCH_DOWNLOAD_RUNS || 3);
const HERE = import.meta.dirname;
const HAVE_SHA256SUM = spawnSync('sha256sum', ['--version']).status === 0;

async function makeBlob(file, mib) {
  const hash = createHash('sha256');
  const out = createWriteStream(file);
  for (let i = 0; i < mib; i++) {
    const chunk = randomBytes(1024 * 1024);
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
  }
  await new Promise((r, j) => out.end((e) => (e ? j(e) : r())));
  return hash.digest('hex');
}

/** A static file server in its own process; resolves to its base URL. */
function serve(dir) {
  const code = `
    const http = require('node:http'); const fs = require('node:fs'); const path = require('node:path');
    const s = http.createServer((req, res) => {
      const file = path.join(${JSON.stringify(dir)}, path.basename(req.url));
      fs.stat(file, (err, st) => {
        if (err) { res.statusCode = 404; return res.end(); }
        res.setHeader('content-length', st.size);
        fs.createReadStream(file, { highWaterMark: 1 << 20 }).pipe(res);
      });
    });
    s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve) => child.stdout.once('data', (d) => resolve({ url: `http://127.0.0.1:${String(d).trim()}`, stop: () => child.kill() })));
}

function runChild(args) {
  const r = spawnSync(process.execPath, [path.join(HERE, 'download-child.cjs'), ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`download child failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** SHA-256 of a file read in 1 MiB chunks (Node's crypto, as the downloader uses); ms. */
function hashOnce(file) {
  const r = spawnSync(process.execPath, ['-e', `
    const fs = require('node:fs'); const h = require('node:crypto').createHash('sha256');
    const fd = fs.openSync(process.argv[1], 'r'); const b = Buffer.alloc(1 << 20); let n;
    const t0 = process.hrtime.bigint();
    while ((n = fs.readSync(fd, b)) > 0) h.update(b.subarray(0, n));
    h.digest('hex');
    console.log(Number(process.hrtime.bigint() - t0) / 1e6);`, file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`hash failed: ${r.stderr}`);
  return Number(r.stdout.trim());
}

/** `curl` to a file, then `sha256sum` of it (the two-step way a script verifies a download); ms. */
function curlThenSumOnce(url, out) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('curl', ['-sSf', '-o', out, url]);
  if (r.status !== 0) throw new Error(`curl failed: ${r.stderr}`);
  const s = spawnSync('sha256sum', [out]);
  if (s.status !== 0) throw new Error(`sha256sum failed: ${s.stderr}`);
  return ms(t0);
}

function curlOnce(url, out) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('curl', ['-sSf', '-o', out, url]);
  if (r.status !== 0) throw new Error(`curl failed: ${r.stderr}`);
  return ms(t0);
}

export async function run(dir) {
  const blobs = path.join(dir, 'blobs');
  await fsp.mkdir(blobs, { recursive: true });
  const sizes = [16, BIG_MIB];
  const sha = {};
  for (const mib of sizes) sha[mib] = await makeBlob(path.join(blobs, `b${mib}`), mib);
  const server = await serve(blobs);
  const load = os.loadavg().map((x) => Number(x.toFixed(2)));
  const rows = [];
  const peak = {};
  try {
    for (const mib of sizes) {
      const url = `${server.url}/b${mib}`;
      const ours = [];
      const curl = [];
      const rss = [];
      const twoStep = [];
      const dest = path.join(dir, 'out');
      for (let i = 0; i < RUNS; i++) {
        await fsp.rm(dest, { force: true });
        curl.push(curlOnce(url, path.join(dir, 'curl-out')));
        await fsp.rm(path.join(dir, 'curl-out'), { force: true });
        if (mib === BIG_MIB && HAVE_SHA256SUM) {
          twoStep.push(curlThenSumOnce(url, path.join(dir, 'curl-out')));
          await fsp.rm(path.join(dir, 'curl-out'), { force: true });
        }
        const r = runChild([url, dest, String(mib * 1024 * 1024), sha[mib]]);
        ours.push(r.ms);
        rss.push(r.max_rss_bytes);
        await fsp.rm(dest, { force: true });
      }
      peak[mib] = Math.max(...rss);
      if (mib === BIG_MIB) {
        // What verifying costs by itself on this CPU: SHA-256 of the same bytes from the page
        // cache, one core. A verifying download cannot take less CPU than curl's plus this.
        const h = [];
        for (let i = 0; i < RUNS; i++) h.push(hashOnce(path.join(blobs, `b${mib}`)));
        rows.push(row(`sha256 of the ${mib} MiB alone (reference, median of ${RUNS})`, { value: median(h), unit: 'ms', reference: median(curl), reference_name: 'curl alone', runs_ms: h.map((t) => Math.round(t)), note: 'the hash by itself, no network and no write' }));
      }
      if (twoStep.length > 0) {
        rows.push(row(`download + verify ${mib} MiB vs curl then sha256sum (median of ${RUNS})`, { value: median(ours), unit: 'ms', reference: median(twoStep), reference_name: 'curl then sha256sum', runs_ms: ours.map((t) => Math.round(t)), reference_runs_ms: twoStep.map((t) => Math.round(t)), load_average: load, note: 'the two-step way a script verifies what it fetched' }));
      }
      const worst = Math.max(...ours.map((t, i) => t / curl[i]));
      rows.push(row(`download + verify ${mib} MiB (median of ${RUNS})`, { value: median(ours), unit: 'ms', reference: median(curl), reference_name: 'curl alone', worst_run_ratio: Number(worst.toFixed(3)), runs_ms: ours.map((t) => Math.round(t)), curl_runs_ms: curl.map((t) => Math.round(t)), load_average: load, goal: '<= 1.05x curl in every run', met: worst <= 1.05, note: `worst run ${worst.toFixed(2)}x` }));
      rows.push(row(`download + verify ${mib} MiB: peak RSS`, { value: peak[mib] / 1e6, unit: 'MB', goal: '< 100 MB', met: peak[mib] < 100e6 }));
    }
    const flat = peak[BIG_MIB] / peak[16];
    rows.push(row(`peak RSS ${BIG_MIB} MiB vs 16 MiB`, { value: peak[BIG_MIB] / 1e6, unit: 'MB', reference: peak[16] / 1e6, reference_name: '16 MiB download', goal: 'flat (<= 1.1x)', met: flat <= 1.1 }));
  } finally {
    server.stop();
    await fsp.rm(blobs, { recursive: true, force: true });
  }
  return rows;
}
