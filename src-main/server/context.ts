/**
 * What every route module of the server shares: the core it drives, the per-server metrics, event
 * streams and release memo, the log callback — and the per-route options (`access`, `style`) the
 * hooks read.
 */
import type { DaemonCore } from '../engine/daemon-types';
import type { Access, Principal } from './auth';
import type { ErrorStyle } from './errors';
import type { EventStreams } from './events-sse';
import type { UpkeepMetrics } from './metrics';
import type { ReleaseMemo } from './release-memo';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type LogFn = (level: LogLevel, message: string) => void;

export interface ServerContext {
  core: DaemonCore;
  metrics: UpkeepMetrics;
  events: EventStreams;
  releases: ReleaseMemo;
  log: LogFn;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route. Routes of plugins (static files) and unknown paths are public. */
    access?: Access;
    /** Shape of the route's error bodies. Default canonical. */
    style?: ErrorStyle;
    /** Accept the token as `?access_token=` too (EventSource cannot send headers). */
    queryToken?: boolean;
    /** A status read: paced while an operation works, so reads never starve it (read-gate.ts). */
    statusRead?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}
