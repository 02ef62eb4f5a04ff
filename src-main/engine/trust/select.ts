/**
 * Choosing what to install, as pure functions: the staged-rollout bucket, the eligible releases
 * of a verified channel index, the version policy (downgrade, min_upgrade_from, breaking) and the
 * files of one platform/arch. Inputs are already verified (feed-checks.ts); nothing here does I/O.
 */
import { createHash } from 'node:crypto';
import { PolicyError, VerificationError } from '../../../src-shared/errors';
import { ARCHES, PLATFORMS, isSymlinkEntry, unsafeModeReason } from '../../../src-shared/feed-rules';
import type { ChannelIndex, IndexEntry, ManifestFile, ReleaseManifest } from '../../../src-shared/feed-schema';
import { assertSafeRelativePath, checkManifestPaths, unsafePathError } from './paths';
import { compareVersions, isMajorBump, isValidVersion, satisfiesRange } from './versions';

/**
 * The rollout bucket of one machine for one release, 0–99:
 * uint32_be(sha256(machine_id + ":" + product + ":" + version)[0..4]) % 100 (FEED-FORMAT.md).
 * Stable for a machine and release, independent across releases.
 */
export function rolloutBucket(machineId: string, product: string, version: string): number {
  const digest = createHash('sha256').update(`${machineId}:${product}:${version}`, 'utf8').digest();
  return digest.readUInt32BE(0) % 100;
}

/**
 * True when this machine is inside the entry's staged rollout: bucket < percent (default 100).
 * Percent 0 halts a rollout (nobody), 100 reaches everybody.
 */
export function isInRollout(entry: IndexEntry, machineId: string, product: string): boolean {
  const percent = entry.rollout?.percent ?? 100;
  if (!(percent > 0)) return false;
  if (percent >= 100) return true;
  return rolloutBucket(machineId, product, entry.version) < percent;
}

export interface SelectOptions {
  /** Installed version; null for a fresh install. */
  current: string | null;
  /** Versions the user chose to skip (compared by SemVer precedence). */
  skip: string[];
  /** Random per-installation id (rollout bucket). */
  machineId: string;
  product: string;
}

function isSkipped(version: string, skip: readonly string[]): boolean {
  return skip.some((s) => s === version || (isValidVersion(s) && compareVersions(s, version) === 0));
}

/**
 * The releases of a verified index this machine may move to, newest first: valid SemVer, inside
 * the rollout, not skipped, newer than `current`. min_upgrade_from lives in each manifest: the
 * caller fetches the first candidate's manifest, runs checkUpgradePolicy, and on
 * ERR_INCOMPATIBLE_UPGRADE tries the next candidate.
 */
export function candidateReleases(index: ChannelIndex, o: SelectOptions): IndexEntry[] {
  const current = o.current;
  return index.releases
    .filter((e) => isValidVersion(e.version))
    .filter((e) => current === null || compareVersions(e.version, current) > 0)
    .filter((e) => !isSkipped(e.version, o.skip))
    .filter((e) => isInRollout(e, o.machineId, o.product))
    .sort((a, b) => compareVersions(b.version, a.version));
}

export interface UpgradePolicyOptions {
  /** Installed version; null for a fresh install (always allowed). */
  current: string | null;
  target: Pick<ReleaseManifest, 'version' | 'min_upgrade_from'>;
  /** Config allows installing an older (or the same) version. */
  allowDowngrade: boolean;
  /** The user explicitly asked for this older (or the same) version. */
  explicitRollback?: boolean;
}

/**
 * Refuses a move the version policy forbids (PolicyError):
 * - target older than current, or the same version (a re-install is a repair and must be asked
 *   for), unless allowDowngrade or explicitRollback → ERR_DOWNGRADE;
 * - an upgrade from a current version outside the target's min_upgrade_from →
 *   ERR_INCOMPATIBLE_UPGRADE ("Incompatible upgrade from 0.9.0 to 1.2.0"). Prerelease current
 *   versions match by plain precedence (1.1.0-beta.1 is inside ">=1.0.0"). The range describes
 *   which versions can upgrade into the target, so it is not applied to permitted downgrades.
 * A fresh install (current null) is always allowed.
 */
export function checkUpgradePolicy(o: UpgradePolicyOptions): void {
  const target = o.target.version;
  if (o.current === null) return;
  const cmp = compareVersions(target, o.current);
  if (cmp <= 0) {
    if (o.allowDowngrade || o.explicitRollback === true) return;
    const what = cmp === 0 ? `${target} is already installed` : `${target} is older than the installed ${o.current}`;
    throw new PolicyError('ERR_DOWNGRADE', `Refusing to downgrade: ${what}`, { from: o.current, to: target });
  }
  const range = o.target.min_upgrade_from;
  if (range !== undefined && range.trim() !== '' && !satisfiesRange(o.current, range, { includePrerelease: true })) {
    throw new PolicyError('ERR_INCOMPATIBLE_UPGRADE', `Incompatible upgrade from ${o.current} to ${target}`, {
      from: o.current,
      to: target,
      min_upgrade_from: range,
    });
  }
}

/** How specific a file's selector is: 0 for any/any, 1 for one of platform/arch, 2 for both. */
function specificity(f: ManifestFile): number {
  return (f.platform === 'any' ? 0 : 1) + (f.arch === 'any' ? 0 : 1);
}

/**
 * The files of one machine: platform 'any' or equal, and arch 'any' or equal. When several
 * selected files share a path, the most specific one wins (linux/x64 over linux/any over
 * any/any); two equally specific files for one path (a plain duplicate, or linux/any against
 * any/x64) are ambiguous and throw VerificationError ERR_UNSAFE_PATH. Sorted by path (code units).
 */
