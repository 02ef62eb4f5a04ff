/**
 * electron-builder feeds: every document of ../shared/vectors/electron-builder read in place and
 * given the verdict its SOURCES.md names (parse, file per platform/arch, staged rollout, legacy
 * refused), plus the staging oracle of electron-updater's own tests.
 */
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  classifyFile,
  feedFileNames,
  isInStagedRollout,
  parseElectronBuilderFeed,
  selectFile,
  stagingBucket,
} from '../../../src-main/engine/feed/electron-builder';
import { UpkeepError } from '../../../src-shared/errors';

const DIR = path.resolve(__dirname, '../../../../shared/vectors/electron-builder');
const read = (name: string): Buffer => readFileSync(path.join(DIR, name));
const hexOf = (b64: string): string => Buffer.from(b64, 'base64').toString('hex');

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return err instanceof UpkeepError ? err.code : `not an UpkeepError: ${String(err)}`;
  }
  return 'no error';
}

describe('electron-builder vectors', () => {
  it('flyenv_latest.yml (Windows): the .exe for win32/x64, nothing for Linux', () => {
    const info = parseElectronBuilderFeed(read('flyenv_latest.yml'), 'latest.yml');
    expect(info.version).toBe('4.10.8');
    expect(info.releaseDate).toBe('2025-08-27T02:59:40.258Z');
    const f = selectFile(info, 'win32', 'x64');
    expect(f?.url).toBe('FlyEnv-Setup-4.10.8.exe');
    expect(f?.size).toBe(126446295);
    expect(f?.sha512).toBe(hexOf('9kbjtLhaanXj2PNU02QNPvr6QO/hHUiv3IYprBjPn8efcKUzLjXaYDNYHDNjthZm+8s255ltAsnRH+/idKliQA=='));
    expect(selectFile(info, 'linux', 'x64')).toBeNull();
  });

  it('flyenv_latest-mac.yml: x64 and arm64 each get their own zip from files[]', () => {
    const info = parseElectronBuilderFeed(read('flyenv_latest-mac.yml'), 'latest-mac.yml');
    expect(info.files.map((f) => [f.platform, f.arch])).toEqual([['darwin', 'x64'], ['darwin', 'arm64'], ['darwin', 'x64'], ['darwin', 'arm64']]);
    expect(selectFile(info, 'darwin', 'x64')?.url).toBe('FlyEnv-4.8.2-mac.zip');
    const arm = selectFile(info, 'darwin', 'arm64');
    expect(arm?.url).toBe('FlyEnv-4.8.2-arm64-mac.zip');
    expect(arm?.size).toBe(145163410);
    // Preferring the disk image is a configuration choice, still by files[].
    expect(selectFile(info, 'darwin', 'arm64', ['.dmg'])?.url).toBe('FlyEnv-4.8.2-arm64.dmg');
  });

  it('flyenv_latest-mac-arm64.yml: only arm64 machines get a file', () => {
    const info = parseElectronBuilderFeed(read('flyenv_latest-mac-arm64.yml'), 'latest-mac-arm64.yml');
    expect(selectFile(info, 'darwin', 'arm64')?.url).toBe('FlyEnv-4.15.3-arm64-mac.zip');
    expect(selectFile(info, 'darwin', 'x64')).toBeNull();
  });

  it('flyenv_latest-linux.yml: .deb/.rpm are Linux x64; no arm64 file', () => {
    const info = parseElectronBuilderFeed(read('flyenv_latest-linux.yml'), 'latest-linux.yml');
    expect(info.files.map((f) => f.extension)).toEqual(['.deb', '.rpm']);
    expect(selectFile(info, 'linux', 'x64')?.url).toBe('FlyEnv-4.15.3.deb');
    expect(selectFile(info, 'linux', 'x64', ['.rpm'])?.url).toBe('FlyEnv-4.15.3.rpm');
    expect(selectFile(info, 'linux', 'arm64')).toBeNull();
  });

  it('eos-studio_latest-mac.yml (blockMapSize): zip for x64 mac', () => {
    const info = parseElectronBuilderFeed(read('eos-studio_latest-mac.yml'), 'latest-mac.yml');
    expect(info.version).toBe('0.9.1');
    expect(selectFile(info, 'darwin', 'x64')?.url).toBe('EOSStudio-0.9.1.zip');
    expect(selectFile(info, 'darwin', 'arm64')).toBeNull();
  });

  it('uashield_latest-mac.yml: dmg per arch', () => {
    const info = parseElectronBuilderFeed(read('uashield_latest-mac.yml'), 'latest-mac.yml');
    expect(selectFile(info, 'darwin', 'x64')?.url).toBe('UA-Cyber-SHIELD-1.0.1.dmg');
    expect(selectFile(info, 'darwin', 'arm64')?.url).toBe('UA-Cyber-SHIELD-1.0.1-arm64.dmg');
  });

  it('desktop-facebook-messenger_latest.yml (legacy sha2 field): files[] sha512 counts, sha2 ignored', () => {
    const info = parseElectronBuilderFeed(read('desktop-facebook-messenger_latest.yml'), 'latest.yml');
    const f = selectFile(info, 'win32', 'x64');
    expect(f?.url).toBe('desktop-facebook-messenger-setup-1.0.2.exe');
    expect(f?.sha512).toHaveLength(128);
  });

  it('arepl_legacy_latest-mac.yml (no files[], folded top-level sha512): refused', () => {
    expect(codeOf(() => parseElectronBuilderFeed(read('arepl_legacy_latest-mac.yml'), 'latest-mac.yml'))).toBe('ERR_METADATA_INVALID');
  });

  it('electron-builder-docs_staged-rollout_latest.yml: stagingPercentage 10 is honoured', () => {
    const info = parseElectronBuilderFeed(read('electron-builder-docs_staged-rollout_latest.yml'), 'latest.yml');
    expect(info.stagingPercentage).toBe(10);
    // bucket 0x0000000a / 0xffffffff ≈ 0 → in; 0x80000000 → 0.5 → out at 10 %.
    expect(isInStagedRollout(info.stagingPercentage, '00000000-0000-0000-0000-00000000000a')).toBe(true);
    expect(isInStagedRollout(info.stagingPercentage, '00000000-0000-0000-0000-000080000000')).toBe(false);
  });

  it('nsisUpdaterTest snapshots: 90 % offers the update to 1wa70172-…, 1 % does not', () => {
    const snap = read('electron-builder_nsisUpdaterTest.js.snap').toString('utf8');
    const body = (name: string): string => {
      const m = new RegExp('exports\\[`' + name + '`\\] = `([\\s\\S]*?)`;').exec(snap);
      if (!m) throw new Error(`no snapshot ${name}`);
      return m[1]!;
    };
    const at90 = parseElectronBuilderFeed(body('90 staging percentage 1'), 'latest.yml');
    const at1 = parseElectronBuilderFeed(body('1 staging percentage 1'), 'latest.yml');
    expect(at90.stagingPercentage).toBe(90);
    expect(at1.stagingPercentage).toBe(1);
    expect(at90.files[0]!.size).toBeNull();
    const id90 = '1wa70172-80f8-5cc4-8131-28f5e0edd2a1';
    const id1 = '12a70172-80f8-5cc4-8131-28f5e0edd2a1';
    expect(stagingBucket(id90)).toBeCloseTo(0.8786, 4);
    expect(isInStagedRollout(at90.stagingPercentage, id90)).toBe(true);
    expect(isInStagedRollout(at1.stagingPercentage, id1)).toBe(false);
    // The "events" snapshots agree: 90 % → update-available, 1 % → only checking-for-update.
    expect(body('90 staging percentage 2')).toContain('update-available');
    expect(body('1 staging percentage 2')).not.toContain('update-available');
  });
});

