/**
 * electron-builder update feeds (`latest.yml`, `latest-mac.yml`, `latest-linux.yml`,
 * `latest-linux-arm64.yml`, and `<channel>*.yml` for other channels), as pure functions over the
 * document's bytes. The format is electron-builder's `UpdateInfo` (builder-util-runtime
 * `updateInfo.ts`): `version`, `files[]` (`url`, `sha512` base64, `size`), `releaseDate`,
 * `releaseNotes` (a string or a list of `{ version, note }`), `stagingPercentage` (0–100), and the
 * deprecated top-level `path`/`sha512`, which this client never reads: only `files[]` counts.
 */
import { parse as parseYaml } from 'yaml';
import { VerificationError } from '../../../src-shared/errors';
import { isValidVersion } from '../trust/versions';

export type EbPlatform = 'linux' | 'darwin' | 'win32';
export type EbArch = 'x64' | 'arm64' | 'ia32' | 'any';

/** One installable file of an electron-builder feed, with what its name says it is for. */
export interface EbFile {
  /** The file's `url` as written (relative to the feed folder, or absolute). */
  url: string;
  /** SHA-512 digest, lowercase hex (the feed carries it in base64). */
  sha512: string;
  /** Size in bytes, or null when the feed omits it (older feeds do). */
  size: number | null;
  platform: EbPlatform;
  arch: EbArch;
  /** Lowercase file extension including the dot, `.tar.gz` style for double extensions. */
  extension: string;
}

/** A parsed, checked electron-builder feed document. */
export interface EbUpdateInfo {
  version: string;
  files: EbFile[];
  releaseDate: string | null;
  /** Release notes as Markdown/HTML text ('' when none); a notes list is joined per version. */
  releaseNotes: string;
  releaseName: string | null;
  /** 0–100; null when absent (everybody). */
  stagingPercentage: number | null;
  minimumSystemVersion: string | null;
}

const DOUBLE_EXTENSIONS = ['.tar.gz', '.tar.xz', '.tar.bz2'];

function extensionOf(name: string): string {
  const lower = name.toLowerCase();
  for (const d of DOUBLE_EXTENSIONS) if (lower.endsWith(d)) return d;
  const dot = lower.lastIndexOf('.');
  return dot > lower.lastIndexOf('/') && dot >= 0 ? lower.slice(dot) : '';
}

const WIN_EXT = new Set(['.exe', '.msi', '.msix', '.appx', '.nupkg']);
const MAC_EXT = new Set(['.dmg', '.pkg']);
const LINUX_EXT = new Set(['.appimage', '.deb', '.rpm', '.snap', '.pacman', '.apk', '.freebsd', '.p5p']);

/** The platform a feed document is published for, from its file name (`latest-mac.yml` → darwin). */
export function platformOfFeedName(name: string): EbPlatform {
  const base = name.toLowerCase().replace(/\.ya?ml$/, '');
  if (/-mac(-|$)/.test(base)) return 'darwin';
  if (/-linux(-|$)/.test(base)) return 'linux';
  return 'win32';
}

/**
 * The platform and arch a file is for, read from its name the way electron-builder names its
 * artifacts: the extension names the platform (`.exe` Windows, `.dmg` macOS, `.AppImage`/`.deb`
 * Linux), archives (`.zip`, `.tar.gz`, …) name it with a `mac`/`darwin`/`win`/`linux` token or
 * inherit it from the feed document; `arm64`/`aarch64` mean arm64, `ia32`/`i386` 32-bit x86,
 * `universal` both, and no arch token means x64 (electron-builder's default build).
 */
