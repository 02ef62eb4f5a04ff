import { describe, expect, it } from 'vitest';
import { BYTE_UNITS, formatBytes, formatDuration, formatRate, formatSeconds } from '../../src-shared/format';

const KiB = 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

/** The expected text, computed independently: Intl with explicit digits, then the unit. */
function expected(value: number, fractionDigits: number, unit: string, locale = 'en-US'): string {
  return `${new Intl.NumberFormat(locale, { maximumFractionDigits: fractionDigits, useGrouping: false }).format(value)} ${unit}`;
}

describe('formatBytes', () => {
  // [bytes, value in its unit, fraction digits, unit]
  const table: Array<[number, number, number, string]> = [
    [0, 0, 0, 'B'],
    [1, 1, 0, 'B'],
    [512, 512, 0, 'B'],
    [1023, 1023, 0, 'B'],
    [1024, 1, 2, 'KiB'],
    [1536, 1.5, 2, 'KiB'],
    [10 * KiB, 10, 1, 'KiB'],
    [100 * KiB, 100, 0, 'KiB'],
    [150 * MiB, 150, 0, 'MiB'],
    [100 * MiB, 100, 0, 'MiB'],
    [120 * MiB, 120, 0, 'MiB'],
    [200 * MiB, 200, 0, 'MiB'],
    [145 * MiB, 145, 0, 'MiB'],
    [40 * MiB, 40, 1, 'MiB'],
    [2.25 * MiB, 2.25, 2, 'MiB'],
    [10.5 * MiB, 10.5, 1, 'MiB'],
    [1000 * MiB, 1000, 0, 'MiB'],
    [5 * GiB, 5, 2, 'GiB'],
    [1.2 * 1024 * GiB, 1.2, 2, 'TiB'],
  ];
  it.each(table)('%d bytes is %d %s', (bytes, value, digits, unit) => {
    expect(formatBytes(bytes)).toBe(expected(value, digits, unit));
  });

  it('keeps the zeros of whole numbers (150 MiB is not "15 MiB")', () => {
    expect(formatBytes(150 * MiB)).toBe('150 MiB');
    expect(formatBytes(100 * MiB)).toBe('100 MiB');
    expect(formatBytes(10 * MiB)).toBe('10 MiB');
    expect(formatBytes(20 * KiB)).toBe('20 KiB');
    expect(formatBytes(1020 * KiB)).toBe('1020 KiB');
    expect(`${formatBytes(145 * MiB)} of ${formatBytes(150 * MiB)}`).toBe('145 MiB of 150 MiB');
  });

  it('drops trailing fraction zeros only', () => {
    expect(formatBytes(1.5 * KiB)).toBe('1.5 KiB');
    expect(formatBytes(1.1 * MiB)).toBe('1.1 MiB');
    expect(formatBytes(2 * GiB)).toBe('2 GiB');
  });

  it('moves to the next unit when rounding reaches 1024', () => {
    expect(formatBytes(1023.7 * KiB)).toBe('1 MiB');
    expect(formatBytes(MiB - 1)).toBe('1 MiB');
  });

  it('labels every unit as binary', () => {
    expect(BYTE_UNITS).toEqual(['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']);
    for (let i = 1; i < BYTE_UNITS.length; i++) expect(formatBytes(3 * 1024 ** i)).toBe(`3 ${BYTE_UNITS[i]}`);
    expect(formatBytes(3 * MiB)).not.toMatch(/\bMB\b/);
  });

  it('follows the locale given, as Intl does', () => {
    expect(formatBytes(1.5 * KiB, 'de-DE')).toBe(expected(1.5, 2, 'KiB', 'de-DE'));
    expect(formatBytes(1.5 * KiB, 'de-DE')).toBe('1,5 KiB');
    expect(formatBytes(1000 * MiB, 'de-DE')).toBe('1000 MiB');
  });

  it('says "—" for impossible sizes', () => {
    expect(formatBytes(-1)).toBe('—');
    expect(formatBytes(Number.NaN)).toBe('—');
    expect(formatBytes(Number.POSITIVE_INFINITY)).toBe('—');
  });
});

describe('formatRate', () => {
  it('is the size per second, "—" while unknown', () => {
    expect(formatRate(100 * MiB)).toBe('100 MiB/s');
    expect(formatRate(4 * MiB)).toBe(`${expected(4, 2, 'MiB')}/s`);
    expect(formatRate(2.5 * MiB)).toBe('2.5 MiB/s');
    expect(formatRate(512)).toBe('512 B/s');
    expect(formatRate(0)).toBe('—');
    expect(formatRate(Number.NaN)).toBe('—');
  });
});

describe('durations', () => {
  it('shows sub-second operations in tenths of a second, never "0s"', () => {
    expect(formatDuration(400)).toBe('0.4 s');
    expect(formatDuration(850)).toBe('0.9 s');
    expect(formatDuration(4200)).toBe('4.2 s');
    expect(formatDuration(12_000)).toBe('12 s');
    expect(formatDuration(0)).toBe('0 s');
    expect(formatDuration(30)).toBe('< 0.1 s');
    expect(formatDuration(65_000)).toBe('1 min 5 s');
    expect(formatDuration(59_990)).toBe('1 min');
    expect(formatDuration(null)).toBe('—');
    expect(formatDuration(-5)).toBe('—');
  });

  it('shows whole seconds for times left', () => {
    expect(formatSeconds(45)).toBe('45 s');
    expect(formatSeconds(185)).toBe('3 min 5 s');
    expect(formatSeconds(3725)).toBe('1 h 2 min');
    expect(formatSeconds(7200)).toBe('2 h');
    expect(formatSeconds(null)).toBe('—');
  });
});
