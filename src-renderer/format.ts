/**
 * Human formatting of dates, times and versions for the renderer. Sizes, rates and durations come
 * from src-shared/format.ts, the one formatter the UI, the tray and the command line share.
 */
import type { TargetView } from '../src-shared/api';

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const timeOnly = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });

/** Local date and time ("12 Mar 2025, 14:03"), or the raw text when it is not a date. */
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateTime.format(d);
}

/** When a target was last checked: the local date and time, or "Never". */
export function formatLastChecked(iso: string | null | undefined): string {
  return iso ? formatDateTime(iso) : 'Never';
}

/** Local time of day with seconds, for log lines. */
export function formatTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : timeOnly.format(d);
}

/**
 * The installed version of a target as screens show it: the version, "unknown" when the target's
 * state files cannot be read (its error is a corrupt state file, ERR_STATE_CORRUPT with
 * `details.file`: installed.json may be what failed, so "nothing installed" would be a guess),
 * else "—" (nothing installed). The command line says the same ("unknown").
 */
export function formatInstalledVersion(target: Pick<TargetView, 'current_version' | 'last_error'>): string {
  if (target.current_version) return target.current_version;
  const e = target.last_error;
  return e?.code === 'ERR_STATE_CORRUPT' && typeof e.details?.file === 'string' ? 'unknown' : '—';
}
