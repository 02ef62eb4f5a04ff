/**
 * Electron main's side of the typed IPC map (src-shared/ipc-contract.ts) — the only file that
 * uses ipcMain. Every request is checked in this order: the sender frame must be the app's own
 * page, the arguments must match the channel's zod tuple, then the UpdaterApi method runs and its
 * result or error (with its stable code) is wrapped into an IpcResponse. Core events are forwarded
 * to the window on EVENT_CHANNEL.
 */
import type { z } from 'zod';
import { errorDetails, type UpdaterApi, type UpkeepEvent } from '../../src-shared/api';
import { EVENT_CHANNEL, IPC_PREFIX, IPC_REQUESTS, type IpcChannel, type IpcResponse } from '../../src-shared/ipc-contract';
import { isAppUrl, safeExternalUrl, type AppLocation } from './url-policy';

/** The part of an IpcMainInvokeEvent the handlers read. */
export interface IpcInvokeEventLike {
  senderFrame: { url: string } | null | undefined;
}

/** The part of Electron's ipcMain used here (a fake collects handlers in tests). */
export interface IpcMainLike {
  handle(channel: string, listener: (event: IpcInvokeEventLike, ...args: unknown[]) => Promise<unknown>): void;
  removeHandler(channel: string): void;
}

export interface ShellLike {
  openExternal(url: string): Promise<void>;
}

export interface IpcDeps {
  ipcMain: IpcMainLike;
  /** The core, or a getter returning it (null while it is not running: requests then fail with ERR_INTERNAL). */
  core: UpdaterApi | (() => UpdaterApi | null);
  shell: ShellLike;
  /** Where the app's renderer comes from: the only sender accepted. */
  allowed: AppLocation | AppLocation[];
}

type Handlers = { [C in IpcChannel]: (args: z.output<(typeof IPC_REQUESTS)[C]>) => Promise<unknown> };

function handlersFor(core: UpdaterApi, shell: ShellLike): Handlers {
  return {
    info: () => core.info(),
    listTargets: () => core.listTargets(),
    getTarget: ([id]) => core.getTarget(id),
    check: ([id]) => core.check(id),
    download: ([id, version]) => core.download(id, version),
    apply: ([id, opts]) => core.apply(id, opts),
    cancel: ([id]) => core.cancel(id),
    listReleases: ([id]) => core.listReleases(id),
    listPoints: ([id]) => core.listPoints(id),
    rollback: ([id, rollbackId]) => core.rollback(id, rollbackId),
    history: ([id, limit]) => core.history(id, limit),
    skipVersion: ([id, version]) => core.skipVersion(id, version),
    updateSettings: ([id, patch]) => core.updateSettings(id, patch),
    reloadConfig: () => core.reloadConfig(),
    logs: ([limit]) => core.logs(limit),
    openExternal: async ([url]) => {
      const safe = safeExternalUrl(url);
      if (!safe) throw Object.assign(new Error('Only http(s) links open in the browser'), { code: 'ERR_BAD_REQUEST' });
      await shell.openExternal(safe);
    },
  };
}

/** True when an IPC sender frame URL is the app's own renderer page (file or dev server). */
export function isAllowedSender(url: string | null | undefined, allowed: AppLocation | AppLocation[]): boolean {
  if (!url) return false;
  return (Array.isArray(allowed) ? allowed : [allowed]).some((loc) => isAppUrl(url, loc));
}

/**
 * An error as it crosses IPC: its stable code (ERR_INTERNAL when it has none), message and
 * details (`rolled_back`, `cause`, … — a rolled-back apply must not look like a plain failure),
 * the details passed through JSON so only plain data crosses.
 */
export function toIpcError(err: unknown): { code: string; message: string; details?: Record<string, unknown> } {
  const raw = err && typeof err === 'object' && 'code' in err ? (err as { code: unknown }).code : undefined;
  const code = typeof raw === 'string' && /^[A-Z][A-Z0-9_]{1,63}$/.test(raw) ? raw : 'ERR_INTERNAL';
  const message = err instanceof Error ? err.message : typeof err === 'string' ? err : 'Unexpected error';
  const details = errorDetails(err);
  if (!details || code === 'ERR_INTERNAL') return { code, message };
  try {
    return { code, message, details: JSON.parse(JSON.stringify(details)) as Record<string, unknown> };
  } catch {
    return { code, message };
  }
}

function zodMessage(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? `argument ${i.path.join('.')}` : 'arguments'}: ${i.message}`)
    .join('; ');
}

/**
 * Handles one request as main does: sender check (ERR_FORBIDDEN), payload validation
 * (ERR_BAD_REQUEST, the core not called), then the call, wrapped into an IpcResponse. Never throws.
 */
export async function handleIpcRequest(
  channel: IpcChannel,
  event: IpcInvokeEventLike,
  args: unknown[],
  deps: Omit<IpcDeps, 'ipcMain'>,
): Promise<IpcResponse<unknown>> {
  const senderUrl = event?.senderFrame?.url;
  if (!isAllowedSender(senderUrl, deps.allowed)) {
    return { ok: false, error: { code: 'ERR_FORBIDDEN', message: 'IPC from an unexpected frame was refused' } };
  }
  const schema = IPC_REQUESTS[channel] as z.ZodType;
  const parsed = schema.safeParse(args);
  if (!parsed.success) return { ok: false, error: { code: 'ERR_BAD_REQUEST', message: zodMessage(parsed.error) } };
  const core = typeof deps.core === 'function' ? deps.core() : deps.core;
  if (!core) return { ok: false, error: { code: 'ERR_INTERNAL', message: 'The Upkeep engine is not running' } };
  const handler = handlersFor(core, deps.shell)[channel] as (a: unknown) => Promise<unknown>;
  try {
    const value = await handler(parsed.data);
    return { ok: true, value };
  } catch (err) {
    return { ok: false, error: toIpcError(err) };
  }
}

/** Registers one `ipcMain.handle` per channel of IPC_REQUESTS; returns a function removing them. */
export function registerIpcHandlers(deps: IpcDeps): () => void {
  const channels = Object.keys(IPC_REQUESTS) as IpcChannel[];
  for (const channel of channels) {
    deps.ipcMain.handle(IPC_PREFIX + channel, (event, ...args) => handleIpcRequest(channel, event, args, deps));
  }
  return () => {
    for (const channel of channels) deps.ipcMain.removeHandler(IPC_PREFIX + channel);
  };
}

/** What events are sent to (a window's webContents). */
export interface EventSink {
  isDestroyed(): boolean;
  send(channel: string, event: UpkeepEvent): void;
}

/** Forwards every core event to the current window (if any) on EVENT_CHANNEL; returns the unsubscribe. */
export function forwardEvents(core: Pick<UpdaterApi, 'subscribe'>, sink: () => EventSink | null): () => void {
  return core.subscribe((event) => {
    const wc = sink();
    if (wc && !wc.isDestroyed()) wc.send(EVENT_CHANNEL, event);
  });
}
