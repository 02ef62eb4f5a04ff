/**
 * Maintenance windows: days + start/end time in a time zone. Pure functions over a Date.
 * A window whose end is before its start crosses midnight and belongs to the day it starts on.
 */
import type { MaintenanceWindow } from '../../src-shared/api';

const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** Weekday (mon…sun) and minutes since midnight of `now` in `timeZone`. */
export function localTime(now: Date, timeZone: string): { day: string; minutes: number } {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(now);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  const day = get('weekday').toLowerCase().slice(0, 3);
  return { day, minutes: Number(get('hour')) * 60 + Number(get('minute')) };
}

function toMinutes(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

/** True when `now` falls inside the window (no window = always). */
export function inMaintenanceWindow(now: Date, w: MaintenanceWindow | null): boolean {
  if (!w) return true;
  const { day, minutes } = localTime(now, w.timezone || 'UTC');
  const start = toMinutes(w.start);
  const end = toMinutes(w.end);
  const dayOk = (d: string) => w.days.length === 0 || (w.days as string[]).includes(d);
  if (start === end) return dayOk(day); // a whole-day window
  if (start < end) return dayOk(day) && minutes >= start && minutes < end;
  // Crosses midnight: the late part belongs to today, the early part to yesterday's window.
  const yesterday = DAY_NAMES[(DAY_NAMES.indexOf(day) + 6) % 7]!;
  return (minutes >= start && dayOk(day)) || (minutes < end && dayOk(yesterday));
}
