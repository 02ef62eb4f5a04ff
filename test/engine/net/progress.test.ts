import { describe, expect, it } from 'vitest';
import { ProgressMeter, type ProgressSample } from '../../../src-main/engine/net/progress';

function meter(total: number, hz?: number) {
  let t = 1_000_000;
  const samples: ProgressSample[] = [];
  const m = new ProgressMeter({ total, ...(hz !== undefined ? { hz } : {}), now: () => t, emit: (s) => samples.push(s) });
  return { m, samples, advance: (ms: number) => (t += ms) };
}

describe('ProgressMeter', () => {
  it('emits at most hz samples per second of (injected) clock time', () => {
    const { m, samples, advance } = meter(1_000_000, 10);
    // 1000 adds, 1 ms apart = one second of clock time.
    for (let i = 0; i < 1000; i++) {
      m.add(100);
      advance(1);
    }
    expect(samples).toHaveLength(10);
    expect(samples.every((s, i) => i === 0 || s.bytes_done > (samples[i - 1]?.bytes_done ?? 0))).toBe(true);
  });

  it('reports speed over the window and an ETA', () => {
    const { m, samples, advance } = meter(10_000, 1);
    for (let i = 0; i < 5; i++) {
      advance(1000);
      m.add(1000); // 1000 B/s
    }
    const last = samples[samples.length - 1];
    expect(last?.bytes_done).toBe(5000);
    expect(last?.speed_bps).toBe(1000);
    expect(last?.eta_s).toBe(5);
  });

  it('ETA is null before anything moved; finish always emits one 100% sample', () => {
    const { m, samples, advance } = meter(500, 2);
    expect(m.snapshot()).toEqual({ bytes_done: 0, bytes_total: 500, speed_bps: 0, eta_s: null });
    m.add(10);
    m.add(10); // throttled
    expect(samples).toHaveLength(1);
    advance(1);
    m.finish();
    m.finish();
    m.add(5);
    expect(samples).toHaveLength(2);
    expect(samples[1]).toMatchObject({ bytes_done: 500, bytes_total: 500, eta_s: 0 });
  });

  it('a negative delta (restart) lowers the count but never below zero', () => {
    const { m, advance } = meter(1000, 100);
    m.add(300);
    advance(100);
    m.add(-300);
    expect(m.snapshot().bytes_done).toBe(0);
    m.add(-50);
    expect(m.snapshot().bytes_done).toBe(0);
    expect(m.snapshot().speed_bps).toBe(0);
  });
});
