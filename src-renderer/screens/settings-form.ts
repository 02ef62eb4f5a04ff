/**
 * The settings form's model: values derived from a target's policy, validation, and the minimal
 * SettingsPatch (only what changed). Pure functions, tested without a DOM.
 */
import type { AutoApply, MaintenanceWindow, SettingsPatch, TargetPolicy } from '../../src-shared/api';

export const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export const DAY_LABELS: Record<(typeof DAYS)[number], string> = {
  mon: 'Monday',
  tue: 'Tuesday',
  wed: 'Wednesday',
  thu: 'Thursday',
  fri: 'Friday',
  sat: 'Saturday',
  sun: 'Sunday',
};

export type ScheduleMode = 'interval' | 'cron' | 'manual';
export type IntervalUnit = 'minutes' | 'hours';

export interface SettingsValues {
  channel: string;
  scheduleMode: ScheduleMode;
  cron: string;
  intervalValue: string;
  intervalUnit: IntervalUnit;
  windowEnabled: boolean;
  days: string[];
  start: string;
  end: string;
  timezone: string;
  autoDownload: boolean;
  autoApply: AutoApply;
}

export type SettingsErrors = Partial<Record<keyof SettingsValues, string>>;

const UNIT_SECONDS: Record<IntervalUnit, number> = { minutes: 60, hours: 3600 };

/** Form values showing `policy`. */
export function valuesFromPolicy(policy: TargetPolicy): SettingsValues {
  const interval = policy.check_interval_s;
  const hours = interval !== null && interval % 3600 === 0;
  const win = policy.maintenance_window;
  return {
    channel: policy.channel,
    scheduleMode: policy.check_schedule ? 'cron' : interval ? 'interval' : 'manual',
    cron: policy.check_schedule ?? '',
    intervalValue: interval ? String(hours ? interval / 3600 : interval / 60) : '6',
    intervalUnit: interval ? (hours ? 'hours' : 'minutes') : 'hours',
    windowEnabled: win !== null,
    days: win ? [...win.days] : [],
    start: win?.start ?? '02:00',
    end: win?.end ?? '05:00',
    timezone: win?.timezone ?? 'UTC',
    autoDownload: policy.auto_download,
    autoApply: policy.auto_apply,
  };
}

function validTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Field errors of the form (empty when it can be saved). */
export function validateSettings(v: SettingsValues): SettingsErrors {
  const errors: SettingsErrors = {};
  if (v.channel.trim() === '') errors.channel = 'Enter a channel, e.g. stable.';
  else if (v.channel.trim().length > 64) errors.channel = 'At most 64 characters.';
  if (v.scheduleMode === 'cron') {
    const fields = v.cron.trim().split(/\s+/).filter(Boolean);
    if (fields.length < 5 || fields.length > 6) errors.cron = 'Enter a cron expression with 5 or 6 fields, e.g. "0 */6 * * *".';
  }
  if (v.scheduleMode === 'interval') {
    const n = Number(v.intervalValue);
    if (!Number.isFinite(n) || n <= 0) errors.intervalValue = 'Enter a number greater than 0.';
    else if (n * UNIT_SECONDS[v.intervalUnit] < 60) errors.intervalValue = 'Check at most once a minute.';
  }
  if (v.windowEnabled) {
    if (!/^([01]\d|2[0-3]):[0-5]\d$/.test(v.start)) errors.start = 'Use the 24-hour form HH:MM.';
    if (!/^([01]\d|2[0-3]):[0-5]\d$/.test(v.end)) errors.end = 'Use the 24-hour form HH:MM.';
    if (v.timezone.trim() === '' || !validTimeZone(v.timezone.trim())) errors.timezone = 'Enter an IANA time zone, e.g. Europe/Berlin.';
  }
  return errors;
}

function windowOf(v: SettingsValues): MaintenanceWindow | null {
  if (!v.windowEnabled) return null;
  const days = DAYS.filter((d) => v.days.includes(d));
  return { days, start: v.start, end: v.end, timezone: v.timezone.trim() };
}

function sameWindow(a: MaintenanceWindow | null, b: MaintenanceWindow | null): boolean {
  if (a === null || b === null) return a === b;
  const norm = (w: MaintenanceWindow) => JSON.stringify([DAYS.filter((d) => w.days.includes(d)), w.start, w.end, w.timezone]);
  return norm(a) === norm(b);
}

/** The patch that turns `policy` into the form's values: only changed fields. */
export function buildSettingsPatch(policy: TargetPolicy, v: SettingsValues): SettingsPatch {
  const patch: SettingsPatch = {};
  const channel = v.channel.trim();
  if (channel !== policy.channel) patch.channel = channel;

  let schedule: string | null = null;
  let interval: number | null = null;
  if (v.scheduleMode === 'cron') schedule = v.cron.trim().replace(/\s+/g, ' ');
  if (v.scheduleMode === 'interval') interval = Math.round(Number(v.intervalValue) * UNIT_SECONDS[v.intervalUnit]);
  if (schedule !== policy.check_schedule) patch.check_schedule = schedule;
  if (interval !== policy.check_interval_s) patch.check_interval_s = interval;

  const win = windowOf(v);
  if (!sameWindow(win, policy.maintenance_window)) patch.maintenance_window = win;
  if (v.autoDownload !== policy.auto_download) patch.auto_download = v.autoDownload;
  if (v.autoApply !== policy.auto_apply) patch.auto_apply = v.autoApply;
  return patch;
}

/** ISO time one hour after `now`. */
export function pauseOneHour(now: Date): string {
  return new Date(now.getTime() + 3600_000).toISOString();
}

/** ISO time of the next local midnight after `now` ("until tomorrow"). */
export function pauseUntilTomorrow(now: Date): string {
  const d = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1, 0, 0, 0, 0);
  return d.toISOString();
}
