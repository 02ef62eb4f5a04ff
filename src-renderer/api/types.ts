/**
 * What the renderer's API clients offer beyond the shared `UpdaterApi` contract: connection state of
 * the event stream, opening links outside the app, and the dashboard's bearer token. Every extra is
 * optional, so components work the same with either implementation (IPC or HTTP).
 */
import type { UpdaterApi } from '../../src-shared/api';

/** State of the live event stream. IPC is always 'online'. */
export type ConnectionState = 'connecting' | 'online' | 'offline' | 'unauthorized';

export interface ClientExtras {
  /** 'ipc' in the Electron window, 'http' in the web dashboard. For display only. */
  readonly transport: 'ipc' | 'http';
  /** Reports event-stream connection changes; returns the unsubscribe function. */
  onConnectionChange?(listener: (state: ConnectionState) => void): () => void;
  /** Opens an http(s) link outside the app (Electron: default browser through main). */
  openExternal?(url: string): void;
  /** The bearer token in use (web dashboard only). */
  getToken?(): string | null;
  /** Sets or clears the bearer token; the event stream reconnects with it. */
  setToken?(token: string | null): void;
  /**
   * Asks the daemon who `token` is, without keeping it (`GET /api/session`). Rejects with an
   * ApiError ERR_UNAUTHORIZED (401) when the daemon refuses the token.
   */
  checkToken?(token: string): Promise<SessionView>;
}

/** The daemon's answer to `GET /api/session`: who the presented token is. */
export interface SessionView {
  authenticated: boolean;
  /** Token name from the config, or the JWT's subject; null when anonymous. */
  name: string | null;
  via: 'token' | 'jwt' | null;
  /** Granted scopes: admin, update:apply, read. */
  scopes: string[];
}

/** The API object the renderer is given. */
export type RendererApi = UpdaterApi & ClientExtras;

/**
 * Client-side failure codes. They are not engine codes (src-shared/errors.ts covers what the
 * engine raises); they describe the transport between this page and the engine.
 */
export const CLIENT_ERROR = {
  /** The daemon could not be reached (network down, daemon stopped). */
  network: 'ERR_NETWORK',
  /** The response could not be understood (not JSON, wrong shape). */
  badResponse: 'ERR_BAD_RESPONSE',
} as const;
