/**
 * Batched durability: one syncfs(2) per filesystem instead of one fsync per file. Node has no
 * binding for syncfs, so on Linux it runs coreutils `sync --file-system` (one syscall per named
 * filesystem); elsewhere, or when that fails, it fsyncs each file and directory with bounded
 * concurrency. Either way, when it resolves every write to the given paths is on stable storage.
 */
import { promises as fsp, constants as fsc } from 'node:fs';

/** Paths whose filesystems are synced together; `files` and `dirs` are the fallback's fsync list. */
export interface SyncSet {
  files: Iterable<string>;
  dirs: Iterable<string>;
}

function syncfs(paths: string[]): Promise<boolean> {
  if (process.platform !== 'linux' || paths.length === 0) return Promise.resolve(paths.length === 0);
  return new Promise((resolve) => {
    // Loaded when a sync runs: reads never need child_process.
    (require('node:child_process') as typeof import('node:child_process')).execFile('sync', ['--file-system', '--', ...paths], { timeout: 600_000 }, (err) => resolve(!err));
  });
}

async function fsyncEach(paths: string[], dir: boolean): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < paths.length) {
      const p = paths[next++]!;
      let fh: fsp.FileHandle | undefined;
      try {
        fh = await fsp.open(p, dir ? fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW : fsc.O_RDONLY | fsc.O_NOFOLLOW);
        await fh.sync();
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'ELOOP') throw err;
      } finally {
        await fh?.close();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(32, paths.length) }, worker));
}

/**
 * Makes the files and directories of `set` durable: syncfs of each distinct filesystem holding
 * one of `anchors` (existing directories), else fsync of every path.
 */
export async function syncDurable(anchors: string[], set: SyncSet): Promise<void> {
  if (await syncfs([...new Set(anchors)])) return;
  await fsyncEach([...new Set(set.files)], false);
  await fsyncEach([...new Set(set.dirs)], true);
}
