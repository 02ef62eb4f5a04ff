import { describe, it, expect, vi, beforeEach } from 'vitest';

// What the preload sees of Electron: a contextBridge recording what is exposed, and an
// ipcRenderer that records invokes and delivers events like the real one (event first).
const { exposed, invokes, listeners } = vi.hoisted(() => ({
  exposed: new Map<string, unknown>(),
  invokes: [] as { channel: string; args: unknown[] }[],
  listeners: new Map<string, Set<(event: unknown, ...args: unknown[]) => void>>(),
}));

vi.mock('electron', () => ({
  contextBridge: {
    exposeInMainWorld: (key: string, api: unknown) => {
      exposed.set(key, api);
    },
  },
  ipcRenderer: {
    invoke: async (channel: string, ...args: unknown[]) => {
      invokes.push({ channel, args });
      return { ok: true, value: channel };
    },
    on: (channel: string, l: (event: unknown, ...args: unknown[]) => void) => {
      if (!listeners.has(channel)) listeners.set(channel, new Set());
      listeners.get(channel)!.add(l);
    },
    removeListener: (channel: string, l: (event: unknown, ...args: unknown[]) => void) => {
      listeners.get(channel)?.delete(l);
    },
  },
}));

import { EVENT_CHANNEL, IPC_PREFIX, type UpkeepBridge } from '../../src-shared/ipc-contract';
import type { UpkeepEvent } from '../../src-shared/api';
// Loading the preload runs it: it exposes the bridge through the mocked contextBridge.
import '../../src-main/electron/preload';

async function loadBridge(): Promise<UpkeepBridge> {
  return exposed.get('upkeep') as UpkeepBridge;
}

beforeEach(() => {
  invokes.length = 0;
});

describe('preload bridge', () => {
  it('exposes exactly one object, window.upkeep, with exactly invoke and onEvent', async () => {
    const bridge = await loadBridge();
    expect([...exposed.keys()]).toEqual(['upkeep']);
    expect(Object.keys(bridge).sort()).toEqual(['invoke', 'onEvent']);
    expect(typeof bridge.invoke).toBe('function');
    expect(typeof bridge.onEvent).toBe('function');
    expect(Object.isFrozen(bridge)).toBe(true);
  });

  it('prefixes request channels and passes the arguments through', async () => {
    const bridge = await loadBridge();
    const r = await bridge.invoke('apply', 'demo', { version: '1.2.0' });
    expect(r).toEqual({ ok: true, value: `${IPC_PREFIX}apply` });
    await bridge.invoke('listTargets');
    expect(invokes).toEqual([
      { channel: 'upkeep:apply', args: ['demo', { version: '1.2.0' }] },
      { channel: 'upkeep:listTargets', args: [] },
    ]);
  });

  it('delivers events from the event channel without the raw IPC event, until unsubscribed', async () => {
    const bridge = await loadBridge();
    const got: unknown[][] = [];
    const off = bridge.onEvent((...a: unknown[]) => void got.push(a));
    const ev: UpkeepEvent = { type: 'log', line: { at: '2025-01-01T00:00:00Z', level: 'info', message: 'hello' } };
    const sender = { sender: 'ipc-internals' };
    expect(EVENT_CHANNEL).toBe('upkeep:event');
    for (const l of listeners.get(EVENT_CHANNEL) ?? []) l(sender, ev);
    expect(got).toEqual([[ev]]);
    off();
    expect(listeners.get(EVENT_CHANNEL)?.size ?? 0).toBe(0);
    for (const l of listeners.get(EVENT_CHANNEL) ?? []) l(sender, ev);
    expect(got).toHaveLength(1);
  });
});
