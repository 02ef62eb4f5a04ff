// Engine-level benchmarks with the built engine (dist/): download + verify of 64 MiB against the
// same bytes streamed to a file without verification, and apply of a 2,000-file release against
// `cp -r` of the same tree.
import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import http from 'node:http';
import { median, row } from './lib.mjs';

const require = createRequire(import.meta.url);
const dist = path.resolve(import.meta.dirname, '..', 'dist', 'node', 'src-main', 'engine');
const { downloadFile } = require(path.join(dist, 'net', 'download.js'));
const { applyRelease } = require(path.join(dist, 'apply', 'index.js'));

const RUNS = Number(process.env.BENCH_RUNS || 5);
async function time(fn) { const t = process.hrtime.bigint(); await fn(); return Number(process.hrtime.bigint() - t) / 1e6; }

async function benchDownload(dir) {
  const size = 64 * 1024 * 1024;
  const src = path.join(dir, 'blob');
  await fsp.writeFile(src, randomBytes(size));
  const sha = createHash('sha256').update(await fsp.readFile(src)).digest('hex');
  const server = createServer((req, res) => { res.setHeader('content-length', size); createReadStream(src).pipe(res); });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}/blob`;
  const ref = [], ours = [];
  for (let i = 0; i < RUNS; i++) {
    ref.push(await time(() => new Promise((resolve, reject) => http.get(url, (res) => pipeline(res, createWriteStream(path.join(dir, 'ref'))).then(resolve, reject)))));
    await fsp.rm(path.join(dir, 'out'), { force: true });
    ours.push(await time(() => downloadFile({ url, dest: path.join(dir, 'out'), partial: path.join(dir, 'out.part'), size, sha256: sha, allowInsecureHttp: false })));
  }
  server.close();
  return { name: 'download+verify 64 MiB vs plain stream', ref: median(ref), ours: median(ours) };
}

async function benchApply(dir) {
  const files = [];
  const blobs = path.join(dir, 'blobs');
  await fsp.mkdir(blobs, { recursive: true });
  for (let i = 0; i < 2000; i++) {
    const data = randomBytes(2048);
    const sha = createHash('sha256').update(data).digest('hex');
    await fsp.writeFile(path.join(blobs, sha), data);
    files.push({ path: `d${i % 20}/f${i}.bin`, source: path.join(blobs, sha), sha256: sha, size: data.length, mode: 0o644 });
  }
  const ref = [], ours = [];
  for (let i = 0; i < RUNS; i++) {
    const run = path.join(dir, `run${i}`);
    await fsp.mkdir(run, { recursive: true });
    ours.push(await time(() => applyRelease({ opId: `bench${i}`, target: 'bench', installDir: path.join(run, 'install'), layout: 'in-place', stateDir: path.join(run, 'state'), pointsDir: path.join(run, 'points'), toVersion: '1.0.0', files, retention: 3 })));
    ref.push(await time(async () => execFileSync('cp', ['-r', path.join(run, 'install'), path.join(run, 'copy')])));
  }
  return { name: 'apply 2,000 files vs cp -r', ref: median(ref), ours: median(ours) };
}

export async function run(dir) {
  const out = [];
  for (const r of [await benchDownload(dir), await benchApply(dir)]) {
    out.push(row(`${r.name} (median of ${RUNS})`, { value: r.ours, unit: 'ms', reference: r.ref, reference_name: r.name.split(' vs ')[1] }));
  }
  return out;
}
