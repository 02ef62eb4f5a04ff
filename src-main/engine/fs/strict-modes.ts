/**
 * The install dir must not be writable by anyone but the user Upkeep runs as (and root), nor
 * may any of its parents be, the way OpenSSH's StrictModes judges ~/.ssh: otherwise another user
 * could swap a directory for a symbolic link between Upkeep's checks and its writes, and an
 * apply running as root would write wherever the link points. The same rule holds for Upkeep's
 * own directories (`state_dir`, `download_dir`, `backup_dir`): another user who could write there
 * could plant links at state file paths, a forged journal or installed.json, or cached blobs.
 *
 * A parent that is world-writable with the sticky bit (like /tmp) is accepted: nobody but the
 * owner may rename or remove the entries in it. Volumes without Unix modes (exFAT, FAT) report
 * every directory as 0777; their access is decided by the mount, so only ownership is checked
 * there.
 */
import { lstatSync, promises as fsp, realpathSync } from 'node:fs';
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

/** Why a directory is unsafe: the directory judged (the given one or a parent) and the reason. */
type Refuse = (dir: string, why: string) => never;

/**
 * Judges `given` and its parents: each must be owned by root or the current user and not
 * writable by group or others (a parent may be, with the sticky bit). A missing directory is
 * judged by its existing ancestors (Upkeep creates it with its own mode). No-op on Windows.
 *
 * realpath and lstat are called synchronously: a handful of metadata calls on local directories,
 * each a thread-pool round trip through fs.promises (every read command, `upkeep status` too,
 * judges three directories and their parents before it starts).
 */
async function assertOwnDir(given: string, refuse: Refuse): Promise<void> {
  if (process.platform === 'win32' || typeof process.getuid !== 'function') return;
  const uid = process.getuid();
  let target = path.resolve(given);
  let exists = true;
  for (;;) {
    try {
      target = realpathSync.native(target);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      const up = path.dirname(target);
      if (up === target) return;
      target = up;
      exists = false;
    }
  }
  // A missing directory is created by Upkeep with an explicit mode; its existing ancestor is a parent.
  for (let d = target, first = exists; ; first = false) {
    const st = lstatSync(d);
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

/**
 * Refuses (VerificationError ERR_UNSAFE_INSTALL_DIR, naming the directory and why) an install dir
 * that is, or has a parent that is, owned by another user than root or the current one, or
 * writable by group or others (parents: unless sticky). A missing install dir is judged by its
 * existing ancestors. No-op on Windows.
 */
export async function assertInstallDirSafe(installDir: string): Promise<void> {
  await assertOwnDir(installDir, (dir, why) => {
    throw new VerificationError('ERR_UNSAFE_INSTALL_DIR', `refusing to install into ${installDir}: ${dir} ${why}; another user could redirect Upkeep's writes (fix the ownership or mode, e.g. chmod go-w)`, { install_dir: installDir, dir, reason: why });
  });
}

/**
 * Refuses (VerificationError ERR_UNSAFE_INSTALL_DIR, naming the directory and why) when one of
 * `dirs` — existing directories inside the install dir that an operation writes entries in — is
 * owned by another user than root or the current one, or writable by group or others, sticky or
 * not (`unixModes` false: ownership only), by the rule of assertInstallDirSafe for the install dir
 * itself: another user could swap an entry in it for a symbolic link between Upkeep's check and
 * its rename, or make a directory the release creates before Upkeep does.
 * Directories missing now are created by Upkeep with its own mode. Synchronous: one lstat each.
 * No-op on Windows.
 */
export function assertWriteDirsSafe(installDir: string, dirs: Iterable<string>, unixModes: boolean): void {
  if (process.platform === 'win32' || typeof process.getuid !== 'function') return;
  const uid = process.getuid();
  for (const d of dirs) {
    let st;
    try {
      st = lstatSync(d);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue; // made by the operation
      throw err;
    }
    if (!st.isDirectory()) continue;
    let why: string | null = null;
    if (st.uid !== 0 && st.uid !== uid) why = `is owned by uid ${st.uid}, not by uid ${uid} or root`;
    else if (unixModes && (st.mode & 0o022) !== 0) why = `is writable by ${st.mode & 0o002 ? 'all users' : 'its group'} (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`;
    if (why !== null) {
      const rel = path.relative(installDir, d).split(path.sep).join('/');
      throw new VerificationError('ERR_UNSAFE_INSTALL_DIR', `refusing to write in ${rel}/ of ${installDir}: ${d} ${why}; another user could redirect Upkeep's writes (fix the ownership or mode, e.g. chmod go-w ${d})`, { install_dir: installDir, dir: d, reason: why });
    }
  }
}

/** The directories of Upkeep's own state, as the config names them (absolute after loading). */
export interface StateDirs {
  state_dir: string;
  download_dir?: string | undefined;
  backup_dir?: string | undefined;
}

/**
 * Refuses (VerificationError ERR_UNSAFE_STATE_DIR; `details`: `setting` — `state_dir`,
 * `download_dir` or `backup_dir` —, its `path`, the `dir` judged and the `reason`) Upkeep's own
 * directories when one of them, or a parent, is owned by another user than root or the current
 * one, or writable by group or others (parents: unless sticky, like /tmp), by the rule of
 * assertInstallDirSafe. `download_dir` and `backup_dir` default to `<state_dir>/downloads` and
 * `<state_dir>/points`. Writes nothing (a probe file for volumes without Unix modes aside, removed
 * at once). No-op on Windows.
 */
export async function assertStateDirsSafe(dirs: StateDirs): Promise<void> {
  const judged = new Set<string>();
  const settings: Array<[keyof StateDirs, string]> = [
    ['state_dir', dirs.state_dir],
    ['download_dir', dirs.download_dir ?? path.join(dirs.state_dir, 'downloads')],
    ['backup_dir', dirs.backup_dir ?? path.join(dirs.state_dir, 'points')],
  ];
  for (const [setting, dir] of settings) {
    const abs = path.resolve(dir);
    if (judged.has(abs)) continue;
    judged.add(abs);
    await assertOwnDir(abs, (bad, why) => {
      throw new VerificationError('ERR_UNSAFE_STATE_DIR', `refusing to write Upkeep's state in ${abs} (${setting}): ${bad} ${why}; another user could plant links or forged state there (fix the ownership or mode, e.g. chmod go-w ${bad})`, { setting, path: abs, dir: bad, reason: why });
    });
  }
}

/**
 * Raises the process umask to include 0o022 (never lowers it), so nothing Upkeep creates — state,
 * journal, download cache, rollback points, locks, and what its hooks create — is writable by
 * group or others, whatever umask it was started with (sudo applies the same floor by default).
 * Hosts call it once at start (CLI, daemon, tray). Returns the umask it found; a no-op in a
 * worker thread, where the umask cannot be set.
 */
export function limitUmask(): number {
  try {
    const found = process.umask(0o022);
    process.umask(found | 0o022);
    return found;
  } catch {
    return 0o022;
  }
}
