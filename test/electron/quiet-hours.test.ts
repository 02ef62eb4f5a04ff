import { describe, it, expect } from 'vitest';
import { isWithinQuietHours, minutesOfDayIn } from '../../src-main/electron/quiet-hours';

const at = (iso: string) => new Date(iso);

describe('quiet hours', () => {
  it('reads local time in a zone, with daylight saving', () => {
    expect(minutesOfDayIn(at('2025-01-15T12:30:00Z'), 'UTC')).toBe(12 * 60 + 30);
    expect(minutesOfDayIn(at('2025-01-15T12:30:00Z'), 'Europe/Berlin')).toBe(13 * 60 + 30); // CET
    expect(minutesOfDayIn(at('2025-07-15T12:30:00Z'), 'Europe/Berlin')).toBe(14 * 60 + 30); // CEST
    expect(minutesOfDayIn(at('2025-01-15T03:00:00Z'), 'America/New_York')).toBe(22 * 60);
  });

  it('handles a window inside one day, end exclusive', () => {
    const qh = { start: '12:00', end: '14:00', timezone: 'UTC' };
    expect(isWithinQuietHours(qh, at('2025-01-15T11:59:00Z'))).toBe(false);
    expect(isWithinQuietHours(qh, at('2025-01-15T12:00:00Z'))).toBe(true);
    expect(isWithinQuietHours(qh, at('2025-01-15T13:59:00Z'))).toBe(true);
    expect(isWithinQuietHours(qh, at('2025-01-15T14:00:00Z'))).toBe(false);
  });

  it('handles a window crossing midnight', () => {
    const qh = { start: '22:00', end: '07:00', timezone: 'UTC' };
    expect(isWithinQuietHours(qh, at('2025-01-15T21:59:00Z'))).toBe(false);
    expect(isWithinQuietHours(qh, at('2025-01-15T22:00:00Z'))).toBe(true);
    expect(isWithinQuietHours(qh, at('2025-01-15T23:59:00Z'))).toBe(true);
    expect(isWithinQuietHours(qh, at('2025-01-16T00:00:00Z'))).toBe(true);
    expect(isWithinQuietHours(qh, at('2025-01-16T06:59:00Z'))).toBe(true);
    expect(isWithinQuietHours(qh, at('2025-01-16T07:00:00Z'))).toBe(false);
    expect(isWithinQuietHours(qh, at('2025-01-16T12:00:00Z'))).toBe(false);
  });

  it('evaluates the window in its own time zone', () => {
    const qh = { start: '22:00', end: '07:00', timezone: 'Asia/Tokyo' }; // UTC+9, no DST
    expect(isWithinQuietHours(qh, at('2025-01-15T13:30:00Z'))).toBe(true); // 22:30 in Tokyo
    expect(isWithinQuietHours(qh, at('2025-01-15T12:30:00Z'))).toBe(false); // 21:30 in Tokyo
    expect(isWithinQuietHours(qh, at('2025-01-15T21:30:00Z'))).toBe(true); // 06:30 next day in Tokyo
    expect(isWithinQuietHours({ ...qh, timezone: 'UTC' }, at('2025-01-15T13:30:00Z'))).toBe(false);
  });

  it('treats no window and an empty window as never quiet; rejects bad input', () => {
    expect(isWithinQuietHours(null, at('2025-01-15T23:00:00Z'))).toBe(false);
    expect(isWithinQuietHours({ start: '08:00', end: '08:00', timezone: 'UTC' }, at('2025-01-15T08:00:00Z'))).toBe(false);
    expect(() => isWithinQuietHours({ start: '8:00', end: '09:00', timezone: 'UTC' }, new Date())).toThrow(RangeError);
    expect(() => isWithinQuietHours({ start: '08:00', end: '09:00', timezone: 'Mars/Olympus' }, new Date())).toThrow(RangeError);
  });
});
