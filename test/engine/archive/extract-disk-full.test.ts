/**
 * An archive that does not fit where it is extracted (a 2 MiB tmpfs mounted by the test): the
 * disk filling mid-entry is ERR_DISK_FULL naming the destination and the bytes it needs, not a
 * failed apply, and whatever was written is removed (the space comes back). Skipped where
 * mounting a tmpfs is refused.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, promises as fsp, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { create as tarCreate } from 'tar';
import { extractArchive } from '../../../src-main/engine/archive/extract';
import { freeBytes } from '../../../src-main/engine/fs/space';
import type { UpkeepError } from '../../../src-shared/errors';
import { tempDir } from './archive-helpers';

const MNT = mkdtempSync(path.join(os.tmpdir(), 'upkeep-extract-full-'));
let mounted = false;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', MNT], { stdio: 'pipe' });
  mounted = true;
} catch (err) {
  console.warn(`extraction disk-full tests skipped: mounting a 2 MiB tmpfs was refused (${(err as Error).message.split('\n')[0]})`);
}
afterAll(() => {
  if (mounted) execFileSync('umount', [MNT]);
  rmSync(MNT, { recursive: true, force: true });
});

describe.skipIf(!mounted)('extracting into a filesystem that fills up', () => {
  it.each(['tar.gz', 'zip'] as const)('%s: ERR_DISK_FULL naming the destination, partial tree removed, space back', async (format) => {
    const tmp = await tempDir();
    try {
      const src = path.join(tmp.dir, 'src');
      await fsp.mkdir(path.join(src, 'app'), { recursive: true });
      await fsp.writeFile(path.join(src, 'app', 'small.txt'), 'fits\n');
      await fsp.writeFile(path.join(src, 'app', 'big.bin'), randomBytes(3 * 1024 * 1024)); // incompressible
      const file = path.join(tmp.dir, `release.${format}`);
      if (format === 'zip') execFileSync('zip', ['-q', '-r', file, 'app'], { cwd: src });
      else await tarCreate({ file, cwd: src, gzip: true, portable: true }, ['app']);
      const dest = path.join(MNT, 'extract', 'op1');
      await fsp.mkdir(path.dirname(dest));
      const free = await freeBytes(MNT);
      const err = (await extractArchive(file, dest, { format }).catch((e: unknown) => e)) as UpkeepError;
      expect(err.code).toBe('ERR_DISK_FULL');
      expect(err.details).toMatchObject({ dir: dest });
      expect((err.details as { bytes_needed: number }).bytes_needed).toBeGreaterThanOrEqual(3 * 1024 * 1024);
      await expect(fsp.lstat(dest)).rejects.toMatchObject({ code: 'ENOENT' });
      expect(await freeBytes(MNT)).toBe(free);
    } finally {
      await fsp.rm(path.join(MNT, 'extract'), { recursive: true, force: true });
      await tmp.cleanup();
    }
  });
});
