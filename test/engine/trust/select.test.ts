import { describe, it, expect } from 'vitest';
import { createHash, randomUUID } from 'node:crypto';
import { PolicyError } from '../../../src-shared/errors';
import { ReleaseManifestSchema, type ChannelIndex, type IndexEntry, type ReleaseManifest } from '../../../src-shared/feed-schema';
import {
  candidateReleases,
  checkInstallTrees,
  checkUpgradePolicy,
  filesForPlatform,
  isBreaking,
  isInRollout,
  rolloutBucket,
} from '../../../src-main/engine/trust/select';
import fc from 'fast-check';
import { checkManifestPaths } from '../../../src-main/engine/trust/paths';
import { codeOf, manifestPayload } from './feed-fixtures';
import type { ManifestFile, RegularManifestFile } from '../../../src-shared/feed-schema';

const shaOf = (x: ManifestFile | undefined): string => (x as RegularManifestFile).sha256;

function entry(version: string, percent?: number): IndexEntry {
  return {
    version,
    manifest: `manifests/${version}.json`,
    sha256: 'a'.repeat(64),
    size: 100,
    is_critical: false,
    ...(percent === undefined ? {} : { rollout: { percent } }),
  };
}

function index(releases: IndexEntry[]): ChannelIndex {
  return { schema: 'upkeep.index/1', product: 'demo', channel: 'stable', sequence: 1, expires: '2030-01-01T00:00:00Z', releases };
}

function manifest(over: Record<string, unknown> = {}): ReleaseManifest {
  return ReleaseManifestSchema.parse(manifestPayload(over));
}

describe('rolloutBucket', () => {
  it('matches a bucket computed by hand from the formula', () => {
    const machineId = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
    const digest = createHash('sha256').update('0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0:demo:1.1.0').digest();
    const byHand = ((digest[0]! * 2 ** 24 + digest[1]! * 2 ** 16 + digest[2]! * 2 ** 8 + digest[3]!) >>> 0) % 100;
    expect(rolloutBucket(machineId, 'demo', '1.1.0')).toBe(byHand);
  });

  it('is a known constant for a fixed input (the formula must not drift)', () => {
    // Computed outside node (Python hashlib): sha256("machine-1:demo:1.0.0") starts 59 a5 23 28,
    // 0x59a52328 = 1503994664, % 100 = 64.
    expect(rolloutBucket('machine-1', 'demo', '1.0.0')).toBe(64);
    expect(rolloutBucket('0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0', 'demo', '1.1.0')).toBe(96);
  });

  it('depends on machine, product and version', () => {
    const ids = Array.from({ length: 50 }, (_, i) => `m${i}`);
    const a = ids.map((id) => rolloutBucket(id, 'demo', '1.0.0'));
    const b = ids.map((id) => rolloutBucket(id, 'demo', '1.0.1'));
    const c = ids.map((id) => rolloutBucket(id, 'other', '1.0.0'));
    expect(a).not.toEqual(b);
    expect(a).not.toEqual(c);
    for (const v of a) expect(v >= 0 && v < 100 && Number.isInteger(v)).toBe(true);
  });
});

describe('isInRollout', () => {
  const ids = Array.from({ length: 1000 }, () => randomUUID());

  it('percent 0 halts: nobody is in', () => {
    expect(ids.filter((id) => isInRollout(entry('1.1.0', 0), id, 'demo'))).toHaveLength(0);
  });

  it('percent 100 and no rollout: everybody is in', () => {
    expect(ids.every((id) => isInRollout(entry('1.1.0', 100), id, 'demo'))).toBe(true);
    expect(ids.every((id) => isInRollout(entry('1.1.0'), id, 'demo'))).toBe(true);
  });

  it('a 25% rollout reaches about a quarter of 1000 random machines', () => {
    const inside = ids.filter((id) => isInRollout(entry('1.1.0', 25), id, 'demo')).length;
    expect(inside).toBeGreaterThan(150);
    expect(inside).toBeLessThan(350);
  });

  it('is exactly bucket < percent, and raising the percent only adds machines', () => {
    for (const id of ids.slice(0, 200)) {
      const bucket = rolloutBucket(id, 'demo', '1.1.0');
      expect(isInRollout(entry('1.1.0', 25), id, 'demo')).toBe(bucket < 25);
      if (isInRollout(entry('1.1.0', 5), id, 'demo')) expect(isInRollout(entry('1.1.0', 25), id, 'demo')).toBe(true);
    }
  });
});

