/**
 * Version rules of the feed: strict SemVer 2.0 (no `v` prefix, no whitespace, no loose parsing),
 * ordered by SemVer precedence (build metadata ignored). Ordering and ranges come from the `semver`
 * package; this module only adds the strictness and Upkeep's error codes.
 */
import { VerificationError } from '../../../src-shared/errors';

interface SemverFunctions {
  valid: typeof import('semver/functions/valid');
  compare: typeof import('semver/functions/compare');
  satisfies: typeof import('semver/functions/satisfies');
  validRange: typeof import('semver/ranges/valid');
}
let semverFunctions: SemverFunctions | undefined;

/**
 * The semver functions used (not `import 'semver'`, which loads all of the package's modules),
 * loaded on the first call: reading state (`upkeep status`) compares no versions.
 */
function semver(): SemverFunctions {
  return (semverFunctions ??= {
    valid: require('semver/functions/valid') as SemverFunctions['valid'],
    compare: require('semver/functions/compare') as SemverFunctions['compare'],
    satisfies: require('semver/functions/satisfies') as SemverFunctions['satisfies'],
    validRange: require('semver/ranges/valid') as SemverFunctions['validRange'],
  });
}

/**
 * The official SemVer 2.0.0 regular expression (semver.org, "Is there a suggested regular
 * expression"). node-semver's own strict mode still accepts a leading `v`/`=` and surrounding
 * whitespace, which a signed feed has no reason to contain, so the spec's regex gates input first.
 */
const SEMVER_2_RE =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

/** node-semver refuses longer strings; so do we (before running any regex). */
const MAX_VERSION_LENGTH = 256;

/** True when `v` is a strict SemVer 2.0 version string. Never throws. */
export function isValidVersion(v: unknown): boolean {
  return typeof v === 'string' && v.length <= MAX_VERSION_LENGTH && SEMVER_2_RE.test(v) && semver().valid(v) !== null;
}

/**
 * Validates a strict SemVer 2.0 version and returns it unchanged (the spec's grammar has exactly
 * one spelling per version, so a valid string is already normalised; build metadata is kept).
 * Throws VerificationError ERR_METADATA_INVALID otherwise.
 */
export function parseVersion(v: string): string {
  if (!isValidVersion(v)) {
    const shown = typeof v === 'string' ? JSON.stringify(v.slice(0, 80)) : String(v);
    throw new VerificationError('ERR_METADATA_INVALID', `Not a SemVer 2.0 version: ${shown}`, { version: typeof v === 'string' ? v.slice(0, 80) : null });
  }
  return v;
}

/**
 * Orders two strict SemVer versions by precedence: negative when a < b, 0 when equal (build
 * metadata ignored), positive when a > b. Throws ERR_METADATA_INVALID on an invalid version.
 */
export function compareVersions(a: string, b: string): number {
  return semver().compare(parseVersion(a), parseVersion(b));
}

/**
 * True when going from `from` to `to` leaves the caret range of `from` upwards, i.e. a breaking
 * change by SemVer rules: 1.x -> 2.0.0, and for 0.x releases 0.1.x -> 0.2.0 and 0.0.1 -> 0.0.2
 * (each 0.x minor, each 0.0.x patch is its own "major"). Prereleases of the next major count as
 * the next major (1.9.0 -> 2.0.0-rc.1 is a bump); 2.0.0-rc.1 -> 2.0.0 is not. A downgrade or an
 * unknown `from` (fresh install, null) is not a bump. Throws ERR_METADATA_INVALID on bad input.
 */
export function isMajorBump(from: string | null, to: string): boolean {
  parseVersion(to);
  if (from === null) return false;
  if (compareVersions(to, from) <= 0) return false;
  return !semver().satisfies(to, `^${from}`, { includePrerelease: true });
}

export interface RangeOptions {
  /**
   * Let prerelease versions match ordinary comparators by plain precedence. node-semver's default
   * (false) hides prereleases from ranges unless a comparator names the same major.minor.patch,
   * which suits dependency resolution; Upkeep uses `true` when asking "is the installed version
   * inside this range" (min_upgrade_from), where 1.1.0-beta.1 is plainly ">=1.0.0".
   */
  includePrerelease?: boolean;
}

/**
 * True when `version` (strict SemVer) lies inside the node-semver `range`. An invalid range or
 * an invalid version gives false, never an exception.
 */
export function satisfiesRange(version: string, range: string, options: RangeOptions = {}): boolean {
  if (!isValidVersion(version) || typeof range !== 'string') return false;
  const opts = { includePrerelease: options.includePrerelease === true };
  if (semver().validRange(range, opts) === null) return false;
  return semver().satisfies(version, range, opts);
}

/** True when `range` is a range node-semver can parse (without loose mode). */
export function isValidRange(range: unknown): boolean {
  return typeof range === 'string' && range.length <= 1024 && semver().validRange(range) !== null;
}