describe('electron-builder rules', () => {
  it('never trusts the legacy top-level path/sha512 over files[]', () => {
    const good = Buffer.alloc(64, 1).toString('base64');
    const evil = Buffer.alloc(64, 2).toString('base64');
    const info = parseElectronBuilderFeed(
      `version: 2.0.0\nfiles:\n  - url: app-2.0.0-linux.tar.gz\n    sha512: ${good}\n    size: 10\npath: evil.tar.gz\nsha512: ${evil}\n`,
      'latest-linux.yml',
    );
    expect(selectFile(info, 'linux', 'x64')).toMatchObject({ url: 'app-2.0.0-linux.tar.gz', sha512: Buffer.alloc(64, 1).toString('hex'), size: 10 });
  });

  it('refuses a non-SemVer version, a short sha512 and a percentage over 100', () => {
    const sha = Buffer.alloc(64).toString('base64');
    expect(codeOf(() => parseElectronBuilderFeed(`version: "1.2"\nfiles: [{url: a.exe, sha512: "${sha}"}]\n`, 'latest.yml'))).toBe('ERR_METADATA_INVALID');
    expect(codeOf(() => parseElectronBuilderFeed(`version: 1.2.0\nfiles: [{url: a.exe, sha512: "AAAA"}]\n`, 'latest.yml'))).toBe('ERR_METADATA_INVALID');
    expect(codeOf(() => parseElectronBuilderFeed(`version: 1.2.0\nstagingPercentage: 101\nfiles: [{url: a.exe, sha512: "${sha}"}]\n`, 'latest.yml'))).toBe('ERR_METADATA_INVALID');
  });

  it('0 % reaches nobody; an id ending in ffffffff is outside even 100 % (strict <), as electron-updater', () => {
    expect(isInStagedRollout(0, '00000000-0000-0000-0000-000000000000')).toBe(false);
    expect(isInStagedRollout(100, '00000000-0000-0000-0000-0000ffffffff')).toBe(false);
    expect(isInStagedRollout(null, '00000000-0000-0000-0000-0000ffffffff')).toBe(true);
  });

  it('shows releaseNotes, as text or a per-version list', () => {
    const sha = Buffer.alloc(64).toString('base64');
    const one = parseElectronBuilderFeed(`version: 1.0.0\nreleaseNotes: "Fixes **crash**"\nfiles: [{url: a.exe, sha512: "${sha}"}]\n`, 'latest.yml');
    expect(one.releaseNotes).toBe('Fixes **crash**');
    const list = parseElectronBuilderFeed(
      `version: 1.1.0\nreleaseNotes:\n  - {version: 1.1.0, note: "new"}\n  - {version: 1.0.0, note: "old"}\nfiles: [{url: a.exe, sha512: "${sha}"}]\n`,
      'latest.yml',
    );
    expect(list.releaseNotes).toBe('## 1.1.0\n\nnew\n\n## 1.0.0\n\nold');
  });

  it('names platform and arch from file names and feed names', () => {
    expect(classifyFile('app-1.0.0-linux-arm64.tar.gz', 'win32')).toEqual({ platform: 'linux', arch: 'arm64', extension: '.tar.gz' });
    expect(classifyFile('App-1.0.0-universal-mac.zip', 'darwin')).toEqual({ platform: 'darwin', arch: 'any', extension: '.zip' });
    expect(classifyFile('App%20Setup%201.0.0.exe', 'linux')).toEqual({ platform: 'win32', arch: 'x64', extension: '.exe' });
    expect(feedFileNames('beta', 'linux', 'arm64')).toEqual(['beta-linux-arm64.yml', 'beta-linux.yml']);
    expect(feedFileNames('latest', 'darwin', 'arm64')).toEqual(['latest-mac.yml']);
  });
});
