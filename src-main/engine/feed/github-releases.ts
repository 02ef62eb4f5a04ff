/**
 * GitHub Releases as pure functions over the REST API's JSON (`GET /repos/{owner}/{repo}/releases`,
 * https://docs.github.com/rest/releases/releases): which releases count, their versions, the asset
 * of one platform/arch, and the companion files (GNU `sha256sum` checksums, detached signatures).
 * No I/O here; the API client is github-api.ts and the `Feed` is github-feed.ts.
 */
import { z } from 'zod';
import { VerificationError } from '../../../src-shared/errors';
import { isValidVersion } from '../trust/versions';
import { detectArchiveFormat, type ArchiveFormat } from '../archive/extract';

export const GithubAssetSchema = z.object({
  name: z.string().min(1),
  size: z.number().int().nonnegative(),
  browser_download_url: z.string().min(1),
  /** API URL of the asset (`Accept: application/octet-stream` downloads it). */
  url: z.string().optional(),
  state: z.string().optional(),
  content_type: z.string().optional(),
});
export type GithubAsset = z.infer<typeof GithubAssetSchema>;

export const GithubReleaseSchema = z.object({
  tag_name: z.string(),
  name: z.string().nullable().optional(),
  draft: z.boolean().default(false),
  prerelease: z.boolean().default(false),
  body: z.string().nullable().optional(),
  published_at: z.string().nullable().optional(),
  target_commitish: z.string().optional(),
  assets: z.array(GithubAssetSchema).default([]),
});
export type GithubRelease = z.infer<typeof GithubReleaseSchema>;

/** A release that counts, with its version. */
export interface VersionedRelease {
  version: string;
  release: GithubRelease;
}

export interface ReleaseFilterResult {
  releases: VersionedRelease[];
  /** Releases left out and why (non-SemVer tags are logged). */
  skipped: Array<{ tag: string; reason: string }>;
}

function invalid(message: string, details?: Record<string, unknown>): VerificationError {
  return new VerificationError('ERR_METADATA_INVALID', message, details);
}

/**
 * The version of a tag: the tag without one leading `v`/`V`, when that is strict SemVer 2.0;
 * null otherwise (such releases are skipped).
 */
export function tagToVersion(tag: string): string | null {
  const v = /^[vV]/.test(tag) ? tag.slice(1) : tag;
  return isValidVersion(v) ? v : null;
}

/**
 * Parses one page of `GET …/releases` (a JSON array) or one release object (`…/releases/latest`,
 * `…/releases/tags/{tag}`) into release objects. Throws ERR_METADATA_INVALID for anything else.
 */
export function parseReleasesJson(body: unknown): GithubRelease[] {
  const list = Array.isArray(body) ? body : [body];
  const parsed = z.array(GithubReleaseSchema).safeParse(list);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(`GitHub releases: unexpected JSON at ${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}`);
  }
  return parsed.data;
}

/**
 * The releases that count, newest version first: never drafts; prereleases only when
 * `includePrerelease`; tags that are not SemVer (after dropping a leading v) skipped and listed.
 * Two tags with one version (`v1.2.0` and `1.2.0`) keep the first listed.
 */
export function countedReleases(all: readonly GithubRelease[], includePrerelease: boolean): ReleaseFilterResult {
  const releases: VersionedRelease[] = [];
  const skipped: ReleaseFilterResult['skipped'] = [];
  const seen = new Set<string>();
  for (const r of all) {
    if (r.draft) {
      skipped.push({ tag: r.tag_name, reason: 'draft' });
      continue;
    }
    if (r.prerelease && !includePrerelease) {
      skipped.push({ tag: r.tag_name, reason: 'prerelease' });
      continue;
    }
    const version = tagToVersion(r.tag_name);
    if (version === null) {
      skipped.push({ tag: r.tag_name, reason: 'tag is not SemVer' });
      continue;
    }
    if (seen.has(version)) {
      skipped.push({ tag: r.tag_name, reason: `duplicate of version ${version}` });
      continue;
    }
    seen.add(version);
    releases.push({ version, release: r });
  }
  return { releases, skipped };
}

