/**
 * Public entry of the local HTTP API: Electron main and `upkeep daemon` start the server through
 * this file only. (Being built: this placeholder keeps the interface compiling for its hosts.)
 */
import type { DaemonCore } from '../engine/daemon-types';
import { UpkeepError } from '../../src-shared/errors';

export interface ServerOptions {
  host?: string;
  port?: number;
  /** Directory of the built renderer (out/renderer) served at / as the web dashboard. */
  staticDir?: string | null;
}

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Starts the HTTP API for `core`; resolves once listening. */
export async function startServer(_core: DaemonCore, _o: ServerOptions = {}): Promise<RunningServer> {
  throw new UpkeepError('ERR_INTERNAL', 'startServer is not built yet');
}