describe('candidateReleases', () => {
  const idx = index([entry('1.0.0'), entry('1.2.0'), entry('1.1.0'), entry('2.0.0-rc.1'), entry('0.9.0')]);
  const base = { current: '1.0.0', skip: [], machineId: 'machine-1', product: 'demo' };

  it('returns newer releases, newest first', () => {
    expect(candidateReleases(idx, base).map((e) => e.version)).toEqual(['2.0.0-rc.1', '1.2.0', '1.1.0']);
  });

  it('offers everything to a fresh install', () => {
    expect(candidateReleases(idx, { ...base, current: null }).map((e) => e.version)).toEqual(['2.0.0-rc.1', '1.2.0', '1.1.0', '1.0.0', '0.9.0']);
  });

  it('leaves out skipped versions (by precedence) and halted rollouts', () => {
    const idx2 = index([entry('1.1.0'), entry('1.2.0', 0), entry('1.3.0')]);
    expect(candidateReleases(idx2, { ...base, skip: ['1.3.0+whatever', 'junk'] }).map((e) => e.version)).toEqual(['1.1.0']);
  });

  it('leaves out releases whose rollout bucket is not reached', () => {
    const id = Array.from({ length: 100 }, (_, i) => `id-${i}`).find((m) => rolloutBucket(m, 'demo', '1.5.0') >= 50)!;
    const idx3 = index([entry('1.5.0', 50), entry('1.4.0')]);
    expect(candidateReleases(idx3, { ...base, machineId: id }).map((e) => e.version)).toEqual(['1.4.0']);
  });

  it('is empty when nothing is newer', () => {
    expect(candidateReleases(idx, { ...base, current: '2.0.0' })).toEqual([]);
  });
});

describe('checkUpgradePolicy', () => {
  it('refuses a downgrade unless allowed or an explicit rollback: ERR_DOWNGRADE', () => {
    const target = manifest({ version: '1.0.0', min_upgrade_from: undefined });
    expect(codeOf(() => checkUpgradePolicy({ current: '1.1.0', target, allowDowngrade: false }))).toBe('ERR_DOWNGRADE');
    expect(codeOf(() => checkUpgradePolicy({ current: '1.1.0', target, allowDowngrade: true }))).toBe('no error');
    expect(codeOf(() => checkUpgradePolicy({ current: '1.1.0', target, allowDowngrade: false, explicitRollback: true }))).toBe('no error');
  });

  it('treats re-installing the same version as a downgrade unless allowed', () => {
    const target = manifest({ version: '1.1.0' });
    expect(codeOf(() => checkUpgradePolicy({ current: '1.1.0', target, allowDowngrade: false }))).toBe('ERR_DOWNGRADE');
    expect(codeOf(() => checkUpgradePolicy({ current: '1.1.0+b2', target, allowDowngrade: false }))).toBe('ERR_DOWNGRADE');
    expect(codeOf(() => checkUpgradePolicy({ current: '1.1.0', target, allowDowngrade: true }))).toBe('no error');
  });

  it('refuses an upgrade from outside min_upgrade_from: ERR_INCOMPATIBLE_UPGRADE with the documented message', () => {
    const target = manifest({ version: '1.2.0', min_upgrade_from: '>=1.0.0' });
    try {
      checkUpgradePolicy({ current: '0.9.0', target, allowDowngrade: false });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(PolicyError);
      expect((err as PolicyError).code).toBe('ERR_INCOMPATIBLE_UPGRADE');
      expect((err as PolicyError).kind).toBe('refused');
      expect((err as Error).message).toBe('Incompatible upgrade from 0.9.0 to 1.2.0');
    }
    expect(codeOf(() => checkUpgradePolicy({ current: '1.0.0', target, allowDowngrade: false }))).toBe('no error');
    // a prerelease inside the range by precedence is accepted
    expect(codeOf(() => checkUpgradePolicy({ current: '1.1.0-beta.1', target, allowDowngrade: false }))).toBe('no error');
    expect(codeOf(() => checkUpgradePolicy({ current: '1.0.0-rc.1', target, allowDowngrade: false }))).toBe('ERR_INCOMPATIBLE_UPGRADE');
  });

  it('allows a fresh install whatever the range', () => {
    const target = manifest({ version: '1.2.0', min_upgrade_from: '>=1.1.0' });
    expect(codeOf(() => checkUpgradePolicy({ current: null, target, allowDowngrade: false }))).toBe('no error');
  });

  it('allows an upgrade with no min_upgrade_from', () => {
    const target = manifest({ version: '5.0.0', min_upgrade_from: undefined });
    expect(codeOf(() => checkUpgradePolicy({ current: '0.0.1', target, allowDowngrade: false }))).toBe('no error');
  });
});

