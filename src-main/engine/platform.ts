/**
 * The platform and architecture names of the feed format for this machine.
 */
/** Feed platform name (`linux`, `darwin`, `win32`) of this process, unless overridden. */
export function currentPlatform(override?: string): string {
  return override ?? process.platform;
}

/** Feed arch name (`x64`, `arm64`) of this process, unless overridden. */
export function currentArch(override?: string): string {
  return override ?? process.arch;
}
