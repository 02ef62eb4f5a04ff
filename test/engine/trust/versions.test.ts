import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { compareVersions, isMajorBump, isValidRange, isValidVersion, parseVersion, satisfiesRange } from '../../../src-main/engine/trust/versions';
import { codeOf } from './feed-fixtures';

const VECTORS = path.resolve(process.cwd(), '../shared/vectors/semver');

type Fixture = [unknown, unknown, unknown?];
const fixtures = JSON.parse(readFileSync(path.join(VECTORS, 'node-semver/node-semver-fixtures.json'), 'utf8')) as Record<string, Fixture[]>;
const spec = JSON.parse(readFileSync(path.join(VECTORS, 'semver-spec-precedence.json'), 'utf8')) as { ascending_chains: string[][]; regex_numbered_groups: string };
const specRegex = new RegExp(spec.regex_numbered_groups);

/** Entries node-semver tests without a loose/options argument (the strict behaviour). */
const plain = (name: string) => fixtures[name]!.filter((f) => f.length === 2) as [string, string][];
/** Entries that need node-semver's loose mode or options. */
const flagged = (name: string) => fixtures[name]!.filter((f) => f.length > 2);

describe('node-semver fixtures (strict entries)', () => {
  it('has the expected fixture sets', () => {
    expect(plain('comparisons').length).toBeGreaterThanOrEqual(15);
    expect(plain('range-include').length).toBeGreaterThanOrEqual(90);
    expect(plain('range-exclude').length).toBeGreaterThanOrEqual(70);
  });

  it('comparisons: a > b, b < a, and each equals itself', () => {
    for (const [a, b] of plain('comparisons')) {
      expect(compareVersions(a, b), `${a} > ${b}`).toBeGreaterThan(0);
      expect(compareVersions(b, a), `${b} < ${a}`).toBeLessThan(0);
      expect(compareVersions(a, a)).toBe(0);
    }
  });

  it('equality: versions differing only in build metadata have equal precedence', () => {
    const strictPairs = plain('equality').filter(([a, b]) => isValidVersion(a) && isValidVersion(b));
    expect(strictPairs.length).toBeGreaterThanOrEqual(2);
    for (const [a, b] of strictPairs) expect(compareVersions(a, b), `${a} == ${b}`).toBe(0);
  });

  it('refuses the spellings node-semver accepts only leniently (leading v, =, whitespace)', () => {
    const lenient = [...plain('equality'), ...flagged('equality'), ...flagged('comparisons')]
      .flatMap(([a, b]) => [a, b])
      .filter((v): v is string => typeof v === 'string' && !specRegex.test(v));
    expect(lenient.length).toBeGreaterThan(30);
    for (const v of lenient) {
      expect(isValidVersion(v), JSON.stringify(v)).toBe(false);
      expect(codeOf(() => parseVersion(v)), JSON.stringify(v)).toBe('ERR_METADATA_INVALID');
    }
  });

  it('range-include: every strict entry is inside its range', () => {
    for (const [range, version] of plain('range-include')) expect(satisfiesRange(version, range), `${version} in ${range}`).toBe(true);
  });

  it('range-exclude: every strict entry is outside its range (or not a version at all)', () => {
    for (const [range, version] of plain('range-exclude')) expect(satisfiesRange(version, range), `${String(version)} not in ${range}`).toBe(false);
  });
});

describe('SemVer 2.0.0 spec §11 precedence chains', () => {
  it('orders every chain strictly ascending, pairwise', () => {
    for (const chain of spec.ascending_chains) {
      for (let i = 0; i < chain.length; i++) {
        for (let j = i + 1; j < chain.length; j++) {
          expect(compareVersions(chain[i]!, chain[j]!), `${chain[i]} < ${chain[j]}`).toBeLessThan(0);
          expect(compareVersions(chain[j]!, chain[i]!)).toBeGreaterThan(0);
        }
      }
    }
  });

  it('sorting a shuffled chain restores it', () => {
    for (const chain of spec.ascending_chains) {
      const shuffled = [...chain].reverse();
      expect(shuffled.sort(compareVersions)).toEqual(chain);
    }
  });

  it('accepts exactly what the spec regex accepts on a sample', () => {
    const sample = ['1.0.0', '0.0.0', '1.0.0-alpha.1', '1.0.0+20130313144700', '1.0.0-beta+exp.sha.5114f85', '1.0.0-0A.is.legal', '01.0.0', '1.0', '1.0.0-', '1.0.0+', '1.0.0-01', 'v1.0.0', ' 1.0.0', '1.0.0 ', '1.2.3.4', '1.0.0-alpha..1', '1.0.0-ä'];
    for (const v of sample) expect(isValidVersion(v), v).toBe(specRegex.test(v));
  });
});

describe('parseVersion', () => {
  it('returns a valid version unchanged (build metadata kept)', () => {
    expect(parseVersion('1.2.3')).toBe('1.2.3');
    expect(parseVersion('1.2.3-rc.1+build.5')).toBe('1.2.3-rc.1+build.5');
  });

  it('throws ERR_METADATA_INVALID on anything else', () => {
    for (const v of ['', 'latest', '1', '1.2', 'v1.2.3', '=1.2.3', '1.2.3 ', '1.2.03', '9'.repeat(300) + '.0.0']) {
      expect(codeOf(() => parseVersion(v)), v.slice(0, 20)).toBe('ERR_METADATA_INVALID');
    }
    expect(codeOf(() => parseVersion(undefined as unknown as string))).toBe('ERR_METADATA_INVALID');
    expect(codeOf(() => compareVersions('1.0.0', 'v1.0.0'))).toBe('ERR_METADATA_INVALID');
  });
});

describe('isMajorBump (caret semantics)', () => {
  it.each([
    ['1.9.9', '2.0.0', true],
    ['1.0.0', '1.9.0', false],
    ['1.2.3', '1.2.4', false],
    ['0.1.0', '0.2.0', true],
    ['0.1.0', '0.1.9', false],
    ['0.0.1', '0.0.2', true],
    ['0.9.0', '1.0.0', true],
    ['1.9.0', '2.0.0-rc.1', true],
    ['2.0.0-rc.1', '2.0.0', false],
    ['1.2.3', '1.3.0-beta.1', false],
    ['2.0.0', '1.0.0', false],
    ['1.0.0', '1.0.0', false],
    ['1.0.0+a', '1.0.0+b', false],
  ])('%s -> %s: %s', (from, to, expected) => {
    expect(isMajorBump(from, to)).toBe(expected);
  });

  it('a fresh install (from null) is not a bump', () => {
    expect(isMajorBump(null, '3.0.0')).toBe(false);
  });
});

describe('satisfiesRange', () => {
  it('is false for an invalid range or version, never throwing', () => {
    expect(satisfiesRange('1.0.0', 'not a range !!')).toBe(false);
    expect(satisfiesRange('1.0.0', '>=foo')).toBe(false);
    expect(satisfiesRange('v1.0.0', '>=1.0.0')).toBe(false);
    expect(satisfiesRange('1.0.0', undefined as unknown as string)).toBe(false);
    expect(isValidRange('>=1.0.0 <2')).toBe(true);
    expect(isValidRange('nope nope')).toBe(false);
  });

  it('hides prereleases by default and includes them on request', () => {
    expect(satisfiesRange('1.1.0-beta.1', '>=1.0.0')).toBe(false);
    expect(satisfiesRange('1.1.0-beta.1', '>=1.0.0', { includePrerelease: true })).toBe(true);
    expect(satisfiesRange('1.0.0-rc.1', '>=1.0.0', { includePrerelease: true })).toBe(false);
  });
});
