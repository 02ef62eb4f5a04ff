/**
 * Renders progress events: a redrawn bar on a terminal, one line per phase change otherwise,
 * nothing in --json mode (stdout then carries exactly one JSON document).
 */
import type { UpkeepEvent, Progress } from '../../src-shared/api';
import type { CliIO } from './io';
import { formatBytes, formatRate, formatSeconds, progressLabelPercent } from '../../src-shared/format';

const WIDTH = 24;

/**
 * One line of a progress bar, e.g. `[##########..............]  82% Downloading bin/demo 2.8 MiB/3.4 MiB
 * 1.1 MiB/s 1 s left`: the bar fills with the whole operation's percent; the number beside it is the
 * label's, the same as the dashboard badge's (progressLabelPercent: of the bytes while downloading).
 */
export function progressLine(p: Progress): string {
  const overall = Math.max(0, Math.min(100, Math.round(p.percent)));
  const filled = Math.round((overall / 100) * WIDTH);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}]`;
  const parts = [`${bar} ${String(progressLabelPercent(p)).padStart(3)}%`, p.message];
  if (p.bytes_total > 0) parts.push(`${formatBytes(p.bytes_done)}/${formatBytes(p.bytes_total)}`);
  if (p.speed_bps > 0) parts.push(formatRate(p.speed_bps));
  if (p.eta_s !== null && p.eta_s > 0) parts.push(`${formatSeconds(p.eta_s)} left`);
  return parts.join(' ');
}

/**
 * Draws progress and prints the engine's warnings as they come. Error lines are held until the
 * command ends (`finish`): the command's own error line already says what the engine's error line
 * about the same failure says, so each error is printed once.
 */
export class ProgressRenderer {
  private lastPhase = '';
  private drawn = false;
  private readonly heldErrors: string[] = [];

  constructor(private readonly io: CliIO, private readonly write: (s: string) => void = (s) => process.stderr.write(s)) {}

  onEvent(e: UpkeepEvent): void {
    if (this.io.json) return;
    if (e.type === 'progress') {
      if (this.io.isTTY) {
        const line = progressLine(e.progress).slice(0, (process.stderr.columns || 100) - 1);
        this.write(`\r\x1b[2K${line}`);
        this.drawn = true;
      } else if (e.progress.phase !== this.lastPhase) {
        this.lastPhase = e.progress.phase;
        this.io.err(`${e.progress.phase}: ${e.progress.message}`);
      }
    } else if (e.type === 'log' && e.line.level === 'warn') {
      this.done();
      this.io.err(`warn: ${e.line.message}`);
    } else if (e.type === 'log' && e.line.level === 'error') {
      this.heldErrors.push(e.line.message);
    }
  }

  /**
   * Ends the output of a command: prints held error lines, except those about `failedCode` (the
   * error the command itself reports).
   */
  finish(failedCode?: string): void {
    this.done();
    for (const m of this.heldErrors.splice(0)) {
      if (failedCode && m.includes(`(${failedCode})`)) continue;
      this.io.err(`error: ${m}`);
    }
  }

  /** Ends a drawn bar with a newline. */
  done(): void {
    if (this.drawn) {
      this.write('\n');
      this.drawn = false;
    }
  }
}
