/**
 * Assembles the fastify app of the local API: body parsing and limits, the Host check, CORS,
 * authentication, the error table, security headers, the routes and the dashboard. The config is
 * read per request (`core.config()`), so a hot reload of tokens, CORS origins or allowed hosts
 * takes effect at once; only the listening address needs a restart.
 */
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { Transform } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import { UpkeepError, UsageError } from '../../src-shared/errors';
import type { DaemonCore } from '../engine/daemon-types';
import { authorize, bearerToken, type Access } from './auth';
import type { LogFn, ServerContext } from './context';
import { errorBody, toHttpError } from './errors';
import { createEventStreams } from './events-sse';
import { hostHeaderCount, isAllowedHost } from './host-check';
import { createMetrics, type UpkeepMetrics } from './metrics';
import { ReadGate, type ReadGateOptions } from './read-gate';
import { createReleaseMemo } from './release-memo';
import { registerCanonicalRoutes } from './routes-canonical';
import { registerSeedRoutes } from './routes-seed';
import { registerDashboard, securityHeaders } from './static';

export interface AppOptions {
  /** The address the server will listen on (for the Host check). Default api.host. */
  host?: string;
  /** Directory of the built renderer served at /; ignored when absent or without index.html. */
  staticDir?: string | null;
  /** Log sink; the server is silent without one. */
  log?: LogFn;
  /** Milliseconds between SSE keep-alive comments. Default 15 000. */
  heartbeatMs?: number;
  /** Metrics to expose at /metrics; by default the app creates (and closes) its own. */
  metrics?: UpkeepMetrics;
  /** Pacing of status reads while an operation works (read-gate.ts). */
  readGate?: ReadGateOptions;
}

/** Hard ceiling of any body; the configured api.body_limit_bytes (read per request) is normally lower. */
const BODY_CEILING = 16 * 1024 * 1024;

type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;
type AnyFactory = (...args: unknown[]) => unknown;

/**
 * fastify's own JSON-schema compilers (ajv for validation, fast-json-stringify for responses),
 * loaded from fastify's dependencies only when a route first declares a JSON schema. The API
 * validates with zod (server/validate.ts), so a running daemon normally never loads them: about
 * 250 modules and 12 MB less resident memory at idle.
 */
function lazySchemaCompilers(): CompilersFactory {
  const fromFastify = (id: string): AnyFactory => (createRequire(require.resolve('fastify'))(id) as () => AnyFactory)();
  let validator: AnyFactory | null = null;
  let serializer: AnyFactory | null = null;
  return {
    buildValidator: ((...args: unknown[]) => (validator ??= fromFastify('@fastify/ajv-compiler'))(...args)) as NonNullable<CompilersFactory['buildValidator']>,
    buildSerializer: ((...args: unknown[]) => (serializer ??= fromFastify('@fastify/fast-json-stringify-compiler'))(...args)) as NonNullable<CompilersFactory['buildSerializer']>,
  };
}

function currentApi(core: DaemonCore) {
  return core.config().config.api;
}

function sameOriginAllowed(origin: string, allowed: readonly string[]): boolean {
  return allowed.includes('*') || allowed.includes(origin);
}

function applyCors(request: FastifyRequest, reply: FastifyReply, origins: readonly string[]): boolean {
  const origin = request.headers.origin;
  if (typeof origin !== 'string' || !sameOriginAllowed(origin, origins)) return false;
  reply.header('access-control-allow-origin', origin);
  reply.header('vary', 'Origin');
  return true;
}

/**
 * Builds the fastify instance serving `core` (routes registered, not listening). Closing the app
 * ends open event streams and stops its metrics subscription.
 */
