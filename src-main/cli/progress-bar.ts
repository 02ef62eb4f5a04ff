/**
 * Renders progress events: a redrawn bar on a terminal, one line per phase change otherwise,
 * nothing in --json mode (stdout then carries exactly one JSON document).
 */
import type { UpkeepEvent, Progress } from '../../src-shared/api';
import type { CliIO } from './io';
import { formatBytes, formatRate, formatSeconds } from '../../src-shared/format';

const WIDTH = 24;

/** One line of a progress bar, e.g. `[#######.........]  42% Downloading bin/demo 1.2 MiB/3.4 MiB 1.1 MiB/s 3 s left`. */
export function progressLine(p: Progress): string {
  const pct = Math.max(0, Math.min(100, Math.round(p.percent)));
  const filled = Math.round((pct / 100) * WIDTH);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}]`;
  const parts = [`${bar} ${String(pct).padStart(3)}%`, p.message];
  if (p.bytes_total > 0) parts.push(`${formatBytes(p.bytes_done)}/${formatBytes(p.bytes_total)}`);
  if (p.speed_bps > 0) parts.push(formatRate(p.speed_bps));
  if (p.eta_s !== null && p.eta_s > 0) parts.push(`${formatSeconds(p.eta_s)} left`);
  return parts.join(' ');
}

export class ProgressRenderer {
  private lastPhase = '';
  private drawn = false;

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
    } else if (e.type === 'log' && (e.line.level === 'warn' || e.line.level === 'error')) {
      this.done();
      this.io.err(`${e.line.level}: ${e.line.message}`);
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
