import { afterEach, describe, expect, it, vi } from 'vitest';
import { BufferReclaim, RECLAIM_EVERY } from '../../../src-main/engine/net/buffer-reclaim';

const g = globalThis as { gc?: unknown };
const had = g.gc;
afterEach(() => {
  g.gc = had;
});

describe('BufferReclaim', () => {
  it('asks V8 for a young-generation collection once per RECLAIM_EVERY bytes counted, not before', () => {
    const gc = vi.fn();
    g.gc = gc; // the collector is looked up on the first collection
    const r = new BufferReclaim();
    r.count(RECLAIM_EVERY - 1);
    expect(gc).not.toHaveBeenCalled();
    r.count(1);
    expect(gc).toHaveBeenCalledTimes(1);
    expect(gc).toHaveBeenCalledWith({ type: 'minor' });
    for (let i = 0; i < 4; i++) r.count(RECLAIM_EVERY / 2);
    expect(gc).toHaveBeenCalledTimes(3);
  });
});
