/**
 * Whether a file descriptor is a terminal, without loading node:tty when the answer is plainly no:
 * node:tty loads node:net (a few ms of every command line start), while output to a file, a pipe
 * or /dev/null (scripts, cron, benchmarks) is told from one fstat. bin/upkeep.js makes the same
 * check for stderr before the bundle loads.
 */
import { fstatSync, statSync } from 'node:fs';

/** True when `fd` is a terminal (what `tty.isatty(fd)` says); false for a closed descriptor. */
export function isTerminal(fd: number): boolean {
  if (process.platform !== 'win32') {
    try {
      const st = fstatSync(fd);
      // A terminal is a character device; /dev/null is the one such device output commonly goes to.
      if (!st.isCharacterDevice() || st.rdev === statSync('/dev/null').rdev) return false;
    } catch {
      return false;
    }
  }
  return (require('node:tty') as typeof import('node:tty')).isatty(fd);
}
