/**
 * Time zone names, kept apart from the zod schemas of ipc-contract.ts so that reading the config
 * (engine/config/schema.ts) does not build the IPC channels' schemas.
 */

/** True for an IANA time zone this runtime knows ("Europe/Berlin", "UTC"). */
export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
