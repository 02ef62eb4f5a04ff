/**
 * Maintenance windows: days, windows crossing midnight (which belong to the day they start on)
 * and IANA time zones with daylight saving time.
 */
import { describe, it, expect } from 'vitest';
import { inMaintenanceWindow, localTime } from '../../src-main/engine/maintenance-window';
import type { MaintenanceWindow } from '../../src-shared/api';

const at = (iso: string) => new Date(iso);
const w = (o: Partial<MaintenanceWindow>): MaintenanceWindow => ({ days: [], start: '02:00', end: '04:00', timezone: 'UTC', ...o });

describe('localTime', () => {
  it('gives weekday and minutes in the zone', () => {
    // 2026-01-05 is a Monday; 23:30 UTC is already Tuesday 00:30 in Berlin (UTC+1 in winter).
    expect(localTime(at('2026-01-05T23:30:00Z'), 'UTC')).toEqual({ day: 'mon', minutes: 23 * 60 + 30 });
    expect(localTime(at('2026-01-05T23:30:00Z'), 'Europe/Berlin')).toEqual({ day: 'tue', minutes: 30 });
    expect(localTime(at('2026-01-05T00:00:00Z'), 'UTC')).toEqual({ day: 'mon', minutes: 0 });
  });
});

describe('inMaintenanceWindow', () => {
  it('no window means always', () => {
    expect(inMaintenanceWindow(at('2026-01-05T12:00:00Z'), null)).toBe(true);
  });

  it('a same-day window includes its start and excludes its end', () => {
    const win = w({ start: '02:00', end: '04:00' });
    expect(inMaintenanceWindow(at('2026-01-05T01:59:00Z'), win)).toBe(false);
    expect(inMaintenanceWindow(at('2026-01-05T02:00:00Z'), win)).toBe(true);
    expect(inMaintenanceWindow(at('2026-01-05T03:59:00Z'), win)).toBe(true);
    expect(inMaintenanceWindow(at('2026-01-05T04:00:00Z'), win)).toBe(false);
  });

  it('honours the listed days', () => {
    const win = w({ days: ['sat', 'sun'] });
    expect(inMaintenanceWindow(at('2026-01-05T03:00:00Z'), win)).toBe(false); // Monday
    expect(inMaintenanceWindow(at('2026-01-10T03:00:00Z'), win)).toBe(true); // Saturday
    expect(inMaintenanceWindow(at('2026-01-11T03:00:00Z'), win)).toBe(true); // Sunday
  });

  it('a window crossing midnight belongs to the day it starts on', () => {
    const win = w({ days: ['sat'], start: '23:00', end: '02:00' });
    expect(inMaintenanceWindow(at('2026-01-10T23:30:00Z'), win)).toBe(true); // Sat 23:30
    expect(inMaintenanceWindow(at('2026-01-11T01:30:00Z'), win)).toBe(true); // Sun 01:30, still Saturday's window
    expect(inMaintenanceWindow(at('2026-01-11T02:00:00Z'), win)).toBe(false); // Sun 02:00, closed
    expect(inMaintenanceWindow(at('2026-01-10T01:30:00Z'), win)).toBe(false); // Sat 01:30 belongs to Friday's window
    expect(inMaintenanceWindow(at('2026-01-11T23:30:00Z'), win)).toBe(false); // Sun 23:30, not a listed day
    expect(inMaintenanceWindow(at('2026-01-10T22:59:00Z'), win)).toBe(false);
  });

  it('a window with start == end spans the whole listed day', () => {
    const win = w({ days: ['mon'], start: '00:00', end: '00:00' });
    expect(inMaintenanceWindow(at('2026-01-05T13:00:00Z'), win)).toBe(true);
    expect(inMaintenanceWindow(at('2026-01-06T13:00:00Z'), win)).toBe(false);
  });

  it('reads times in the window\'s zone, across daylight saving time (Europe/Berlin)', () => {
    const win = w({ days: ['mon'], start: '02:00', end: '04:00', timezone: 'Europe/Berlin' });
    // Winter: UTC+1, so 02:00–04:00 Berlin is 01:00–03:00 UTC.
    expect(inMaintenanceWindow(at('2026-01-05T00:30:00Z'), win)).toBe(false);
    expect(inMaintenanceWindow(at('2026-01-05T01:00:00Z'), win)).toBe(true);
    expect(inMaintenanceWindow(at('2026-01-05T02:59:00Z'), win)).toBe(true);
    expect(inMaintenanceWindow(at('2026-01-05T03:00:00Z'), win)).toBe(false);
    // Summer: UTC+2, so 02:00–04:00 Berlin is 00:00–02:00 UTC.
    expect(inMaintenanceWindow(at('2026-07-06T00:00:00Z'), win)).toBe(true);
    expect(inMaintenanceWindow(at('2026-07-06T02:30:00Z'), win)).toBe(false);
    // The Berlin day decides: Sunday 23:30 UTC in summer is Monday 01:30 Berlin — before the window.
    expect(inMaintenanceWindow(at('2026-07-05T23:30:00Z'), win)).toBe(false);
    expect(inMaintenanceWindow(at('2026-07-06T00:30:00Z'), win)).toBe(true);
  });

  it('a Berlin window crossing midnight, seen from UTC', () => {
    const win = w({ days: ['fri'], start: '22:00', end: '01:00', timezone: 'Europe/Berlin' });
    // Friday 2026-01-09 22:30 Berlin = 21:30 UTC; Saturday 00:30 Berlin = Friday 23:30 UTC.
    expect(inMaintenanceWindow(at('2026-01-09T21:30:00Z'), win)).toBe(true);
    expect(inMaintenanceWindow(at('2026-01-09T23:30:00Z'), win)).toBe(true);
    expect(inMaintenanceWindow(at('2026-01-10T00:30:00Z'), win)).toBe(false); // Saturday 01:30 Berlin
    expect(inMaintenanceWindow(at('2026-01-09T20:30:00Z'), win)).toBe(false); // Friday 21:30 Berlin
  });
});