export interface AssetNaming {
  /** Renames for `{platform}` (`{ darwin: macos, win32: windows }`); unnamed ones are used as they are. */
  platform_names?: Readonly<Record<string, string>>;
  arch_names?: Readonly<Record<string, string>>;
}

/**
 * The asset name of one version/platform/arch from a template such as
 * `myapp-{version}-{platform}-{arch}.tar.gz` ({version} is the tag without its leading v).
 * Unknown placeholders are an ERR_CONFIG_INVALID-worthy mistake caught by the config schema.
 */
export function expandAssetTemplate(template: string, v: { version: string; platform: string; arch: string }, naming: AssetNaming = {}): string {
  const platform = naming.platform_names?.[v.platform] ?? v.platform;
  const arch = naming.arch_names?.[v.arch] ?? v.arch;
  return template.replace(/\{(version|platform|arch)\}/g, (_m, k: string) => (k === 'version' ? v.version : k === 'platform' ? platform : arch));
}

/** Placeholders a template may use. */
export const TEMPLATE_PLACEHOLDERS = ['version', 'platform', 'arch'] as const;

/** The asset called `name` (exact match), or null. */
export function findAsset(r: GithubRelease, name: string): GithubAsset | null {
  return r.assets.find((a) => a.name === name) ?? null;
}

/** Detached-signature suffixes, strongest preference first. */
export const SIGNATURE_SUFFIXES = ['.minisig', '.sig', '.asc', '.p7s'] as const;
export type SignatureSuffix = (typeof SIGNATURE_SUFFIXES)[number];

/** The detached signatures published next to the asset called `name` (`name.minisig`, …), in preference order. */
export function signatureAssetsFor(r: GithubRelease, name: string): Array<{ asset: GithubAsset; suffix: SignatureSuffix }> {
  const out: Array<{ asset: GithubAsset; suffix: SignatureSuffix }> = [];
  for (const suffix of SIGNATURE_SUFFIXES) {
    const a = findAsset(r, name + suffix);
    if (a) out.push({ asset: a, suffix });
  }
  return out;
}

const HEX64 = /^[0-9a-fA-F]{64}$/;

/**
 * Parses a checksums file: GNU coreutils `sha256sum` lines (`<64 hex>  <name>` in text mode,
 * `<64 hex> *<name>` in binary mode; a leading `./` is dropped) and BSD-style
 * `SHA256 (<name>) = <64 hex>` lines. Blank lines and `#` comments are ignored. Returns
 * name → lowercase hex. Throws ERR_METADATA_INVALID for any other line, or a name listed twice
 * with different digests (the file is ambiguous).
 */
export function parseChecksums(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trimEnd();
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    let hex: string | undefined;
    let name: string | undefined;
    const gnu = /^([0-9a-fA-F]+) [ *](.+)$/.exec(line);
    const bsd = /^SHA256 \((.+)\) = ([0-9a-fA-F]+)$/.exec(line);
    if (gnu) [hex, name] = [gnu[1], gnu[2]];
    else if (bsd) [name, hex] = [bsd[1], bsd[2]];
    if (!hex || !name || !HEX64.test(hex)) throw invalid(`Checksums file line ${i + 1} is not "<sha256>  <name>"`, { line: i + 1 });
    const clean = name.startsWith('./') ? name.slice(2) : name;
    const digest = hex.toLowerCase();
    const prev = out.get(clean);
    if (prev !== undefined && prev !== digest) throw invalid(`Checksums file lists ${clean} twice with different digests`, { name: clean });
    out.set(clean, digest);
  });
  return out;
}

/**
 * The URL of `rel="next"` in an RFC 8288 `Link` header (`<https://…?page=2>; rel="next", …`),
 * or null.
 */
export function nextPageUrl(link: string | undefined | null): string | null {
  if (!link) return null;
  for (const part of link.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (!m) continue;
    const rels = /;\s*rel\s*=\s*"?([^";]+)"?/i.exec(m[2]!);
    if (rels && rels[1]!.split(/\s+/).includes('next')) return m[1]!;
  }
  return null;
}

/** The archive format of an asset name (`.tar`, `.tar.gz`/`.tgz`, `.tar.xz`/`.txz`, `.zip`), or null when it is not an archive Upkeep extracts. */
export const archiveFormatOf: (name: string) => ArchiveFormat | null = detectArchiveFormat;
