/**
 * Public entry of the local HTTP API: Electron main and `upkeep daemon` start the server through
 * this file only.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { UsageError } from '../../src-shared/errors';
import type { DaemonCore } from '../engine/daemon-types';
import { buildApp, type AppOptions } from './app';
import type { LogFn } from './context';
import type { ReadGateOptions } from './read-gate';

export { buildApp, type AppOptions } from './app';
export { createMetrics, type UpkeepMetrics } from './metrics';
export { hashToken } from './auth';
export type { LogFn, LogLevel } from './context';

export interface ServerOptions {
  /** Address to bind; default api.host of the config (127.0.0.1). */
  host?: string;
  /** Port to bind; default api.port; 0 picks a free one. */
  port?: number;
  /** Directory of the built renderer (out/renderer) served at / as the web dashboard. */
  staticDir?: string | null;
  /** Log sink (the server logs nothing without one). */
  log?: LogFn;
  /** Milliseconds between SSE keep-alive comments. Default 15 000. */
  heartbeatMs?: number;
  /** Pacing of status reads while an operation works (read-gate.ts). */
  readGate?: ReadGateOptions;
}

export interface RunningServer {
  url: string;
  port: number;
  /**
   * Stops listening, ends event streams and drops open connections (a request still waiting for
   * an operation loses its response; the operation itself belongs to the core and goes on).
   */
  close(): Promise<void>;
}

function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** Starts the HTTP API for `core`; resolves once listening. `close()` ends streams and stops listening. */
export async function startServer(core: DaemonCore, o: ServerOptions = {}): Promise<RunningServer> {
  const api = core.config().config.api;
  const host = o.host ?? api.host;
  const port = o.port ?? api.port;
  const appOpts: AppOptions = { host };
  if (o.staticDir !== undefined) appOpts.staticDir = o.staticDir;
  if (o.log !== undefined) appOpts.log = o.log;
  if (o.heartbeatMs !== undefined) appOpts.heartbeatMs = o.heartbeatMs;
  if (o.readGate !== undefined) appOpts.readGate = o.readGate;
  const app: FastifyInstance = await buildApp(core, appOpts);
  try {
    await app.listen({ host, port });
  } catch (err) {
    await app.close().catch(() => undefined);
    const message = err instanceof Error ? err.message : String(err);
    throw new UsageError('ERR_USAGE', `Cannot listen on ${host}:${port}: ${message}`);
  }
  const bound = (app.server.address() as AddressInfo).port;
  const url = `http://${urlHost(host)}:${bound}`;
  o.log?.('info', `HTTP API listening on ${url}`);
  let closing: Promise<void> | null = null;
  return {
    url,
    port: bound,
    close() {
      closing ??= app.close().then(() => undefined);
      return closing;
    },
  };
}
