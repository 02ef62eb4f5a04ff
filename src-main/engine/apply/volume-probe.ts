/**
 * Facts about the volume holding an install dir (case sensitivity, Unix modes), probed at run
 * time with a probe file, and the sweep of probe files a killed process left behind.
 */
import { promises as fsp, readdirSync } from 'node:fs';
import path from 'node:path';
import { OperationError } from '../../../src-shared/errors';
import { isCode } from './tree';

/** Facts about the volume holding an install dir, probed at run time. */
export interface VolumeFacts {
  /** Names match case-insensitively (APFS and NTFS defaults, exFAT, ext4 with casefold). */
  caseInsensitive: boolean;
  /** chmod sticks (false on exFAT/FAT, where every file reports the mount's mode). */
  unixModes: boolean;
}

/**
 * Probes the volume of `dir` (or its nearest existing ancestor): a probe file is created, looked
 * up under an upper-case name and chmod-ed. Probing is the only reliable test; no portable API
 * reports either fact. A directory Upkeep cannot write to reports the POSIX defaults.
 */
/** Name of a probe file: `.upkeep-probe-<pid>-<6 random>`. */
const PROBE_RE = /^\.upkeep-probe-(\d+)-[a-z0-9]{1,6}$/;

/**
 * The probe files (see probeVolume) that a process killed while probing left directly in `dir`:
 * only those of processes no longer running (another process may be probing right now). None
 * when `dir` is missing or unreadable. Synchronous: one readdir.
 */
export function volumeProbeLeftovers(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return []; // missing or unreadable: no probe of ours there
  }
  const out: string[] = [];
  for (const name of names) {
    const m = PROBE_RE.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = pid === process.pid;
    if (!alive) {
      try {
        process.kill(pid, 0);
        alive = true;
      } catch (err) {
        alive = isCode(err, 'EPERM'); // running, as another user
      }
    }
    if (!alive) out.push(name);
  }
  return out;
}

/**
 * Removes the probe files of volumeProbeLeftovers. One that cannot be removed (a directory made
 * append-only or immutable since) stays: an empty file under a name of Upkeep's, never a reason
 * to refuse a recovery.
 */
export async function sweepVolumeProbes(dir: string): Promise<void> {
  for (const name of volumeProbeLeftovers(dir)) await fsp.unlink(path.join(dir, name)).catch(() => undefined);
}

export async function probeVolume(dir: string): Promise<VolumeFacts> {
  let d = path.resolve(dir);
  for (;;) {
    try {
      if ((await fsp.stat(d)).isDirectory()) break;
    } catch (err) {
      if (!isCode(err, 'ENOENT')) throw err;
    }
    const up = path.dirname(d);
    if (up === d) return { caseInsensitive: false, unixModes: true };
    d = up;
  }
  const name = `.upkeep-probe-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const probe = path.join(d, name);
  try {
    await fsp.writeFile(probe, '', { flag: 'wx', mode: 0o600 });
  } catch {
    return { caseInsensitive: false, unixModes: true }; // read-only or not ours: nothing will be written there anyway
  }
  try {
    let caseInsensitive = false;
    try {
      await fsp.lstat(path.join(d, name.toUpperCase()));
      caseInsensitive = true;
    } catch {
      caseInsensitive = false;
    }
    await fsp.chmod(probe, 0o640);
    const unixModes = ((await fsp.lstat(probe)).mode & 0o777) === 0o640;
    return { caseInsensitive, unixModes };
  } finally {
    await removeProbe(probe, d);
  }
}

/**
 * Removes a probe file. A directory where a file can be created but not removed (chattr +a,
 * append-only) cannot take an apply either, whose renames remove names: ERR_APPLY_FAILED naming
 * it, before anything else is written there.
 */
async function removeProbe(probe: string, dir: string): Promise<void> {
  try {
    await fsp.unlink(probe);
  } catch (err) {
    if (isCode(err, 'ENOENT')) return;
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new OperationError('ERR_APPLY_FAILED', `cannot remove files in ${dir} (${code}): is it append-only or immutable (lsattr -d)? Upkeep renames and removes entries there`, { dir, cause: code });
  }
}
