/**
 * `UpdaterApi` over the Electron preload bridge (`window.upkeep`). Every call goes through the one
 * typed channel map of src-shared/ipc-contract.ts; an `{ ok: false }` envelope becomes an
 * `ApiError` carrying the engine's stable code.
 */
import { ApiError, errorDetails } from '../../src-shared/api';
import type { IpcArgs, IpcChannel, IpcResponse, IpcResult, UpkeepBridge } from '../../src-shared/ipc-contract';
import { CLIENT_ERROR, type RendererApi } from './types';

/** Unwraps an IPC envelope: the value, or an ApiError with the error's code and message. */
export function unwrapIpc<T>(response: IpcResponse<T>): T {
  if (response && response.ok === true) return response.value;
  if (response && response.ok === false && response.error) {
    const { code, message } = response.error;
    throw new ApiError(typeof code === 'string' && code ? code : 'ERR_INTERNAL', typeof message === 'string' ? message : 'Request failed', undefined, errorDetails(response.error));
  }
  throw new ApiError(CLIENT_ERROR.badResponse, 'Malformed reply from the Upkeep main process');
}

/** Creates the IPC implementation on top of the preload bridge. */
export function createIpcApi(bridge: UpkeepBridge): RendererApi {
  async function call<C extends IpcChannel>(channel: C, ...args: IpcArgs<C>): Promise<IpcResult<C>> {
    let response: IpcResponse<IpcResult<C>>;
    try {
      response = await bridge.invoke(channel, ...args);
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      throw new ApiError(CLIENT_ERROR.network, `The Upkeep main process did not answer (${detail})`);
    }
    return unwrapIpc(response);
  }

  return {
    transport: 'ipc',
    info: () => call('info'),
    listTargets: () => call('listTargets'),
    getTarget: (id) => call('getTarget', id),
    check: (id) => call('check', id),
    download: (id, version) => call('download', id, version),
    apply: (id, opts) => call('apply', id, opts),
    cancel: (id) => call('cancel', id),
    listReleases: (id) => call('listReleases', id),
    listPoints: (id) => call('listPoints', id),
    rollback: (id, rollbackId) => call('rollback', id, rollbackId),
    history: (id, limit) => call('history', id, limit),
    skipVersion: (id, version) => call('skipVersion', id, version),
    updateSettings: (id, patch) => call('updateSettings', id, patch),
    reloadConfig: () => call('reloadConfig'),
    logs: (limit) => call('logs', limit),
    subscribe: (listener) => bridge.onEvent(listener),
    onConnectionChange: (listener) => {
      listener('online');
      return () => undefined;
    },
    openExternal: (url) => {
      call('openExternal', url).catch((err: unknown) => console.error('Could not open link', err));
    },
  };
}