export function filesForPlatform(m: ReleaseManifest, platform: string, arch: string): ManifestFile[] {
  const byPath = new Map<string, ManifestFile>();
  for (const f of m.files) {
    if (f.platform !== 'any' && f.platform !== platform) continue;
    if (f.arch !== 'any' && f.arch !== arch) continue;
    const prev = byPath.get(f.path);
    if (prev === undefined || specificity(f) > specificity(prev)) {
      byPath.set(f.path, f);
    } else if (specificity(f) === specificity(prev)) {
      throw unsafePathError(f.path, `duplicate path for ${platform}/${arch}`);
    }
  }
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Path safety of a whole manifest: every path is safe, and the install tree of every concrete
 * platform/arch pair (what filesForPlatform returns for it) has unique, case-insensitively unique
 * paths with no file/directory conflicts. The same path may appear once per platform/arch.
 * Throws VerificationError ERR_UNSAFE_PATH.
 */
export function checkInstallTrees(m: ReleaseManifest): void {
  for (const f of m.files) assertSafeRelativePath(f.path);
  for (const f of m.files) if (!isSymlinkEntry(f)) assertSafeMode(f.path, f.mode);
  // Platforms (arches) no file names select the same files (the `any` ones): one of them stands
  // for all, so a manifest of `any` files builds and checks one tree instead of six.
  const representatives = <T extends string>(all: readonly T[], used: Set<string>): T[] => {
    const named = all.filter((x) => x !== 'any' && used.has(x));
    const other = all.find((x) => x !== 'any' && !used.has(x));
    return other === undefined ? named : [...named, other];
  };
  const platforms = representatives(PLATFORMS, new Set(m.files.map((f) => f.platform)));
  const arches = representatives(ARCHES, new Set(m.files.map((f) => f.arch)));
  for (const platform of platforms) {
    for (const arch of arches) {
      const tree = filesForPlatform(m, platform, arch);
      checkManifestPaths(tree.map((f) => f.path));
      checkSymlinkTargets(tree);
    }
  }
}

/** Most links followed while resolving one target (like the kernel's limit of 40). */
const MAX_LINK_HOPS = 40;

/**
 * Refuses (VerificationError ERR_UNSAFE_PATH) symbolic link entries whose target is absolute,
 * not `/`-separated, or that leads outside the install dir when resolved from the link's own
 * directory, also through the other links of the same tree (a chain `a -> b/..`, `b -> ../..`),
 * or that loops. FEED-FORMAT.md, symbolic links. Used by the client and the publisher.
 */
export function checkSymlinkTargets(tree: ReadonlyArray<{ path: string; type?: string; target?: string }>): void {
  const links = new Map<string, string>();
  for (const f of tree) if (f.type === 'symlink' && f.target !== undefined) links.set(f.path, f.target);
  for (const [p, target] of links) {
    const bad = (why: string): never => {
      throw new VerificationError('ERR_UNSAFE_PATH', `Unsafe symlink in manifest: ${JSON.stringify(p.slice(0, 200))} -> ${JSON.stringify(target.slice(0, 200))} (${why})`, { path: p.slice(0, 200), target: target.slice(0, 200), reason: why });
    };
    if (target === '' || target.startsWith('/') || /^[A-Za-z]:/.test(target)) bad('absolute target');
    if (target.includes('\\') || target.includes('\0')) bad('target contains a backslash or NUL');
    // Resolve segment by segment from the link's directory; `stack` is the resolved path so far.
    let hops = 0;
    const resolve = (base: string[], rel: string): string[] => {
      const stack = [...base];
      const segs = rel.split('/');
      for (let i = 0; i < segs.length; i++) {
        const seg = segs[i]!;
        if (seg === '' || seg === '.') continue;
        if (seg === '..') {
          if (stack.length === 0) bad('leads outside the install dir');
          stack.pop();
          continue;
        }
        stack.push(seg);
        const via = links.get(stack.join('/'));
        if (via !== undefined) {
          if (++hops > MAX_LINK_HOPS) bad('too many levels of links (a loop)');
          if (via.startsWith('/')) bad('leads through an absolute link');
          stack.pop();
          const next = resolve(stack, via);
          stack.length = 0;
          stack.push(...next);
        }
      }
      return stack;
    };
    resolve(p.split('/').slice(0, -1), target);
  }
}

/**
 * Refuses a file mode with setuid, setgid or sticky bits or a world-writable one
 * (VerificationError ERR_UNSAFE_MODE naming the path, the mode in octal and the reason).
 */
export function assertSafeMode(filePath: string, mode: number | undefined): void {
  if (mode === undefined) return;
  const reason = unsafeModeReason(mode);
  if (reason !== null) {
    throw new VerificationError('ERR_UNSAFE_MODE', `Unsafe mode ${mode.toString(8).padStart(4, '0')} for ${JSON.stringify(filePath.slice(0, 200))} (${reason})`, { path: filePath.slice(0, 200), mode, reason });
  }
}

/**
 * True when moving from `current` to this manifest is breaking: a SemVer major bump (0.x minors
 * count, see isMajorBump) or a non-empty breaking_changes list. Never applied automatically.
 * For a fresh install (current null) only breaking_changes counts.
 */
export function isBreaking(current: string | null, m: Pick<ReleaseManifest, 'version' | 'breaking_changes'>): boolean {
  return m.breaking_changes.length > 0 || isMajorBump(current, m.version);
}
