import { describe, it, expect, vi } from 'vitest';
import { pathToFileURL } from 'node:url';

// Electron's runtime cannot run here; ipc-main takes its Electron pieces as parameters, and any
// accidental import of 'electron' gets this inert stand-in instead of the binary's path.
vi.mock('electron', () => ({ ipcMain: {}, shell: {} }));

import { forwardEvents, handleIpcRequest, isAllowedSender, registerIpcHandlers, type IpcInvokeEventLike } from '../../src-main/electron/ipc-main';
import { EVENT_CHANNEL, IPC_PREFIX, IPC_REQUESTS, type IpcResponse } from '../../src-shared/ipc-contract';
import type { UpdaterApi, UpkeepEvent } from '../../src-shared/api';
import { BusyError, UpkeepError } from '../../src-shared/errors';
import type { AppLocation } from '../../src-main/electron/url-policy';
import { target, CHECKED } from './fixtures';

const INDEX_URL = pathToFileURL('/opt/Upkeep/resources/app.asar/out/renderer/index.html').href;
const FILE_LOC: AppLocation = { kind: 'file', indexUrl: INDEX_URL };
const DEV_LOC: AppLocation = { kind: 'dev', url: 'http://localhost:5173/' };

type Handler = (event: IpcInvokeEventLike, ...args: unknown[]) => Promise<unknown>;

function fakeIpcMain() {
  const handlers = new Map<string, Handler>();
  return {
    handlers,
    handle(channel: string, listener: Handler) {
      if (handlers.has(channel)) throw new Error(`second handler for ${channel}`);
      handlers.set(channel, listener);
    },
    removeHandler(channel: string) {
      handlers.delete(channel);
    },
  };
}

function fakeCore(overrides: Partial<UpdaterApi> = {}) {
  const calls: { method: string; args: unknown[] }[] = [];
  const listeners = new Set<(e: UpkeepEvent) => void>();
  const rec =
    (method: string, result: unknown) =>
    async (...args: unknown[]) => {
      calls.push({ method, args });
      return result;
    };
  const core: UpdaterApi = {
    info: rec('info', { version: '0.1.0', config_generation: 1, config_path: null, started_at: CHECKED, restart_required: [] }) as UpdaterApi['info'],
    listTargets: rec('listTargets', [target('demo', { kind: 'idle' })]) as UpdaterApi['listTargets'],
    getTarget: rec('getTarget', target('demo', { kind: 'idle' })) as UpdaterApi['getTarget'],
    check: rec('check', {}) as UpdaterApi['check'],
    download: rec('download', {}) as UpdaterApi['download'],
    apply: rec('apply', { success: true }) as UpdaterApi['apply'],
    cancel: rec('cancel', { cancelled: true }) as UpdaterApi['cancel'],
    listReleases: rec('listReleases', { target: 'demo', current_version: null, installed: null, eligible: [], rollout_pending: null }) as UpdaterApi['listReleases'],
    listPoints: rec('listPoints', []) as UpdaterApi['listPoints'],
    rollback: rec('rollback', {}) as UpdaterApi['rollback'],
    history: rec('history', []) as UpdaterApi['history'],
    skipVersion: rec('skipVersion', target('demo', { kind: 'idle' })) as UpdaterApi['skipVersion'],
    updateSettings: rec('updateSettings', target('demo', { kind: 'idle' })) as UpdaterApi['updateSettings'],
    reloadConfig: rec('reloadConfig', { config_generation: 2, restart_required: [] }) as UpdaterApi['reloadConfig'],
    logs: rec('logs', []) as UpdaterApi['logs'],
    subscribe: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    ...overrides,
  };
  return { core, calls, emit: (e: UpkeepEvent) => listeners.forEach((l) => l(e)), listeners };
}

