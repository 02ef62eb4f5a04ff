/**
 * Byte-for-byte snapshots of directory trees: path, type, permission bits, SHA-256, link target.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';

export interface Entry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  sha256?: string;
  target?: string;
}

/** Sorted entries of everything under `root` (excluding names in `ignore`). */
export async function snapshot(root: string, ignore: string[] = []): Promise<Entry[]> {
  const out: Entry[] = [];
  const walk = async (dir: string, rel: string) => {
    const names = (await fsp.readdir(dir)).sort();
    for (const name of names) {
      if (ignore.includes(name)) continue;
      const abs = path.join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = await fsp.lstat(abs);
      if (st.isSymbolicLink()) out.push({ path: r, type: 'symlink', mode: 0, target: await fsp.readlink(abs) });
      else if (st.isDirectory()) {
        out.push({ path: r, type: 'dir', mode: st.mode & 0o7777 });
        await walk(abs, r);
      } else out.push({ path: r, type: 'file', mode: st.mode & 0o7777, sha256: createHash('sha256').update(await fsp.readFile(abs)).digest('hex') });
    }
  };
  await walk(root, '');
  return out;
}

/** Writes files { 'a/b.txt': 'text' | { data, mode } } under root. */
export async function writeTree(root: string, files: Record<string, string | { data: string | Buffer; mode?: number }>): Promise<void> {
  for (const [rel, spec] of Object.entries(files)) {
    const abs = path.join(root, ...rel.split('/'));
    await fsp.mkdir(path.dirname(abs), { recursive: true });
    const data = typeof spec === 'string' ? spec : spec.data;
    await fsp.writeFile(abs, data);
    if (typeof spec !== 'string' && spec.mode !== undefined) await fsp.chmod(abs, spec.mode);
  }
}

/** A fresh temp dir under the OS temp dir. */
export async function tempDir(prefix = 'upkeep-test-'): Promise<string> {
  return fsp.mkdtemp(path.join((await import('node:os')).tmpdir(), prefix));
}
