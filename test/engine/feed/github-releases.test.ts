/**
 * GitHub Releases, pure part: every recorded API body of ../shared/vectors/github-releases read in
 * place (tag → version, drafts/prereleases, assets by name with browser_download_url + size),
 * checksums files, Link headers, rate-limit answers and the seed-000 manifest rule.
 */
import { describe, it, expect } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  archiveFormatOf,
  countedReleases,
  expandAssetTemplate,
  findAsset,
  nextPageUrl,
  parseChecksums,
  parseReleasesJson,
  signatureAssetsFor,
  tagToVersion,
} from '../../../src-main/engine/feed/github-releases';
import { rateLimitError } from '../../../src-main/engine/feed/github-api';
import { canonicalJson, parseSeedManifest, signedBytesOf } from '../../../src-main/engine/feed/seed-manifest';
import { UpkeepError } from '../../../src-shared/errors';

const DIR = path.resolve(__dirname, '../../../../shared/vectors/github-releases');
const json = (name: string): unknown => JSON.parse(readFileSync(path.join(DIR, name), 'utf8'));

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return err instanceof UpkeepError ? err.code : `not an UpkeepError: ${String(err)}`;
  }
  return 'no error';
}

describe('GitHub release vectors', () => {
  it('pygithub latest release (tag v1.0): not SemVer after dropping v, so skipped and listed', () => {
    const all = parseReleasesJson(json('pygithub/pygithub_get-latest-release_rickrickston123-RepoTest.json'));
    expect(all).toHaveLength(1);
    expect(all[0]!.assets).toHaveLength(1);
    const r = countedReleases(all, false);
    expect(r.releases).toEqual([]);
    expect(r.skipped).toEqual([{ tag: 'v1.0', reason: 'tag is not SemVer' }]);
  });

  it('pygithub release by tag v1.55 (prerelease with 2 assets): skipped unless prereleases count', () => {
    const all = parseReleasesJson(json('pygithub/pygithub_get-release-by-tag_EnricoMi-PyGithub_v1.55.json'));
    expect(all[0]!.prerelease).toBe(true);
    expect(countedReleases(all, false).skipped).toEqual([{ tag: 'v1.55', reason: 'prerelease' }]);
    // Opted in, the tag is still not SemVer (v1.55): skipped for that reason instead.
    expect(countedReleases(all, true).skipped).toEqual([{ tag: 'v1.55', reason: 'tag is not SemVer' }]);
    const a1 = findAsset(all[0]!, 'asset1.md');
    const a2 = findAsset(all[0]!, 'asset2.gz');
    expect(a1?.size).toBe(2524);
    expect(a2?.size).toBe(1199);
    expect(a1?.browser_download_url).toMatch(/^https:\/\/github\.com\/EnricoMi\/PyGithub\/releases\/download\/v1\.55\/asset1\.md$/);
    expect(findAsset(all[0]!, 'asset3')).toBeNull();
  });

  it('pygithub paginated list (pages 1+2): SemVer tags become versions, the others are skipped', () => {
    const all = [
      ...parseReleasesJson(json('pygithub/pygithub_list-releases_PyGithub_page1.json')),
      ...parseReleasesJson(json('pygithub/pygithub_list-releases_PyGithub_page2.json')),
    ];
    expect(all).toHaveLength(20);
    const r = countedReleases(all, false);
    expect(r.releases.map((x) => x.version)).toEqual(['1.54.1', '1.44.1', '1.43.8', '1.43.7', '1.43.6', '1.43.5', '1.43.4', '1.43.3', '1.43.2']);
    expect(r.skipped.map((s) => s.tag)).toContain('v1.54.0.1');
    expect(r.skipped.every((s) => s.reason === 'tag is not SemVer')).toBe(true);
    expect(all[0]!.body).toContain('\r\n');
  });

  it('pygithub single release with empty assets', () => {
    const all = parseReleasesJson(json('pygithub/pygithub_list-releases_edhollandAL-PyGithub.json'));
    expect(countedReleases(all, false).releases.map((x) => x.version)).toEqual(['1.25.2']);
    expect(all[0]!.assets).toEqual([]);
  });

  it('pygithub raw recording: the latest-release body is the recorded line, with rate-limit headers', () => {
    const raw = readFileSync(path.join(DIR, 'pygithub/raw_GitRelease.testGetLatestRelease.txt'), 'utf8').split('\n');
    expect(raw[9]!.trim()).toBe(readFileSync(path.join(DIR, 'pygithub/pygithub_get-latest-release_rickrickston123-RepoTest.json'), 'utf8').trim());
    expect(raw.join('\n')).toContain("'X-RateLimit-Remaining', '4783'");
  });

  it('octokit fixtures: release v1.0.0 by tag, its asset list, and the whole normalized scenario', () => {
    const byTag = parseReleasesJson(json('octokit/octokit-fixtures_get-release-by-tag_v1.0.0.json'));
    expect(countedReleases(byTag, false).releases.map((x) => x.version)).toEqual(['1.0.0']);
    const scenario = json('octokit/normalized-fixture.release-assets.json') as Array<{ method: string; path: string; response: unknown }>;
    const first = parseReleasesJson(scenario[0]!.response);
    expect(first[0]!.tag_name).toBe('v1.0.0');
    expect(first).toEqual(byTag);
    const assets = json('octokit/octokit-fixtures_list-release-assets.json') as Array<{ name: string; size: number; browser_download_url: string }>;
    expect(assets).toEqual(scenario[2]!.response);
    expect(assets[0]!.name).toBe('test-upload.txt');
    expect(assets[0]!.browser_download_url).toContain('/releases/download/v1.0.0/test-upload.txt');
  });

  it('drafts never count, even when prereleases do', () => {
    const r = countedReleases(parseReleasesJson([{ tag_name: 'v2.0.0', draft: true, assets: [] }, { tag_name: '2.0.0-rc.1', prerelease: true }]), true);
    expect(r.releases.map((x) => x.version)).toEqual(['2.0.0-rc.1']);
    expect(r.skipped).toEqual([{ tag: 'v2.0.0', reason: 'draft' }]);
  });

  it('refuses JSON that is not a release', () => {
    expect(codeOf(() => parseReleasesJson({ message: 'Not Found' }))).toBe('ERR_METADATA_INVALID');
  });
});

