/**
 * Quiet hours for desktop notifications: a daily "HH:MM"–"HH:MM" window in an IANA time zone,
 * during which non-critical notifications are suppressed. Pure functions over an injected instant.
 */

export interface QuietHours {
  /** "HH:MM", 24-hour, local to `timezone`. */
  start: string;
  /** "HH:MM", 24-hour; a window with start > end crosses midnight. */
  end: string;
  /** IANA zone, e.g. "Europe/Berlin". */
  timezone: string;
}

function parseHhmm(s: string): number {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(s);
  if (!m) throw new RangeError(`quiet hours: expected "HH:MM", got ${JSON.stringify(s)}`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/** Minutes since local midnight of `at` in `timezone` (0–1439). Throws RangeError on an unknown zone. */
export function minutesOfDayIn(at: Date, timezone: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: timezone,
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(at);
  const hour = Number(parts.find((p) => p.type === 'hour')?.value ?? NaN);
  const minute = Number(parts.find((p) => p.type === 'minute')?.value ?? NaN);
  if (!Number.isFinite(hour) || !Number.isFinite(minute)) throw new RangeError(`cannot read local time in ${timezone}`);
  return (hour % 24) * 60 + minute;
}

/**
 * True when `at` falls inside the quiet window [start, end) local to its time zone. A window whose
 * start is after its end crosses midnight (22:00–07:00); start == end means no quiet time at all.
 */
export function isWithinQuietHours(qh: QuietHours | null | undefined, at: Date): boolean {
  if (!qh) return false;
  const start = parseHhmm(qh.start);
  const end = parseHhmm(qh.end);
  if (start === end) return false;
  const now = minutesOfDayIn(at, qh.timezone || 'UTC');
  return start < end ? now >= start && now < end : now >= start || now < end;
}
