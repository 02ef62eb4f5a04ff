/**
 * Human formatting of dates, times and versions for the renderer. Sizes, rates and durations come
 * from src-shared/format.ts, the one formatter the UI, the tray and the command line share.
 */

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

/** "v1.2.3" style display of a version, "—" for unknown. */
export function formatVersion(version: string | null | undefined): string {
  return version ? version : '—';
}