function setup(overrides: Partial<UpdaterApi> = {}, allowed: AppLocation | AppLocation[] = FILE_LOC) {
  const ipcMain = fakeIpcMain();
  const { core, calls } = fakeCore(overrides);
  const opened: string[] = [];
  const shell = { openExternal: async (url: string) => void opened.push(url) };
  const dispose = registerIpcHandlers({ ipcMain, core, shell, allowed });
  const fromApp: IpcInvokeEventLike = { senderFrame: { url: `${INDEX_URL}#/targets/demo` } };
  const invoke = (channel: string, event: IpcInvokeEventLike, ...args: unknown[]) => {
    const h = ipcMain.handlers.get(IPC_PREFIX + channel);
    if (!h) throw new Error(`no handler for ${channel}`);
    return h(event, ...args) as Promise<IpcResponse<unknown>>;
  };
  return { ipcMain, calls, opened, dispose, fromApp, invoke };
}

describe('registerIpcHandlers', () => {
  it('registers exactly one prefixed handler per channel of the contract and removes them all', () => {
    const { ipcMain, dispose } = setup();
    expect([...ipcMain.handlers.keys()].sort()).toEqual(Object.keys(IPC_REQUESTS).map((c) => IPC_PREFIX + c).sort());
    dispose();
    expect(ipcMain.handlers.size).toBe(0);
  });

  it('calls the core with validated arguments and wraps the value', async () => {
    const { invoke, fromApp, calls } = setup();
    const r = await invoke('apply', fromApp, 'demo', { version: '1.2.0', verify_only: true });
    expect(r).toEqual({ ok: true, value: { success: true } });
    expect(calls).toEqual([{ method: 'apply', args: ['demo', { version: '1.2.0', verify_only: true }] }]);
    const targets = await invoke('listTargets', fromApp);
    expect(targets.ok && (targets.value as { id: string }[])[0].id).toBe('demo');
  });

  it.each([
    ['getTarget', []],
    ['getTarget', [42]],
    ['getTarget', ['']],
    ['getTarget', ['x'.repeat(65)]],
    ['check', ['demo', 'extra']],
    ['apply', ['demo', { version: '1.0.0', force: true }]],
    ['apply', ['demo', { verify_only: 'yes' }]],
    ['history', ['demo', 0]],
    ['history', ['demo', 1.5]],
    ['updateSettings', ['demo', { paused_until: 'tomorrow' }]],
    ['updateSettings', ['demo', { install_dir: '/etc' }]],
    ['logs', [-1]],
    ['openExternal', ['not a url']],
    ['info', ['unexpected']],
  ])('rejects a bad %s payload %j with ERR_BAD_REQUEST without calling the core', async (channel, args) => {
    const { invoke, fromApp, calls, opened } = setup();
    const r = await invoke(channel, fromApp, ...args);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('ERR_BAD_REQUEST');
      expect(r.error.message.length).toBeGreaterThan(0);
    }
    expect(calls).toEqual([]);
    expect(opened).toEqual([]);
  });

  it.each([
    ['another file page', pathToFileURL('/tmp/evil/index.html').href],
    ['a remote page', 'https://evil.example/index.html'],
    ['a query on the index file', `${INDEX_URL}?x=1`],
    ['the dev server while running from files', 'http://localhost:5173/'],
    ['an empty url', ''],
  ])('refuses IPC from %s with ERR_FORBIDDEN', async (_what, url) => {
    const { invoke, calls } = setup();
    const r = await invoke('apply', { senderFrame: { url } }, 'demo');
    expect(r).toEqual({ ok: false, error: { code: 'ERR_FORBIDDEN', message: expect.any(String) } });
    expect(calls).toEqual([]);
  });

  it('refuses a request whose sender frame is gone', async () => {
    const { invoke, calls } = setup();
    expect((await invoke('listTargets', { senderFrame: null })).ok).toBe(false);
    expect(calls).toEqual([]);
  });

  it('accepts the dev server origin when that is the app location', async () => {
    const { invoke, calls } = setup({}, DEV_LOC);
    const r = await invoke('check', { senderFrame: { url: 'http://localhost:5173/#/targets/demo' } }, 'demo');
    expect(r.ok).toBe(true);
    expect(calls.map((c) => c.method)).toEqual(['check']);
    const other = await invoke('check', { senderFrame: { url: 'http://localhost:5174/' } }, 'demo');
    expect(other.ok).toBe(false);
  });

  it('keeps the stable code of errors thrown by the core', async () => {
    const { invoke, fromApp } = setup({
      apply: async () => {
        throw new BusyError('demo is busy');
      },
      rollback: async () => {
        throw new UpkeepError('ERR_ROLLBACK_POINT_NOT_FOUND', 'no such point');
      },
      check: async () => {
        throw new Error('plain failure');
      },
    });
    expect(await invoke('apply', fromApp, 'demo')).toEqual({ ok: false, error: { code: 'ERR_BUSY', message: 'demo is busy' } });
    expect(await invoke('rollback', fromApp, 'demo', 'rb-1')).toEqual({ ok: false, error: { code: 'ERR_ROLLBACK_POINT_NOT_FOUND', message: 'no such point' } });
    expect(await invoke('check', fromApp, 'demo')).toEqual({ ok: false, error: { code: 'ERR_INTERNAL', message: 'plain failure' } });
  });

  it('opens only http(s) links externally', async () => {
    const { invoke, fromApp, opened } = setup();
    expect((await invoke('openExternal', fromApp, 'https://example.com/notes?a=1')).ok).toBe(true);
    expect((await invoke('openExternal', fromApp, 'http://example.com/')).ok).toBe(true);
    for (const bad of ['javascript:alert(1)', 'file:///etc/passwd', 'mailto:a@example.com', 'data:text/html,<b>x</b>', 'https://user:pw@example.com/']) {
      const r = await invoke('openExternal', fromApp, bad);
      expect(r.ok, bad).toBe(false);
      if (!r.ok) expect(r.error.code).toBe('ERR_BAD_REQUEST');
    }
    expect(opened).toEqual(['https://example.com/notes?a=1', 'http://example.com/']);
  });
});