describe('GitHub release rules', () => {
  it('tags: one leading v dropped, SemVer only', () => {
    expect(tagToVersion('v1.2.3')).toBe('1.2.3');
    expect(tagToVersion('1.2.3-beta.1')).toBe('1.2.3-beta.1');
    expect(tagToVersion('vv1.2.3')).toBeNull();
    expect(tagToVersion('release-1.2.3')).toBeNull();
    expect(tagToVersion('v1.2')).toBeNull();
  });

  it('asset templates with platform/arch renames', () => {
    const naming = { platform_names: { darwin: 'macos', win32: 'windows' }, arch_names: { x64: 'amd64' } };
    expect(expandAssetTemplate('myapp-{version}-{platform}-{arch}.tar.gz', { version: '1.2.0', platform: 'darwin', arch: 'arm64' }, naming)).toBe('myapp-1.2.0-macos-arm64.tar.gz');
    expect(expandAssetTemplate('myapp-{version}-{platform}-{arch}.tar.gz', { version: '1.2.0', platform: 'linux', arch: 'x64' }, naming)).toBe('myapp-1.2.0-linux-amd64.tar.gz');
  });

  it('checksums: GNU text and binary (*name) lines, ./ prefix, BSD tags; malformed lines refused', () => {
    const a = 'a'.repeat(64);
    const b = 'B'.repeat(64);
    const sums = parseChecksums(`${a}  myapp-1.0.0-linux-x64.tar.gz\n${b} *myapp-1.0.0-linux-arm64.tar.gz\r\n\n# comment\n${a}  ./notes.txt\nSHA256 (other.zip) = ${a}\n`);
    expect(sums.get('myapp-1.0.0-linux-x64.tar.gz')).toBe(a);
    expect(sums.get('myapp-1.0.0-linux-arm64.tar.gz')).toBe('b'.repeat(64));
    expect(sums.get('notes.txt')).toBe(a);
    expect(sums.get('other.zip')).toBe(a);
    expect(codeOf(() => parseChecksums('abc  file\n'))).toBe('ERR_METADATA_INVALID');
    expect(codeOf(() => parseChecksums(`${a}  f\n${'c'.repeat(64)}  f\n`))).toBe('ERR_METADATA_INVALID');
  });

  it('signature companions in preference order', () => {
    const mk = (name: string) => ({ name, size: 1, browser_download_url: `https://x/${name}` });
    const rel = parseReleasesJson({ tag_name: 'v1.0.0', assets: [mk('SHA256SUMS'), mk('SHA256SUMS.asc'), mk('SHA256SUMS.minisig'), mk('SHA256SUMS.p7s')] })[0]!;
    expect(signatureAssetsFor(rel, 'SHA256SUMS').map((s) => s.suffix)).toEqual(['.minisig', '.asc', '.p7s']);
  });

  it('Link header: rel="next" found among others', () => {
    const link = '<https://api.github.com/repositories/3544490/releases?per_page=10&page=2>; rel="next", <https://api.github.com/repositories/3544490/releases?per_page=10&page=9>; rel="last"';
    expect(nextPageUrl(link)).toBe('https://api.github.com/repositories/3544490/releases?per_page=10&page=2');
    expect(nextPageUrl('<https://x/?page=1>; rel="prev"')).toBeNull();
    expect(nextPageUrl(undefined)).toBeNull();
  });

  it('rate-limit answers become ERR_RATE_LIMITED with the reset time', () => {
    const now = new Date('2026-11-29T21:00:00Z');
    const h = (o: Record<string, string>) => (n: string) => o[n];
    const primary = rateLimitError(403, h({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1796000000' }), now);
    expect(primary?.code).toBe('ERR_RATE_LIMITED');
    expect(primary?.details?.reset_at).toBe(new Date(1796000000 * 1000).toISOString());
    expect(primary?.message).toContain(new Date(1796000000 * 1000).toISOString());
    const secondary = rateLimitError(429, h({ 'retry-after': '60' }), now);
    expect(secondary?.details?.reset_at).toBe('2026-11-29T21:01:00.000Z');
    expect(rateLimitError(403, h({ 'x-ratelimit-remaining': '12' }), now)).toBeNull();
    expect(rateLimitError(404, h({ 'x-ratelimit-remaining': '0' }), now)).toBeNull();
  });

  it('archive formats by asset name', () => {
    expect(archiveFormatOf('a.tar.gz')).toBe('tar.gz');
    expect(archiveFormatOf('a.tgz')).toBe('tar.gz');
    expect(archiveFormatOf('a.tar.xz')).toBe('tar.xz');
    expect(archiveFormatOf('a.zip')).toBe('zip');
    expect(archiveFormatOf('a.exe')).toBeNull();
  });
});

describe('seed-000 manifest asset', () => {
  const files = [{ path: 'bin/themis_server', type: 'executable', sha256_hash: 'e'.repeat(64), size_bytes: 3, platform: 'linux', architecture: 'x64', download_url: 'https://x/bin' }];
  const body = { version: '1.2.0', tag_name: 'v1.2.0', release_notes: 'Security fixes', is_critical: true, files, build_commit: 'abc123' };

  it('canonical JSON sorts keys and drops whitespace', () => {
    expect(canonicalJson({ b: [1, { d: null, c: 'x' }], a: true })).toBe('{"a":true,"b":[1,{"c":"x","d":null}]}');
  });

  it('manifest_hash over the canonical bytes is checked; a changed field is ERR_HASH_MISMATCH', () => {
    const hash = createHash('sha256').update(signedBytesOf(body)).digest('hex');
    const ok = parseSeedManifest(Buffer.from(JSON.stringify({ ...body, manifest_hash: hash }, null, 2)), '1.2.0');
    expect(ok.hashChecked).toBe(true);
    expect(ok.manifest.files[0]!.path).toBe('bin/themis_server');
    const tampered = { ...body, is_critical: false, manifest_hash: hash };
    expect(codeOf(() => parseSeedManifest(Buffer.from(JSON.stringify(tampered)), '1.2.0'))).toBe('ERR_HASH_MISMATCH');
    expect(codeOf(() => parseSeedManifest(Buffer.from(JSON.stringify({ ...body, manifest_hash: hash })), '1.3.0'))).toBe('ERR_VERSION_MISMATCH');
    const escaping = { ...body, files: [{ ...files[0], path: '../etc/passwd' }] };
    expect(codeOf(() => parseSeedManifest(Buffer.from(JSON.stringify(escaping)), '1.2.0'))).toBe('ERR_UNSAFE_PATH');
  });
});