describe('filesForPlatform', () => {
  const f = (path: string, platform = 'any', arch = 'any', sha = 'e') => ({ path, platform, arch, sha256: sha.repeat(64), size: 1, url: 'https://x.example/' + path });

  it('selects any/equal platform and arch, sorted by path', () => {
    const m = manifest({ files: [f('z/any'), f('bin/linux', 'linux'), f('bin/mac', 'darwin'), f('lib/arm', 'any', 'arm64'), f('lib/x64', 'linux', 'x64'), f('A-upper')] });
    expect(filesForPlatform(m, 'linux', 'x64').map((x) => x.path)).toEqual(['A-upper', 'bin/linux', 'lib/x64', 'z/any']);
    expect(filesForPlatform(m, 'darwin', 'arm64').map((x) => x.path)).toEqual(['A-upper', 'bin/mac', 'lib/arm', 'z/any']);
    expect(filesForPlatform(m, 'freebsd', 'riscv64').map((x) => x.path)).toEqual(['A-upper', 'z/any']);
  });

  it('lets the more specific file win when paths are shared', () => {
    const m = manifest({ files: [f('bin/demo', 'any', 'any', '0'), f('bin/demo', 'linux', 'any', '1'), f('bin/demo', 'linux', 'x64', '2'), f('bin/demo', 'any', 'arm64', '3')] });
    expect(shaOf(filesForPlatform(m, 'linux', 'x64')[0])).toBe('2'.repeat(64));
    expect(shaOf(filesForPlatform(m, 'darwin', 'x64')[0])).toBe('0'.repeat(64));
    expect(shaOf(filesForPlatform(m, 'darwin', 'arm64')[0])).toBe('3'.repeat(64));
    expect(filesForPlatform(m, 'win32', 'x64')).toHaveLength(1);
  });

  it('refuses equally specific files for one path as ambiguous: ERR_UNSAFE_PATH', () => {
    const tie = manifest({ files: [f('bin/demo', 'linux', 'any', '1'), f('bin/demo', 'any', 'x64', '2')] });
    expect(codeOf(() => filesForPlatform(tie, 'linux', 'x64'))).toBe('ERR_UNSAFE_PATH');
    expect(shaOf(filesForPlatform(tie, 'linux', 'arm64')[0])).toBe('1'.repeat(64));
    expect(codeOf(() => checkInstallTrees(tie))).toBe('ERR_UNSAFE_PATH');
    const dup = manifest({ files: [f('bin/demo'), f('bin/demo')] });
    expect(codeOf(() => filesForPlatform(dup, 'linux', 'x64'))).toBe('ERR_UNSAFE_PATH');
  });

  it('checkInstallTrees refuses a case collision that only meets on one platform', () => {
    const m = manifest({ files: [f('Bin/a', 'any'), f('bin/A', 'darwin')] });
    expect(codeOf(() => checkInstallTrees(m))).toBe('ERR_UNSAFE_PATH');
    const ok = manifest({ files: [f('Bin/a', 'linux'), f('bin/A', 'darwin')] });
    expect(codeOf(() => checkInstallTrees(ok))).toBe('no error');
  });

  it('checkInstallTrees judges every manifest as checking all six platform/arch trees would (it checks one tree per distinct selection)', () => {
    const exhaustive = (m: ReleaseManifest): string => {
      for (const platform of ['linux', 'darwin', 'win32'])
        for (const arch of ['x64', 'arm64']) {
          const code = codeOf(() => checkManifestPaths(filesForPlatform(m, platform, arch).map((x) => x.path)));
          if (code !== 'no error') return code;
        }
      return 'no error';
    };
    fc.assert(
      fc.property(
        fc.array(fc.record({ path: fc.constantFrom('bin/a', 'Bin/a', 'bin/A', 'bin', 'lib/x', 'lib/X/y', 'lib'), platform: fc.constantFrom('any', 'linux', 'darwin', 'win32'), arch: fc.constantFrom('any', 'x64', 'arm64') }), { minLength: 1, maxLength: 6 }),
        (files) => {
          const m = manifest({ files: files.map((x, i) => f(x.path, x.platform, x.arch, String(i % 10))) });
          expect(codeOf(() => checkInstallTrees(m))).toBe(exhaustive(m));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('isBreaking', () => {
  it('is true for a major bump or listed breaking changes', () => {
    expect(isBreaking('1.4.0', manifest({ version: '2.0.0' }))).toBe(true);
    expect(isBreaking('0.3.1', manifest({ version: '0.4.0' }))).toBe(true);
    expect(isBreaking('1.0.0', manifest({ version: '1.1.0' }))).toBe(false);
    expect(isBreaking('1.0.0', manifest({ version: '1.1.0', breaking_changes: ['config key renamed'] }))).toBe(true);
  });

  it('for a fresh install only breaking_changes counts', () => {
    expect(isBreaking(null, manifest({ version: '3.0.0' }))).toBe(false);
    expect(isBreaking(null, manifest({ version: '3.0.0', breaking_changes: ['x'] }))).toBe(true);
  });
});