export function classifyFile(url: string, feedPlatform: EbPlatform): { platform: EbPlatform; arch: EbArch; extension: string } {
  const name = decodeURIComponentSafe(url.split(/[?#]/)[0]!.split('/').pop() ?? url);
  const ext = extensionOf(name);
  let platform: EbPlatform = feedPlatform;
  if (WIN_EXT.has(ext)) platform = 'win32';
  else if (MAC_EXT.has(ext)) platform = 'darwin';
  else if (LINUX_EXT.has(ext)) platform = 'linux';
  else if (/(^|[-_. ])(mac|macos|darwin|osx)([-_. ]|$)/i.test(name)) platform = 'darwin';
  else if (/(^|[-_. ])(win|win32|windows)([-_. ]|$)/i.test(name)) platform = 'win32';
  else if (/(^|[-_. ])linux([-_. ]|$)/i.test(name)) platform = 'linux';
  let arch: EbArch = 'x64';
  if (/(arm64|aarch64)/i.test(name)) arch = 'arm64';
  else if (/universal/i.test(name)) arch = 'any';
  else if (/(^|[-_. ])(ia32|i386|i686|x86)([-_. ]|$)/i.test(name) && !/x86[-_]64/i.test(name)) arch = 'ia32';
  return { platform, arch, extension: ext };
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function invalid(message: string, details?: Record<string, unknown>): VerificationError {
  return new VerificationError('ERR_METADATA_INVALID', `electron-builder feed: ${message}`, details);
}

/** Decodes a base64 SHA-512 digest (64 bytes) to lowercase hex; throws ERR_METADATA_INVALID otherwise. */
export function sha512FromBase64(b64: unknown, where: string): string {
  if (typeof b64 !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64.replace(/\s+/g, ''))) {
    throw invalid(`${where}: sha512 is not base64`);
  }
  const raw = Buffer.from(b64.replace(/\s+/g, ''), 'base64');
  if (raw.length !== 64) throw invalid(`${where}: sha512 decodes to ${raw.length} bytes, not 64`);
  return raw.toString('hex');
}

function notesText(notes: unknown): string {
  if (typeof notes === 'string') return notes;
  if (Array.isArray(notes)) {
    return notes
      .filter((n): n is { version?: unknown; note?: unknown } => typeof n === 'object' && n !== null)
      .map((n) => `## ${String(n.version ?? '')}\n\n${typeof n.note === 'string' ? n.note : ''}`.trim())
      .join('\n\n');
  }
  return '';
}

/**
 * Parses one feed document. `feedName` is its file name (`latest-mac.yml`), which gives the
 * platform of files whose names do not say it. Throws VerificationError ERR_METADATA_INVALID for
 * YAML that is not an UpdateInfo, a version that is not SemVer 2.0, a document without `files[]`
 * (legacy feeds with only a top-level `path`/`sha512` are refused: those fields are never trusted),
 * a file without a 64-byte sha512, a negative size or a stagingPercentage outside 0–100.
 */
export function parseElectronBuilderFeed(bytes: Uint8Array | string, feedName: string): EbUpdateInfo {
  let doc: unknown;
  try {
    doc = parseYaml(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'), { maxAliasCount: 16 });
  } catch (err) {
    throw invalid(`${feedName} is not YAML (${(err as Error).message.split('\n')[0]})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid(`${feedName} is not a mapping`);
  const d = doc as Record<string, unknown>;
  const version = typeof d.version === 'string' ? d.version.trim() : typeof d.version === 'number' ? String(d.version) : '';
  if (!isValidVersion(version)) throw invalid(`${feedName}: version ${JSON.stringify(d.version)} is not SemVer 2.0`, { version: String(d.version ?? '') });
  if (!Array.isArray(d.files) || d.files.length === 0) {
    throw invalid(`${feedName} has no files[] (the legacy top-level path/sha512 are not trusted)`, { feed: feedName });
  }
  const feedPlatform = platformOfFeedName(feedName);
  const files: EbFile[] = d.files.map((f, i) => {
    if (typeof f !== 'object' || f === null) throw invalid(`${feedName}: files[${i}] is not a mapping`);
    const o = f as Record<string, unknown>;
    if (typeof o.url !== 'string' || o.url.trim() === '') throw invalid(`${feedName}: files[${i}].url is missing`);
    const sha512 = sha512FromBase64(o.sha512, `${feedName}: files[${i}]`);
    let size: number | null = null;
    if (o.size !== undefined && o.size !== null) {
      if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) throw invalid(`${feedName}: files[${i}].size is not a byte count`);
      size = o.size;
    }
    return { url: o.url, sha512, size, ...classifyFile(o.url, feedPlatform) };
  });
  let staging: number | null = null;
  if (d.stagingPercentage !== undefined && d.stagingPercentage !== null) {
    const n = typeof d.stagingPercentage === 'number' ? d.stagingPercentage : Number.parseInt(String(d.stagingPercentage), 10);
    if (Number.isNaN(n)) staging = null; // electron-updater: an unparsable percentage counts as 100 %
    else if (n < 0 || n > 100) throw invalid(`${feedName}: stagingPercentage ${n} is outside 0–100`);
    else staging = n;
  }
  return {
    version,
    files,
    releaseDate: typeof d.releaseDate === 'string' ? d.releaseDate.trim() : null,
    releaseNotes: notesText(d.releaseNotes),
    releaseName: typeof d.releaseName === 'string' ? d.releaseName : null,
    stagingPercentage: staging,
    minimumSystemVersion: typeof d.minimumSystemVersion === 'string' ? d.minimumSystemVersion : null,
  };
}

/**
 * The staging bucket of an installation in [0, 1], electron-updater's rule
 * (`AppUpdater.isStagingMatch`): the last four bytes of the 16-byte id (a UUID or 32 hex digits),
 * read as a big-endian uint32, divided by 0xffffffff. Only those bytes count, so ids whose tail is
 * valid hex are accepted even when the head is not (as electron-updater's own tests use).
 */
export function stagingBucket(stagingUserId: string): number {
  const hex = stagingUserId.replace(/-/g, '');
  const tail = hex.slice(24, 32);
  if (hex.length !== 32 || !/^[0-9a-fA-F]{8}$/.test(tail)) {
    throw invalid(`staging id ${JSON.stringify(stagingUserId)} is not a UUID`);
  }
  return Number.parseInt(tail, 16) / 0xffffffff;
}

/**
 * True when this installation is inside the staged rollout: no percentage means everybody,
 * otherwise bucket < percentage / 100 (strict, as electron-updater: 0 % reaches nobody).
 */
export function isInStagedRollout(stagingPercentage: number | null, stagingUserId: string): boolean {
  if (stagingPercentage === null) return true;
  return stagingBucket(stagingUserId) < stagingPercentage / 100;
}

/** Extensions Upkeep prefers per platform when several files fit (first wins): archives it can apply. */
export const PREFERRED_EXTENSIONS: Readonly<Record<EbPlatform, readonly string[]>> = Object.freeze({
  darwin: ['.zip', '.tar.gz', '.dmg', '.pkg'],
  linux: ['.tar.gz', '.tar.xz', '.zip', '.appimage', '.deb', '.rpm'],
  win32: ['.zip', '.exe', '.msi'],
});

/**
 * The one file of `info` for this machine: platform equal, arch equal or universal, and among
 * those the first by `preferred` extensions (default PREFERRED_EXTENSIONS), then feed order.
 * Null when no file fits (such a release is never offered).
 */
export function selectFile(info: EbUpdateInfo, platform: EbPlatform, arch: 'x64' | 'arm64', preferred?: readonly string[]): EbFile | null {
  const fits = info.files.filter((f) => f.platform === platform && (f.arch === arch || f.arch === 'any'));
  if (fits.length === 0) return null;
  const order = (preferred ?? PREFERRED_EXTENSIONS[platform]).map((e) => e.toLowerCase());
  const rank = (f: EbFile): number => {
    const i = order.indexOf(f.extension);
    return i < 0 ? order.length : i;
  };
  // Exact arch before universal at equal rank; stable sort keeps feed order otherwise.
  return [...fits].sort((a, b) => rank(a) - rank(b) || (a.arch === 'any' ? 1 : 0) - (b.arch === 'any' ? 1 : 0))[0]!;
}

/**
 * The feed documents to read for one machine, in order: electron-updater publishes Windows in
 * `<channel>.yml`, macOS (both arches in files[]) in `<channel>-mac.yml`, Linux x64 in
 * `<channel>-linux.yml` and Linux arm64 in `<channel>-linux-arm64.yml`.
 */
export function feedFileNames(channel: string, platform: EbPlatform, arch: 'x64' | 'arm64'): string[] {
  if (platform === 'win32') return [`${channel}.yml`];
  if (platform === 'darwin') return [`${channel}-mac.yml`];
  return arch === 'arm64' ? [`${channel}-linux-arm64.yml`, `${channel}-linux.yml`] : [`${channel}-linux.yml`];
}
