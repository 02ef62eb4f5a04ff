import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Header } from 'tar';

export interface RawEntry {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice' | 'BlockDevice' | 'FIFO';
  data?: Buffer | string;
  mode?: number;
  linkpath?: string;
}

/** A plain tar stream built entry by entry with node-tar's Header (for entries no tool writes). */
export function rawTar(entries: RawEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
    const type = e.type ?? 'File';
    const h = new Header({
      path: e.path,
      type,
      mode: e.mode ?? (type === 'Directory' ? 0o755 : 0o644),
      size: type === 'File' ? data.length : 0,
      linkpath: e.linkpath,
      mtime: new Date(0),
      uid: 0,
      gid: 0,
    });
    h.encode();
    blocks.push(h.block!);
    if (type === 'File' && data.length > 0) {
      blocks.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

export interface ZipSpec {
  name: string;
  data?: string;
  /** Full st_mode stored in the upper 16 bits of the external attributes (made on Unix). */
  unixMode?: number;
  deflate?: boolean;
}

/** A zip built by Python's zipfile module (so entries can carry any Unix mode or kind). */
export function pythonZip(file: string, entries: ZipSpec[]): void {
  const script = `
import json, sys, zipfile
specs = json.loads(sys.stdin.read())
with zipfile.ZipFile(sys.argv[1], 'w') as z:
    for s in specs:
        zi = zipfile.ZipInfo(s['name'], date_time=(2020, 1, 1, 0, 0, 0))
        zi.create_system = 3
        zi.external_attr = (s.get('unixMode', 0o100644) & 0xFFFF) << 16
        zi.compress_type = zipfile.ZIP_DEFLATED if s.get('deflate') else zipfile.ZIP_STORED
        z.writestr(zi, s.get('data', ''))
`;
  execFileSync('python3', ['-c', script, file], { input: JSON.stringify(entries) });
}

export function sha256Hex(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

export async function tempDir(prefix = 'upkeep-archive-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await fsp.realpath(await fsp.mkdtemp(path.join(os.tmpdir(), prefix)));
  return { dir, cleanup: () => fsp.rm(dir, { recursive: true, force: true }) };
}

/** What a caught error carries (code and message), or a failure marker when nothing was thrown. */
export async function errorOf(p: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return { code: (err as { code?: string }).code, message: (err as Error).message };
  }
  return { code: 'NO_ERROR', message: 'resolved' };
}