describe('handleIpcRequest / isAllowedSender', () => {
  it('checks the sender before validating the payload', async () => {
    const { core, calls } = fakeCore();
    const r = await handleIpcRequest('getTarget', { senderFrame: { url: 'https://evil.example/' } }, [42], { core, shell: { openExternal: async () => {} }, allowed: FILE_LOC });
    expect(r.ok === false && r.error.code).toBe('ERR_FORBIDDEN');
    expect(calls).toEqual([]);
  });

  it('answers ERR_INTERNAL while the core is not running, and uses it once it is', async () => {
    const { core, calls } = fakeCore();
    let current: UpdaterApi | null = null;
    const deps = { core: () => current, shell: { openExternal: async () => {} }, allowed: FILE_LOC };
    const before = await handleIpcRequest('listTargets', { senderFrame: { url: INDEX_URL } }, [], deps);
    expect(before).toEqual({ ok: false, error: { code: 'ERR_INTERNAL', message: 'The Upkeep engine is not running' } });
    current = core;
    const after = await handleIpcRequest('listTargets', { senderFrame: { url: INDEX_URL } }, [], deps);
    expect(after.ok).toBe(true);
    expect(calls.map((c) => c.method)).toEqual(['listTargets']);
  });

  it('accepts any of several locations', () => {
    expect(isAllowedSender('http://localhost:5173/x', [FILE_LOC, DEV_LOC])).toBe(true);
    expect(isAllowedSender(INDEX_URL, [FILE_LOC, DEV_LOC])).toBe(true);
    expect(isAllowedSender(undefined, [FILE_LOC, DEV_LOC])).toBe(false);
  });
});

describe('forwardEvents', () => {
  it('sends every core event to the live window on the event channel and stops on unsubscribe', () => {
    const { core, emit, listeners } = fakeCore();
    const sent: [string, UpkeepEvent][] = [];
    let destroyed = false;
    const sink = { isDestroyed: () => destroyed, send: (ch: string, e: UpkeepEvent) => void sent.push([ch, e]) };
    let current: typeof sink | null = null;
    const stop = forwardEvents(core, () => current);
    const e1: UpkeepEvent = { type: 'state', target: target('demo', { kind: 'up-to-date', checked_at: CHECKED }) };
    emit(e1); // no window yet: dropped
    current = sink;
    emit(e1);
    destroyed = true;
    emit(e1); // window destroyed: dropped
    expect(sent).toEqual([[EVENT_CHANNEL, e1]]);
    stop();
    expect(listeners.size).toBe(0);
  });
});
