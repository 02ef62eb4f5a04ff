// @vitest-environment jsdom
import { describe, it, expect, afterEach } from 'vitest';
import { ApiError, type UpkeepEvent } from '../../src-shared/api';
import type { IpcResponse, UpkeepBridge } from '../../src-shared/ipc-contract';
import { createIpcApi, unwrapIpc } from '../../src-renderer/api/ipc-api';
import { chooseApi } from '../../src-renderer/api/choose-api';

function fakeBridge(answer: (channel: string, args: unknown[]) => IpcResponse<unknown> | Promise<IpcResponse<unknown>>) {
  const calls: Array<[string, unknown[]]> = [];
  const listeners = new Set<(e: UpkeepEvent) => void>();
  const bridge = {
    invoke: async (channel: string, ...args: unknown[]) => {
      calls.push([channel, args]);
      return answer(channel, args);
    },
    onEvent: (l: (e: UpkeepEvent) => void) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  } as unknown as UpkeepBridge;
  return { bridge, calls, listeners };
}

describe('IPC api', () => {
  afterEach(() => {
    delete window.upkeep;
  });

  it('maps {ok:false, error} to an ApiError with the same code and message', async () => {
    const { bridge } = fakeBridge(() => ({ ok: false, error: { code: 'ERR_BUSY', message: 'Another operation holds demo' } }));
    const api = createIpcApi(bridge);
    const err = await api.apply('demo').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('ERR_BUSY');
    expect((err as ApiError).message).toBe('Another operation holds demo');
    expect(() => unwrapIpc({ bogus: true } as never)).toThrow(ApiError);
  });

  it('passes each method to its channel with its arguments and unwraps values', async () => {
    const { bridge, calls } = fakeBridge((channel) => ({ ok: true, value: channel === 'cancel' ? { cancelled: true } : [] }));
    const api = createIpcApi(bridge);
    expect(await api.cancel('demo')).toEqual({ cancelled: true });
    await api.apply('demo', { version: '1.1.0', verify_only: true });
    await api.rollback('demo', 'rb-1');
    await api.history('demo', 10);
    await api.updateSettings('demo', { auto_apply: 'all' });
    api.openExternal!('https://example.com/');
    await new Promise((r) => setTimeout(r, 0));
    expect(calls).toEqual([
      ['cancel', ['demo']],
      ['apply', ['demo', { version: '1.1.0', verify_only: true }]],
      ['rollback', ['demo', 'rb-1']],
      ['history', ['demo', 10]],
      ['updateSettings', ['demo', { auto_apply: 'all' }]],
      ['openExternal', ['https://example.com/']],
    ]);
  });

  it('a rejected invoke becomes an ApiError too', async () => {
    const { bridge } = fakeBridge(() => Promise.reject(new Error('channel closed')));
    await expect(createIpcApi(bridge).info()).rejects.toMatchObject({ name: 'ApiError', code: 'ERR_NETWORK' });
  });

  it('subscribes through the bridge', () => {
    const { bridge, listeners } = fakeBridge(() => ({ ok: true, value: null }));
    const got: UpkeepEvent[] = [];
    const stop = createIpcApi(bridge).subscribe((e) => got.push(e));
    const event: UpkeepEvent = { type: 'progress', target: 'demo', progress: { percent: 3 } as never };
    for (const l of listeners) l(event);
    expect(got).toEqual([event]);
    stop();
    expect(listeners.size).toBe(0);
  });

  it('chooseApi picks IPC when the bridge exists, else HTTP', () => {
    expect(chooseApi(window).transport).toBe('http');
    window.upkeep = fakeBridge(() => ({ ok: true, value: null })).bridge;
    expect(chooseApi(window).transport).toBe('ipc');
  });
});
