/**
 * Sparkle appcasts: every file of ../shared/vectors/sparkle read in place with the verdict its
 * SOURCES.md (and Sparkle's own SUAppcastTest) gives: best item, channels, critical and
 * informational updates, system versions, phased rollout, deltas, namespaces, relative and
 * dangerous links, and the edSignature oracle.
 */
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  bestItem,
  deltaFor,
  eligibleItems,
  isCriticalFor,
  isInformationalFor,
  isMajorUpgradeFor,
  parseAppcast,
  rolloutGroupOf,
  type SparkleSelectOptions,
} from '../../../src-main/engine/feed/sparkle';
import { compareSparkleVersions } from '../../../src-main/engine/feed/sparkle-version';
import { UpkeepError } from '../../../src-shared/errors';
import { verifyEd25519Signature } from '../../../src-main/engine/trust/signatures';
import { requireThreshold } from '../../../src-main/engine/trust/threshold';
import { loadTrustedKeys } from '../../../src-main/engine/trust/trusted-keys';

const DIR = path.resolve(__dirname, '../../../../shared/vectors/sparkle');
const read = (name: string): Buffer => readFileSync(path.join(DIR, name));
const BASE = 'https://updates.example.com/app/appcast.xml';
const parse = (name: string) => parseAppcast(read(name), BASE);

const mac = (o: Partial<SparkleSelectOptions> = {}): SparkleSelectOptions => ({
  installed: '1.0',
  channels: [],
  os: 'macos',
  systemVersion: '14.0',
  rolloutGroup: 0,
  now: new Date('2026-11-29T12:00:00Z'),
  ...o,
});

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return err instanceof UpkeepError ? err.code : `not an UpkeepError: ${String(err)}`;
  }
  return 'no error';
}

describe('Sparkle version ordering', () => {
  it('orders like SUStandardVersionComparator', () => {
    const lt: Array<[string, string]> = [
      ['1.0', '1.1'], ['1.0b9', '1.0b10'], ['1.0b1', '1.0'], ['1.0a1', '1.0b1'], ['1.0b1', '1.0.1'],
      ['2.0', '241'], ['1.9.9', '1.10'], ['6.9.10', '6.10.0'], ['1.0', '1.0.1'], ['99999999999999999999', '100000000000000000000'],
    ];
    for (const [a, b] of lt) {
      expect(compareSparkleVersions(a, b), `${a} < ${b}`).toBeLessThan(0);
      expect(compareSparkleVersions(b, a), `${b} > ${a}`).toBeGreaterThan(0);
    }
    expect(compareSparkleVersions('1.0', '1.0.0')).toBe(0);
    expect(compareSparkleVersions('1.0 (1234)', '1.0 (1234)')).toBe(0);
    expect(compareSparkleVersions('1.0 (1234)', '1.0 (1235)')).toBeLessThan(0);
  });
});

