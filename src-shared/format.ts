/**
 * The one human formatting of sizes, transfer rates and durations, shared by the renderer, the
 * tray and the command line so that every surface says the same thing about the same number.
 *
 * Sizes use binary (IEC 80000-13) units and say so: 1 KiB = 1024 B, "MiB", "GiB", "MiB/s". Numbers
 * are written with `Intl.NumberFormat` (no grouping, trailing fraction zeros dropped, integer
 * zeros kept: 150 MiB stays "150 MiB"). Pure functions: no DOM, no Node built-ins.
 */

/** Binary unit names, each 1024 times the previous. */
export const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** Locale of every formatted number unless a caller passes another one. */
export const DEFAULT_LOCALE = 'en-US';

const numberFormats = new Map<string, Intl.NumberFormat>();

/** A cached `Intl.NumberFormat` without grouping and with at most `fraction` fraction digits. */
function numberFormat(locale: string, fraction: number): Intl.NumberFormat {
  const key = `${locale}|${fraction}`;
  let nf = numberFormats.get(key);
  if (!nf) {
    nf = new Intl.NumberFormat(locale, { maximumFractionDigits: fraction, minimumFractionDigits: 0, useGrouping: false });
    numberFormats.set(key, nf);
  }
  return nf;
}

/** Fraction digits for a value of 1–1023 in its unit: about three significant digits. */
function fractionDigitsFor(value: number): number {
  return value >= 100 ? 0 : value >= 10 ? 1 : 2;
}

/**
 * A byte count for people: "0 B", "512 B", "1.5 KiB", "150 MiB", "2.25 GiB" — the largest binary
 * unit that keeps the number at 1 or above, about three significant digits, trailing fraction zeros
 * dropped. Values that round up to 1024 move to the next unit ("1 MiB", not "1024 KiB").
 * Returns "—" for a negative, NaN or infinite input.
 */
export function formatBytes(bytes: number, locale: string = DEFAULT_LOCALE): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  let unit = 0;
  let value = bytes;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${numberFormat(locale, 0).format(Math.round(value))} B`;
  let fraction = fractionDigitsFor(value);
  // Rounding may carry into the next unit (1023.7 KiB -> "1024 KiB"); say "1 MiB" instead.
  if (Number(value.toFixed(fraction)) >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
    fraction = fractionDigitsFor(value);
  }
  return `${numberFormat(locale, fraction).format(value)} ${BYTE_UNITS[unit]}`;
}

/**
 * A transfer rate in bytes per second: "2.5 MiB/s", "100 MiB/s". Returns "—" when the rate is
 * unknown (0, negative, NaN or infinite), as engines report 0 before they can measure.
 */
export function formatRate(bytesPerSecond: number, locale: string = DEFAULT_LOCALE): string {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond <= 0) return '—';
  return `${formatBytes(bytesPerSecond, locale)}/s`;
}

/**
 * Whole seconds for people: "45 s", "3 min 5 s", "2 h 10 min" (rounded to the second). Returns "—"
 * for null, undefined, negative or non-finite input (an unknown time left).
 */
export function formatSeconds(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 === 0 ? `${m} min` : `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  return m % 60 === 0 ? `${h} h` : `${h} h ${m % 60} min`;
}

/**
 * An operation's duration given in milliseconds: tenths of a second below a minute ("0.4 s",
 * "4.2 s", "12 s"), "< 0.1 s" for a non-zero duration that rounds to nothing, then as
 * `formatSeconds` ("1 min 5 s"). Returns "—" for null, undefined, negative or non-finite input.
 */
export function formatDuration(ms: number | null | undefined, locale: string = DEFAULT_LOCALE): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 59_950) {
    const tenths = Math.round(ms / 100) / 10;
    if (tenths === 0 && ms > 0) return `< ${numberFormat(locale, 1).format(0.1)} s`;
    return `${numberFormat(locale, 1).format(tenths)} s`;
  }
  return formatSeconds(ms / 1000);
}

/** The one sentence every UI uses for a release a staged rollout holds back from this machine. */
export function rolloutPendingText(version: string): string {
  return `${version} is rolling out; this machine is not yet in it`;
}

/** The one sentence every UI uses for the version held after a manual rollback. */
export function heldVersionText(version: string): string {
  return `${version} held after rollback; apply it explicitly to install`;
}

/**
 * The percent a progress label shows, as a whole number 0–100 ("Downloading 82%" on the dashboard's
 * badge, in the tray's tooltip, and beside the command line's bar): in the download phase the share
 * of the bytes downloaded so far (`bytes_done / bytes_total`), which is what "Downloading N%" says
 * to a reader; otherwise `percent`, the whole operation's (download and install share one bar, so
 * an apply's download ends near 50 %). Progress bars keep `percent`.
 */
export function progressLabelPercent(p: { phase: string; percent: number; bytes_done: number; bytes_total: number }): number {
  const value = p.phase === 'download' && p.bytes_total > 0 ? (p.bytes_done / p.bytes_total) * 100 : p.percent;
  // Never "100%" while bytes are still missing (99.6 % of the bytes says 99 %).
  const cap = p.phase === 'download' && p.bytes_done < p.bytes_total ? 99 : 100;
  return Number.isFinite(value) ? Math.max(0, Math.min(cap, Math.round(value))) : 0;
}