export async function buildApp(core: DaemonCore, opts: AppOptions = {}): Promise<FastifyInstance> {
  const log: LogFn = opts.log ?? (() => undefined);
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_CEILING,
    routerOptions: { maxParamLength: 256 },
    forceCloseConnections: true,
    schemaController: { compilersFactory: lazySchemaCompilers() },
  });
  app.decorateRequest('principal', null);

  const ownMetrics = opts.metrics === undefined;
  const metrics = opts.metrics ?? createMetrics(core);
  const events = createEventStreams(core, opts.heartbeatMs !== undefined ? { heartbeatMs: opts.heartbeatMs } : {});
  const releases = createReleaseMemo();
  const readGate = new ReadGate(opts.readGate);
  const unsubscribeMemo = core.subscribe((e) => {
    if (e.type === 'state') releases.remember(e.target.id, e.target.available);
    readGate.onEvent(e);
    if (e.type === 'notification' && e.notification.type === 'config_reloaded') readGate.keepOnly(new Set(core.config().config.targets.map((t) => t.id)));
  });
  const ctx: ServerContext = { core, metrics, events, releases, log };

  app.addHook('preClose', (done) => {
    events.closeAll();
    done();
  });
  app.addHook('onClose', (_instance, done) => {
    unsubscribeMemo();
    readGate.close();
    if (ownMetrics) metrics.close();
    done();
  });

  // ---- body parsing -----------------------------------------------------------------------------
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    defaultJson(request, text, (err, value) => {
      if (err) return done(new UsageError('ERR_BAD_REQUEST', `Malformed JSON body: ${err.message}`), undefined);
      done(null, value);
    });
  });
  // `curl -d '{"verify_only": true}'` sends JSON labelled as a form; accept both spellings.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (request, body, done) => {
    const text = String(body).trim();
    if (text === '') return done(null, undefined);
    if (text.startsWith('{')) {
      defaultJson(request, text, (err, value) => {
        if (err) return done(new UsageError('ERR_BAD_REQUEST', `Malformed JSON body: ${err.message}`), undefined);
        done(null, value);
      });
      return;
    }
    done(null, Object.fromEntries(new URLSearchParams(text)));
  });

  app.addHook('preParsing', async (request, _reply, payload) => {
    const limit = currentApi(core).body_limit_bytes;
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
    if (!(declared > 0) && request.headers['transfer-encoding'] === undefined) return payload;
    // Chunked bodies declare no length: count as they stream in.
    let seen = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        seen += chunk.length;
        if (seen > limit) cb(tooLarge(limit));
        else cb(null, chunk);
      },
    });
    payload.on('error', (err) => counter.destroy(err));
    payload.pipe(counter);
    return counter;
  });

  // ---- host check, CORS, auth -------------------------------------------------------------------
  const boundHost = (): string => opts.host ?? currentApi(core).host;
  // The port is fixed once listening: asked of the socket once, not per request.
  let port = 0;
  const listeningPort = (): number => {
    if (port !== 0) return port;
    const address = app.server.address();
    port = address && typeof address === 'object' ? (address as AddressInfo).port : 0;
    return port;
  };

  /** True when `origin` names the same host:port the request was sent to. */
  function isSameOrigin(origin: string, host: string | undefined): boolean {
    try {
      return new URL(origin).host === host;
    } catch {
      return false;
    }
  }

  app.addHook('onRequest', async (request, reply) => {
    const api = currentApi(core);
    if (hostHeaderCount(request.raw.rawHeaders) > 1) {
      throw new UpkeepError('ERR_BAD_REQUEST', 'More than one Host header (RFC 9112 §3.2): request refused');
    }
    if (!isAllowedHost(request.headers.host, { boundHost: boundHost(), port: listeningPort(), allowed: api.allowed_hosts })) {
      throw new UpkeepError('ERR_FORBIDDEN', `Host header not allowed: ${String(request.headers.host ?? '(none)').slice(0, 200)}`);
    }
    const corsOk = applyCors(request, reply, api.cors_origins);
    // A page on another site must not drive the local API, not even with "simple" requests
    // that skip CORS preflight (a GET that runs a check, a form POST). Browsers say where a
    // request comes from; non-browser clients send neither header.
    const site = request.headers['sec-fetch-site'];
    const origin = request.headers.origin;
    if ((site === 'cross-site' || (origin !== undefined && origin !== 'null' && !isSameOrigin(origin, request.headers.host))) && !corsOk) {
      throw new UpkeepError('ERR_FORBIDDEN', 'Cross-site request refused (add the origin to api.cors_origins to allow it)');
    }
    if (request.method === 'OPTIONS') {
      if (!corsOk) throw new UpkeepError('ERR_FORBIDDEN', 'Cross-origin request from an origin not in api.cors_origins');
      reply
        .header('access-control-allow-methods', 'GET, POST, PATCH, DELETE, OPTIONS')
        .header('access-control-allow-headers', 'Authorization, Content-Type, Last-Event-ID')
        .header('access-control-max-age', '600')
        .status(204)
        .send();
      return reply;
    }
    const config = request.routeOptions.config;
    const access: Access = config.access ?? 'public';
    let token = bearerToken(request.headers.authorization);
    if (token === null && config.queryToken) {
      const q = request.query as Record<string, unknown> | undefined;
      if (typeof q?.access_token === 'string' && q.access_token !== '') token = q.access_token;
    }
    request.principal = await authorize(access, token, api);
    // Status reads wait their turn while an operation works (read-gate.ts).
    if (config.statusRead) await readGate.admit();
    return undefined;
  });

  // ---- errors and headers -----------------------------------------------------------------------
  app.setErrorHandler((err, request, reply) => {
    const e = toHttpError(err, { bodyLimit: currentApi(core).body_limit_bytes });
    if (e.status >= 500) log('error', `${request.method} ${request.url}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    const style = request.routeOptions.config?.style ?? 'canonical';
    return reply.status(e.status).send(errorBody(e, style));
  });

  app.setNotFoundHandler((request, reply) => {
    const e = { status: 404, code: 'ERR_NOT_FOUND', message: `No route for ${request.method} ${request.url.split('?')[0]}` };
    return reply.status(404).send(errorBody(e, 'canonical'));
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const type = reply.getHeader('content-type');
    for (const [k, v] of Object.entries(securityHeaders(typeof type === 'string' ? type : undefined))) reply.header(k, v);
    if (request.url.startsWith('/api/') || request.url.startsWith('/admin/')) reply.header('cache-control', 'no-store');
    return payload;
  });

  registerCanonicalRoutes(app, ctx);
  registerSeedRoutes(app, ctx);
  const served = await registerDashboard(app, opts.staticDir);
  if (opts.staticDir && !served) log('warn', `dashboard not served: ${opts.staticDir} has no index.html`);
  return app;
}

function tooLarge(limit: number): Error {
  // Shaped like fastify's own error so the one error table maps it (413).
  return Object.assign(new Error(`Request body is larger than ${limit} bytes`), { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' });
}