describe('Sparkle appcast vectors', () => {
  it('testappcast.xml: 4 items, best is 3.0 (4.0 needs a newer system, 5.0 an older one), delta from 2.0', () => {
    const a = parse('testappcast.xml');
    expect(a.items.map((i) => i.version)).toEqual(['2.0', '3.0', '4.0', '5.0']);
    const best = bestItem(a, mac({ installed: '2.0' }));
    expect(best?.version).toBe('3.0');
    expect(best?.phasedRolloutInterval).toBe(86400);
    expect(isCriticalFor(best!, '2.0')).toBe(true); // legacy <sparkle:tags><sparkle:criticalUpdate/>
    expect(deltaFor(best!, '2.0')?.url).toBe('http://localhost:1337/3.0_from_2.0.patch');
    expect(deltaFor(best!, '1.0')?.url).toBe('http://localhost:1337/3.0_from_1.0.patch');
    expect(deltaFor(best!, '1.5')).toBeNull();
    // 2.0 is critical only below 1.5.
    const v2 = a.items[0]!;
    expect(isCriticalFor(v2, '1.4')).toBe(true);
    expect(isCriticalFor(v2, '1.5')).toBe(false);
    expect(a.items[0]!.description).toBe('desc');
    // Without a known system version the system bounds are not applied: 5.0 is best.
    expect(bestItem(a, mac({ systemVersion: null }))?.version).toBe('5.0');
    expect(bestItem(a, mac({ systemVersion: '17.0.0' }))?.version).toBe('4.0');
  });

  it('testappcast_channels.xml: default channel only 2.0; beta 4.0; beta+nightly 5.0; windows 6.0; invalid items skipped', () => {
    const a = parse('testappcast_channels.xml');
    expect(a.items.map((i) => i.version)).toEqual(['2.0', '4.0', '5.0', '6.0']);
    expect(a.skipped.map((s) => s.title)).toEqual(['Version 3.0', 'Version 7.0']);
    expect(eligibleItems(a, mac()).map((i) => i.version)).toEqual(['2.0']);
    expect(eligibleItems(a, mac({ channels: ['beta'] })).map((i) => i.version)).toEqual(['4.0', '2.0']);
    expect(bestItem(a, mac({ channels: ['beta', 'nightly'] }))?.version).toBe('5.0');
    expect(bestItem(a, mac({ channels: ['madeup'] }))?.version).toBe('2.0');
    expect(bestItem(a, mac({ os: 'windows' }))?.version).toBe('6.0');
  });

  it('testappcast_info_updates.xml: informational items are shown, never installed', () => {
    const a = parse('testappcast_info_updates.xml');
    const [v2, v3, v4, v5] = a.items;
    expect(isInformationalFor(v2!, '1.0')).toBe(false);
    expect(isInformationalFor(v3!, '2.4')).toBe(true);
    expect(isInformationalFor(v3!, '2.5')).toBe(true);
    expect(isInformationalFor(v3!, '2.6')).toBe(false);
    expect(isInformationalFor(v3!, '0.4')).toBe(true);
    expect(isInformationalFor(v4!, '2.6')).toBe(true);
    expect(isInformationalFor(v5!, '2.6')).toBe(true);
    expect(v5!.enclosure).toBeNull();
    const best = bestItem(a, mac({ installed: '1.0' }));
    expect(best?.version).toBe('5.0');
    expect(isInformationalFor(best!, '1.0')).toBe(true);
  });

  it('testappcast_minimumAutoupdateVersion*.xml: major upgrades below minimumAutoupdateVersion', () => {
    const a = parse('testappcast_minimumAutoupdateVersion.xml');
    expect(bestItem(a, mac({ installed: '1.0' }))?.version).toBe('3.0');
    expect(isMajorUpgradeFor(a.items[0]!, '1.0')).toBe(true);
    expect(isMajorUpgradeFor(a.items[0]!, '2.0')).toBe(false);
    for (const name of ['testappcast_minimumAutoupdateVersionSkipping.xml', 'testappcast_minimumAutoupdateVersionSkipping2.xml']) {
      const s = parse(name);
      expect(s.items).toHaveLength(5);
      const best = bestItem(s, mac({ installed: '2.0' }))!;
      expect(best.version).toBe('4.1');
      expect(isMajorUpgradeFor(best, '2.0')).toBe(true);
    }
  });

  it('testappcast_phasedRollout.xml: phased items wait for the group; critical ones do not', () => {
    const a = parse('testappcast_phasedRollout.xml');
    const pub = a.items[1]!.pubDate!.getTime();
    const justAfter = new Date(pub + 3600_000);
    // Group 0 gets 2.0 at once; group 3 only after 3 days. 3.0 is critical: no waiting.
    expect(eligibleItems(a, mac({ installed: '1.0', rolloutGroup: 3, now: justAfter })).map((i) => i.version)).toEqual(['3.0']);
    expect(eligibleItems(a, mac({ installed: '2.5', rolloutGroup: 3, now: justAfter })).map((i) => i.version)).toEqual(['3.0']);
    const noCritical = { ...a, items: a.items.slice(1) };
    expect(bestItem(noCritical, mac({ installed: '1.0', rolloutGroup: 3, now: justAfter }))).toBeNull();
    expect(bestItem(noCritical, mac({ installed: '1.0', rolloutGroup: 0, now: justAfter }))?.version).toBe('2.0');
    expect(bestItem(noCritical, mac({ installed: '1.0', rolloutGroup: 3, now: new Date(pub + 3 * 86400_000) }))?.version).toBe('2.0');
    expect(rolloutGroupOf('ffffffff000000000000000000000000')).toBe(0xffffffff % 7);
  });

  it('a sparkle:version with a line break, control or invisible characters, or over 128 characters skips its item', () => {
    const item = (v: string) => `<item><title>t</title><sparkle:version>${v}</sparkle:version><enclosure url="https://x.example/a.zip" length="1"/></item>`;
    const xml = `<rss xmlns:sparkle="http://www.andymatuschak.org/xml-namespaces/sparkle"><channel>${item('9\n[error] forged log line')}${item('9\u200b')}${item('9'.repeat(129))}${item('2.0')}</channel></rss>`;
    const a = parseAppcast(xml, BASE);
    expect(a.items.map((i) => i.version)).toEqual(['2.0']);
    expect(a.skipped).toHaveLength(3);
  });

  it('test-dangerous-link.xml: a file:// enclosure refuses the appcast', () => {
    expect(codeOf(() => parse('test-dangerous-link.xml'))).toBe('ERR_INSECURE_URL');
  });

  it('test-links.xml: file:// release-notes links are dropped, https kept', () => {
    const a = parse('test-links.xml');
    expect(a.items).toHaveLength(3);
    expect(a.items[0]!.releaseNotesLink).toBe('https://sparkle-project.org/notes/relnote-3.0.txt');
    expect(a.items[2]!.releaseNotesLink).toBeNull();
    expect(a.items[2]!.fullReleaseNotesLink).toBeNull();
    expect(a.items[2]!.enclosure?.url).toBe('https://sparkle-project.org/release-1.0.zip');
  });

  it('test-relative-urls.xml: links resolve against the appcast URL', () => {
    const a = parse('test-relative-urls.xml');
    expect(a.items[0]!.enclosure?.url).toBe('https://updates.example.com/app/release-3.0.zip');
    expect(a.items[0]!.releaseNotesLink).toBe('https://updates.example.com/app/notes/relnote-3.0.txt');
    expect(a.items[1]!.enclosure).toBeNull();
    expect(a.items[2]!.fullReleaseNotesLink).toBe('https://updates.example.com/app/notes/fullnotes.txt');
  });

  it('testnamespaces.xml: any prefix bound to the Sparkle namespace', () => {
    const a = parse('testnamespaces.xml');
    expect(a.items.map((i) => i.version)).toEqual(['3.0', '2.0']);
    expect(a.items[0]!.releaseNotesLink).toBe('https://sparkle-project.org/#works');
  });

  it('testlocalizedreleasenotesappcast.xml and sparkletestcast.xml parse', () => {
    expect(parse('testlocalizedreleasenotesappcast.xml').items.length).toBeGreaterThan(0);
    expect(parse('sparkletestcast.xml').items).toHaveLength(3);
  });

  it('SampleAppcast.xml: numeric bundle version 241 (shown as 1.4) orders above 2.0', () => {
    const a = parse('SampleAppcast.xml');
    const best = bestItem(a, mac({ installed: '1.0', systemVersion: '10.13' }));
    expect(best?.version).toBe('241');
    expect(best?.displayVersion).toBe('1.4');
    expect(best?.enclosure?.edSignature).toMatch(/^Ody3D/);
    expect(bestItem(a, mac({ installed: '1.0', systemVersion: '10.12' }))).toBeNull();
  });

  it('lunar appcasts: every enclosure carries an edSignature; beta items only on the beta channel; deltas by deltaFrom', () => {
    const stable = parse('lunar_appcast-stable.xml');
    expect(stable.items).toHaveLength(29);
    expect(stable.items.every((i) => i.enclosure?.edSignature && Buffer.from(i.enclosure.edSignature, 'base64').length === 64)).toBe(true);
    const best = bestItem(stable, mac({ installed: '6.10.3', systemVersion: '14.0' }))!;
    expect(best.version).toBe('6.10.4');
    expect(deltaFor(best, '6.10.3')?.url).toBe('https://files.lunar.fyi/deltas/Lunar6.10.4-6.10.3.delta');
    expect(isMajorUpgradeFor(best, '4.9.0')).toBe(true);
    const two = parse('lunar_appcast2.xml');
    expect(two.items).toHaveLength(34);
    const betas = two.items.filter((i) => i.channel === 'beta');
    expect(betas).toHaveLength(5);
    const stableBest = bestItem(two, mac({ installed: '1.0', systemVersion: '14.0' }))!;
    expect(stableBest.channel).toBeNull();
    const betaBest = bestItem(two, mac({ installed: '1.0', systemVersion: '14.0', channels: ['beta'] }))!;
    expect(compareSparkleVersions(betaBest.version, stableBest.version)).toBeGreaterThanOrEqual(0);
    expect(Buffer.from(read('lunar_SUPublicEDKey.txt').toString('utf8').trim(), 'base64')).toHaveLength(32);
  });

  it('edSignature oracle: signed-test-file.txt verifies with SUPublicEDKey; a changed byte or signature does not', async () => {
    const [key] = await loadTrustedKeys(['ed25519:rhHib+w769W2/6/t+oM1ZxgjBB93BfBKMLO0Qo1etQs=']);
    const [lunar] = await loadTrustedKeys([`ed25519:${read('lunar_SUPublicEDKey.txt').toString('utf8').trim()}`]);
    const sig = 'EIawm2YkDZ2gBfkEMF2+1VuuTeXnCGZOdnMdVgPPvDZioq7bvDayXqKkIIzSjKMmeFdcFJOHdnba5ZV60+gPBw==';
    const check = (file: Buffer, s: string, keys = [key!]) => () => requireThreshold([verifyEd25519Signature(file, s, keys)], 1, 'signed-test-file.txt');
    const file = read('signed-test-file.txt');
    expect(check(file, sig)).not.toThrow();
    const changed = Buffer.from(file);
    changed[0] = changed[0]! ^ 1;
    expect(codeOf(check(changed, sig))).toBe('ERR_SIGNATURE_INVALID');
    const badSig = Buffer.from(sig, 'base64');
    badSig[10] = badSig[10]! ^ 0x80;
    expect(codeOf(check(file, badSig.toString('base64')))).toBe('ERR_SIGNATURE_INVALID');
    expect(codeOf(check(file, sig, [lunar!]))).toBe('ERR_SIGNATURE_INVALID');
    expect(codeOf(check(file, 'AAAA'))).toBe('ERR_SIGNATURE_INVALID');
  });
});
