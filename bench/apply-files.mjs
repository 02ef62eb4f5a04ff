// Apply / rollback of many small files (an update of a 10,000-file tree, cache warm), against the
// limit measured in the same run: copying the same new files into a staging dir on the same
// filesystem + a loop doing the same renames (backup, switch) + one `sync`. Runs alternate, the
// page cache is dropped before each timed run when permitted (root), medians are compared.
import { createRequire } from 'node:module';
import { promises as fsp, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const require = createRequire(import.meta.url);

function dropCaches() {
  try {
    execFileSync('sync');
    writeFileSync('/proc/sys/vm/drop_caches', '3\n');
    return true;
  } catch {
    return false;
  }
}

async function time(fn) {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

/** Releases of `n` files of `size` bytes each, the second one changing every file. */
async function releases(dir, n, size) {
  const blobs = path.join(dir, 'blobs');
  await fsp.mkdir(blobs, { recursive: true });
  const mk = async () => {
    const files = [];
    for (let i = 0; i < n; i++) {
      const data = randomBytes(size);
      const sha = createHash('sha256').update(data).digest('hex');
      await fsp.writeFile(path.join(blobs, sha), data, { mode: 0o444 });
      files.push({ path: `d${i % 100}/f${i}.bin`, source: path.join(blobs, sha), sha256: sha, size, mode: 0o644 });
    }
    return files;
  };
  return [await mk(), await mk()];
}

/** The limit: copy new files into a staging dir, rename old -> backup and staged -> place, one sync. */
async function reference(install, staging, backup, files) {
  await fsp.mkdir(staging, { recursive: true });
  await Promise.all(files.map(async (f, i) => fsp.copyFile(f.source, path.join(staging, String(i)))));
  for (const [i, f] of files.entries()) {
    const dest = path.join(install, f.path);
    const bak = path.join(backup, f.path);
    await fsp.mkdir(path.dirname(bak), { recursive: true });
    await fsp.rename(dest, bak);
    await fsp.rename(path.join(staging, String(i)), dest);
  }
  execFileSync('sync');
}

export async function benchApplyFiles(dir, { dist, runs, files: n = 10000, size = 512 }) {
  const { applyRelease, rollbackToPoint } = require(path.join(dist, 'apply', 'index.js'));
  const [v1, v2] = await releases(dir, n, size);
  const ours = [], back = [], ref = [];
  let dropped = false;
  for (let r = 0; r < runs; r++) {
    const run = path.join(dir, `run${r}`);
    const p = (op, v, files) => ({ opId: op, target: 'bench', installDir: path.join(run, 'install'), layout: 'in-place', stateDir: path.join(run, 'state'), pointsDir: path.join(run, 'points'), toVersion: v, files, retention: 3 });
    await applyRelease(p(`a${r}`, '1.0.0', v1));
    // Reference first on a copy of the same starting tree, then ours, alternating each run.
    execFileSync('cp', ['-a', path.join(run, 'install'), path.join(run, 'ref-install')]);
    dropped = dropCaches();
    ref.push(await time(() => reference(path.join(run, 'ref-install'), path.join(run, 'ref-staging'), path.join(run, 'ref-backup'), v2)));
    dropped = dropCaches() && dropped;
    ours.push(await time(() => applyRelease(p(`b${r}`, '2.0.0', v2))));
    dropped = dropCaches() && dropped;
    back.push(await time(() => rollbackToPoint({ target: 'bench', installDir: path.join(run, 'install'), stateDir: path.join(run, 'state'), pointsDir: path.join(run, 'points'), opId: `c${r}` })));
    await fsp.rm(run, { recursive: true, force: true });
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const note = dropped ? 'page cache dropped before each run' : 'page cache NOT dropped (not permitted)';
  return [
    { name: `apply ${n} files vs the limit (staging copy + renames + sync; ${note})`, ref: median(ref), ours: median(ours) },
    { name: `rollback ${n} files vs the limit (${note})`, ref: median(ref), ours: median(back) },
  ];
}
