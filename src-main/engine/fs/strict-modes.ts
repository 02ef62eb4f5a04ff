/**
 * The install dir must not be writable by anyone but the user Upkeep runs as (and root), nor
 * may any of its parents be, the way OpenSSH's StrictModes judges ~/.ssh: otherwise another user
 * could swap a directory for a symbolic link between Upkeep's checks and its writes, and an
 * apply running as root would write wherever the link points.
 *
 * A parent that is world-writable with the sticky bit (like /tmp) is accepted: nobody but the
 * owner may rename or remove the entries in it. Volumes without Unix modes (exFAT, FAT) report
 * every directory as 0777; their access is decided by the mount, so only ownership is checked
 * there.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { VerificationError } from '../../../src-shared/errors';

/** True when chmod sticks in `dir` (false on exFAT/FAT); probes with a temporary file. */
async function hasUnixModes(dir: string): Promise<boolean> {
  const probe = path.join(dir, `.upkeep-modes-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  try {
    await fsp.writeFile(probe, '', { flag: 'wx', mode: 0o600 });
  } catch {
    return true; // cannot write there: judge by the reported mode
  }
  try {
    await fsp.chmod(probe, 0o640);
    return ((await fsp.lstat(probe)).mode & 0o777) === 0o640;
  } finally {
    await fsp.rm(probe, { force: true });
  }
}

/**
 * Refuses (VerificationError ERR_UNSAFE_INSTALL_DIR, naming the directory and why) an install dir
 * that is, or has a parent that is, owned by another user than root or the current one, or
 * writable by group or others (parents: unless sticky). A missing install dir is judged by its
 * existing ancestors. No-op on Windows.
 */
export async function assertInstallDirSafe(installDir: string): Promise<void> {
  if (process.platform === 'win32' || typeof process.getuid !== 'function') return;
  const uid = process.getuid();
  let target = path.resolve(installDir);
  let exists = true;
  for (;;) {
    try {
      target = await fsp.realpath(target);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      const up = path.dirname(target);
      if (up === target) return;
      target = up;
      exists = false;
    }
  }
  const refuse = (dir: string, why: string): never => {
    throw new VerificationError('ERR_UNSAFE_INSTALL_DIR', `refusing to install into ${installDir}: ${dir} ${why}; another user could redirect Upkeep's writes (fix the ownership or mode, e.g. chmod go-w)`, { install_dir: installDir, dir, reason: why });
  };
  // A missing install dir is created by Upkeep with an explicit mode; its existing ancestor is a parent.
  for (let d = target, first = exists; ; first = false) {
    const st = await fsp.lstat(d);
    if (st.uid !== 0 && st.uid !== uid) refuse(d, `is owned by uid ${st.uid}, not by uid ${uid} or root`);
    const writable = (st.mode & 0o022) !== 0;
    const sticky = (st.mode & 0o1000) !== 0;
    if (writable && (first || !sticky) && (await hasUnixModes(d))) {
      refuse(d, `is writable by ${st.mode & 0o002 ? 'all users' : 'its group'} (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`);
    }
    const up = path.dirname(d);
    if (up === d) return;
    d = up;
  }
}
