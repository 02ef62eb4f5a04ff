/**
 * The preload bridge — the only file that uses ipcRenderer. It exposes exactly one object,
 * `window.upkeep`, implementing UpkeepBridge: `invoke` for the typed request channels and
 * `onEvent` for the main → renderer event stream. Raw IPC events never reach the page.
 *
 * Sandboxed preloads can require nothing but 'electron', and electron-vite keeps node_modules
 * external, so the only runtime import from src-shared is the dependency-free channel names
 * (ipc-channels.ts), which the build bundles in; the zod schemas stay in main.
 */
import { contextBridge, ipcRenderer } from 'electron';
import type { UpkeepEvent } from '../../src-shared/api';
import type { UpkeepBridge } from '../../src-shared/ipc-contract';
import { IPC_PREFIX, EVENT_CHANNEL } from '../../src-shared/ipc-channels';


/** The part of ipcRenderer the bridge needs. */
export interface IpcRendererLike {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
  on(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
  removeListener(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
}

/** Builds the bridge object: exactly `invoke` and `onEvent`, channels prefixed with IPC_PREFIX. */
export function createBridge(renderer: IpcRendererLike): UpkeepBridge {
  const bridge: UpkeepBridge = {
    // The generic signature is the contract's; the response is main's IpcResponse for that channel.
    invoke: ((channel: string, ...args: unknown[]) => renderer.invoke(IPC_PREFIX + channel, ...args)) as UpkeepBridge['invoke'],
    onEvent: (listener) => {
      const wrapped = (_event: unknown, payload: unknown): void => listener(payload as UpkeepEvent);
      renderer.on(EVENT_CHANNEL, wrapped);
      return () => {
        renderer.removeListener(EVENT_CHANNEL, wrapped);
      };
    },
  };
  return Object.freeze(bridge);
}

contextBridge.exposeInMainWorld('upkeep', createBridge(ipcRenderer as unknown as IpcRendererLike));
