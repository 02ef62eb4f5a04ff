/**
 * The command line's progress bar: the bar fills with the whole operation's percent, and the
 * number beside it is the label's, the same the dashboard badge and the tray show — while
 * downloading, the share of the bytes in ("82%" when 82 % of the bytes are in and the apply as a
 * whole is at 42 %).
 */
import { describe, expect, it } from 'vitest';
import type { Progress } from '../../src-shared/api';
import { progressLine } from '../../src-main/cli/progress-bar';
import { statusLabel } from '../../src-renderer/status';

const MIB = 1024 * 1024;
const progress = (o: Partial<Progress>): Progress => ({
  operation_id: 'op-1', phase: 'download', message: 'Downloading bin/demo', bytes_done: 0, bytes_total: 0, speed_bps: 0, eta_s: null,
  files_done: 0, files_total: 1, percent: 0, cancellable: true, ...o,
});

describe('progress line', () => {
  it('while downloading: the bar at the apply\'s 42 %, the number at the bytes\' 82 %, as the badge says', () => {
    const p = progress({ percent: 42, bytes_done: 82 * MIB, bytes_total: 100 * MIB });
    const line = progressLine(p);
    expect(line).toBe(`[${'#'.repeat(10)}${'.'.repeat(14)}]  82% Downloading bin/demo 82 MiB/100 MiB`);
    expect(statusLabel({ kind: 'downloading', version: '1.1.0', progress: p })).toBe('Downloading 82%');
  });

  it('in other phases the number is the whole operation\'s percent', () => {
    expect(progressLine(progress({ phase: 'switch', message: 'Switching bin/demo', percent: 80 }))).toBe(`[${'#'.repeat(19)}${'.'.repeat(5)}]  80% Switching bin/demo`);
  });
});
