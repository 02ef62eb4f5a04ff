/**
 * Test helpers for the apply engine: a tree snapshot (what "byte-identical, modes included"
 * means), a content-addressed blob cache, and sandbox dirs.
 */
import { createHash } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ApplyPlan, PlannedFile } from '../../../src-main/engine/apply/index';

export interface SnapEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  sha256?: string;
  target?: string;
}

/** Sorted list of every entry under `root`: relative path, type, mode & 0o7777, sha256 of bytes, symlink target. */
export async function snapshot(root: string): Promise<SnapEntry[]> {
  const out: SnapEntry[] = [];
  const visit = async (abs: string, rel: string): Promise<void> => {
    const names = (await fsp.readdir(abs)).sort();
    for (const n of names) {
      const a = path.join(abs, n);
      const r = rel ? `${rel}/${n}` : n;
      const st = await fsp.lstat(a);
      const mode = st.mode & 0o7777;
      if (st.isDirectory()) {
        out.push({ path: r, type: 'dir', mode });
        await visit(a, r);
      } else if (st.isFile()) {
        // Read synchronously: once, a promise readFile here never settled after its open (an idle
        // event loop and thread pool, the fd open at offset 0), hanging a crash campaign.
        out.push({ path: r, type: 'file', mode, sha256: createHash('sha256').update(readFileSync(a)).digest('hex') });
      } else if (st.isSymbolicLink()) {
        out.push({ path: r, type: 'symlink', mode: 0, target: await fsp.readlink(a) });
      } else {
        out.push({ path: r, type: 'other', mode });
      }
    }
  };
  try {
    await visit(root, '');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return out;
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface SpecFile {
  path: string;
  /** Bytes of a regular file (ignored for a symlink). */
  content?: string | Buffer;
  mode?: number;
  /** Makes the entry a symbolic link with this relative target. */
  target?: string;
}

/** Writes each file's bytes as a blob `<cacheDir>/<sha256>` (like the download cache) and returns the plan files. */
export async function toPlanned(cacheDir: string, files: SpecFile[]): Promise<PlannedFile[]> {
  await fsp.mkdir(cacheDir, { recursive: true });
  const out: PlannedFile[] = [];
  for (const f of files) {
    if (f.target !== undefined) {
      out.push({ path: f.path, source: '', sha256: '', size: 0, mode: 0, target: f.target });
      continue;
    }
    const buf = Buffer.isBuffer(f.content) ? f.content : Buffer.from(f.content ?? '');
    const h = sha256(buf);
    const blob = path.join(cacheDir, h);
    try {
      await fsp.writeFile(blob, buf, { flag: 'wx', mode: 0o444 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    out.push({ path: f.path, source: blob, sha256: h, size: buf.length, mode: f.mode ?? 0o644 });
  }
  return out;
}

export interface Sandbox {
  root: string;
  installDir: string;
  stateDir: string;
  pointsDir: string;
  cacheDir: string;
  plan(opId: string, version: string, files: PlannedFile[], layout?: 'in-place' | 'versioned', retention?: number): ApplyPlan;
  cleanup(): Promise<void>;
}

/** Temp sandbox with install, state, points and cache dirs. */
export async function makeSandbox(prefix = 'upkeep-apply-', baseDir = os.tmpdir()): Promise<Sandbox> {
  const root = await fsp.mkdtemp(path.join(baseDir, prefix));
  const sb: Sandbox = {
    root,
    installDir: path.join(root, 'install'),
    stateDir: path.join(root, 'state', 'targets', 'app'),
    pointsDir: path.join(root, 'backups', 'app'),
    cacheDir: path.join(root, 'cache'),
    plan: (opId, version, files, layout = 'in-place', retention = 3) => ({
      opId,
      target: 'app',
      installDir: sb.installDir,
      layout,
      stateDir: sb.stateDir,
      pointsDir: sb.pointsDir,
      toVersion: version,
      files,
      retention,
    }),
    cleanup: () => fsp.rm(root, { recursive: true, force: true }),
  };
  await fsp.mkdir(sb.installDir, { recursive: true });
  return sb;
}

/** Every path under `root` whose name marks a staged or scratch leftover. */
export async function leftovers(root: string): Promise<string[]> {
  return (await snapshot(root)).map((e) => e.path).filter((p) => /\.upkeep-|\.tx-|upkeep-xdev/.test(p));
}
