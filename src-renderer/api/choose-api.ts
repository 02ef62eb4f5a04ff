/**
 * Picks the API implementation for this page: the preload bridge inside the Electron window, HTTP
 * against the page's own origin in the web dashboard. Components never know which one they got.
 */
import type { UpkeepBridge } from '../../src-shared/ipc-contract';
import { createHttpApi } from './http-api';
import { createIpcApi } from './ipc-api';
import type { RendererApi } from './types';

declare global {
  interface Window {
    /** The Electron preload bridge; absent in a plain browser. */
    upkeep?: UpkeepBridge;
  }
}

function sessionStorageOf(win: Window): Storage | null {
  try {
    return win.sessionStorage;
  } catch {
    return null; // blocked storage (privacy settings): keep the token in memory
  }
}

/** Returns the IPC client when `window.upkeep` exists, else the HTTP client for `location.origin`. */
export function chooseApi(win: Window = window): RendererApi {
  if (win.upkeep && typeof win.upkeep.invoke === 'function') return createIpcApi(win.upkeep);
  return createHttpApi({ baseUrl: win.location.origin, storage: sessionStorageOf(win) });
}
