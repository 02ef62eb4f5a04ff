/**
 * The canonical, target-scoped routes: a thin JSON skin over the `UpdaterApi` methods of the core
 * (`/api/info`, `/api/session`, `/api/targets/:id/...`, `/api/history`, `/api/logs`, `/api/events`, `/health`,
 * `/metrics`). Bodies and parameters are validated with zod; errors are mapped by the app's error
 * handler.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TargetView } from '../../src-shared/api';
import { z } from 'zod';
import { SettingsPatchSchema } from '../../src-shared/ipc-contract';
import type { ServerContext } from './context';
import { JSON_TYPE, JsonMemo } from './json-memo';
import { LimitQuerySchema, RollbackIdSchema, TargetIdSchema, VersionSchema, bodyOrEmpty, parseInput } from './validate';

const IdParams = z.object({ id: TargetIdSchema });
const RollbackParams = z.object({ id: TargetIdSchema, rollback_id: RollbackIdSchema });
const DownloadBody = z.object({ version: VersionSchema.optional() }).strict();
const ApplyBody = z.object({ version: VersionSchema.optional(), verify_only: z.boolean().optional() }).strict();
const SkipBody = z.object({ version: VersionSchema }).strict();

function idOf(request: FastifyRequest): string {
  return parseInput(IdParams, request.params, 'path').id;
}

function limitOf(request: FastifyRequest): number | undefined {
  return parseInput(LimitQuerySchema, request.query, 'query').limit;
}

/** Registers the canonical routes on `app`. */
export function registerCanonicalRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const { core } = ctx;
  const read = { config: { access: 'read' as const, style: 'canonical' as const } };
  const apply = { config: { access: 'apply' as const, style: 'canonical' as const } };

  app.get('/health', { config: { access: 'public', style: 'canonical' } }, async () => {
    const info = await core.info();
    return { status: 'ok', version: info.version, config_generation: info.config_generation };
  });

  app.get('/metrics', read, async (_request, reply) => {
    const text = await ctx.metrics.render();
    return reply.type(ctx.metrics.contentType).send(text);
  });

  app.get('/api/info', read, async () => core.info());

  // Who the presented token is (the dashboard's sign-in checks a token here before keeping it).
  // A wrong token is refused with 401 by the auth hook; no token on public reads is anonymous.
  app.get('/api/session', read, async (request) => {
    const p = request.principal;
    return p ? { authenticated: true, name: p.name, via: p.via, scopes: p.scopes } : { authenticated: false, name: null, via: null, scopes: [] };
  });

  // Status reads are served from the core's memory; each unchanged view is serialised once.
  const views = new JsonMemo<TargetView>();
  const status = { config: { access: 'read' as const, style: 'canonical' as const, statusRead: true } };
  app.get('/api/targets', status, async (_request, reply) => reply.type(JSON_TYPE).send(views.array(await core.listTargets())));

  app.get('/api/targets/:id', status, async (request, reply) => reply.type(JSON_TYPE).send(views.of(await core.getTarget(idOf(request)), (v) => v)));

  app.post('/api/targets/:id/check', apply, async (request) => {
    const id = idOf(request);
    const result = await core.check(id);
    ctx.releases.remember(id, result.release);
    return result;
  });

  app.post('/api/targets/:id/download', apply, async (request) => {
    const id = idOf(request);
    const body = parseInput(DownloadBody, bodyOrEmpty(request.body), 'body');
    return core.download(id, body.version);
  });

  app.post('/api/targets/:id/apply', apply, async (request) => {
    const id = idOf(request);
    const body = parseInput(ApplyBody, bodyOrEmpty(request.body), 'body');
    const opts: { version?: string; verify_only?: boolean } = {};
    if (body.version !== undefined) opts.version = body.version;
    if (body.verify_only !== undefined) opts.verify_only = body.verify_only;
    return core.apply(id, opts);
  });

  app.post('/api/groups/:id/apply', apply, async (request) => core.applyGroup(idOf(request)));

  app.post('/api/targets/:id/cancel', apply, async (request) => core.cancel(idOf(request)));

  app.get('/api/targets/:id/releases', read, async (request) => core.listReleases(idOf(request)));

  app.get('/api/targets/:id/points', read, async (request) => core.listPoints(idOf(request)));

  app.post('/api/targets/:id/rollback', apply, async (request) => core.rollback(idOf(request)));

  app.post('/api/targets/:id/rollback/:rollback_id', apply, async (request) => {
    const p = parseInput(RollbackParams, request.params, 'path');
    return core.rollback(p.id, p.rollback_id);
  });

  app.get('/api/targets/:id/history', read, async (request) => core.history(idOf(request), limitOf(request)));

  app.get('/api/history', read, async (request) => core.history(undefined, limitOf(request)));

  app.post('/api/targets/:id/skip', apply, async (request) => {
    const id = idOf(request);
    const body = parseInput(SkipBody, bodyOrEmpty(request.body), 'body');
    return core.skipVersion(id, body.version);
  });

  app.patch('/api/targets/:id/settings', apply, async (request) => {
    const id = idOf(request);
    const patch = parseInput(SettingsPatchSchema, bodyOrEmpty(request.body), 'settings');
    return core.updateSettings(id, patch);
  });

  app.get('/api/logs', read, async (request) => core.logs(limitOf(request)));

  app.get('/api/events', { config: { access: 'read', style: 'canonical', queryToken: true } }, (request, reply) => {
    ctx.events.handle(request, reply);
  });
}
