/**
 * Routes compatible with the products Upkeep replaces, acting on the default target with the
 * exact response shapes their clients parse:
 *   the ThemisDB hot-reload API: /api/updates, /api/updates/manifests/:version, download, apply,
 *     rollback, rollback points;
 *   the config hot-reload API: POST /admin/reload;
 *   the CAIO update API: /api/v1/version, /api/v1/update, /api/v1/restart.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { TARGET_VIEW_MAX_FILES, type CheckResult, type ReleaseFileView, type ReleaseView, type UpkeepEvent } from '../../src-shared/api';
import type { ManifestDetails } from '../engine/daemon-types';
import type { ServerContext } from './context';
import { JSON_TYPE, JsonMemo } from './json-memo';
import { errorBody, toHttpError } from './errors';
import { LooseBoolean, RollbackIdSchema, VersionSchema, bodyOrEmpty, parseInput } from './validate';

const VersionParams = z.object({ version: VersionSchema });
const RollbackParams = z.object({ rollback_id: RollbackIdSchema });
// Seed clients may send more than we read: unknown keys are ignored, not refused.
const SeedApplyBody = z.object({ verify_only: LooseBoolean.optional() });
const V1UpdateBody = z.object({ target_version: VersionSchema.nullable().optional() });
const V1RestartBody = z.object({ graceful: LooseBoolean.optional() });

/** A manifest file in the ThemisDB hot-reload API's field names. */
export function seedFile(f: ReleaseFileView): Record<string, unknown> {
  return { path: f.path, type: f.type, sha256_hash: f.sha256, size_bytes: f.size, platform: f.platform, architecture: f.arch, download_url: f.url };
}

/** GET /api/updates/manifests/:version's body. */
export function seedManifest(m: ManifestDetails): Record<string, unknown> {
  const r = m.release;
  return {
    version: r.version,
    tag_name: r.tag_name,
    release_notes: r.release_notes,
    is_critical: r.is_critical,
    files: r.files.map(seedFile),
    manifest_hash: m.manifest_sha256,
    signature: m.envelope.signatures[0]?.sig ?? null,
    build_commit: r.build_commit,
  };
}

/**
 * `latest_release` of GET /api/updates: a status summary. It lists at most TARGET_VIEW_MAX_FILES
 * files, like a target view, with the whole count in `file_count`; GET
 * /api/updates/manifests/:version lists every file. (A release of 2,000 files made every status
 * read of this route about 640 KB.)
 */
export function seedRelease(r: ReleaseView): Record<string, unknown> {
  return {
    version: r.version,
    tag_name: r.tag_name,
    release_notes: r.release_notes,
    is_critical: r.is_critical,
    is_breaking: r.is_breaking,
    channel: r.channel,
    released_at: r.released_at,
    build_commit: r.build_commit,
    manifest_hash: r.manifest_sha256,
    total_size: r.total_size,
    file_count: r.files.length,
    files: r.files.slice(0, TARGET_VIEW_MAX_FILES).map(seedFile),
  };
}

function targetHasRestart(ctx: ServerContext, id: string): boolean {
  const t = ctx.core.config().config.targets.find((x) => x.id === id);
  return t !== undefined && t.restart !== undefined;
}

/** `GET /api/updates` answers from a check at most this old (seconds). */
export const SEED_CHECK_MAX_AGE_S = 60;

/** Registers the compatibility routes on `app`. */
export function registerSeedRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const { core } = ctx;
  const seedRead = { config: { access: 'read' as const, style: 'seed-read' as const } };
  const seedStatus = { config: { access: 'read' as const, style: 'seed-read' as const, statusRead: true } };
  const seedOp = { config: { access: 'apply' as const, style: 'seed-op' as const } };

  // ---- the ThemisDB hot-reload API -----------------------------------------------------
  // One body per check result (the core hands out the same result while it is fresh).
  const updates = new JsonMemo<CheckResult>();
  app.get('/api/updates', seedStatus, async (_request, reply) => {
    const id = core.defaultTargetId();
    // A status read: at most one check per SEED_CHECK_MAX_AGE_S per target, shared by concurrent callers, no history line.
    const r = await core.latestCheck(id, SEED_CHECK_MAX_AGE_S);
    ctx.releases.remember(id, r.release);
    return reply.type(JSON_TYPE).send(updates.of(r, () => ({
      status: !r.update_available ? 'up_to_date' : r.is_critical ? 'critical_update' : 'update_available',
      current_version: r.current_version,
      latest_release: r.update_available && r.release ? seedRelease(r.release) : null,
      checked_at: r.checked_at,
    })));
  });

  app.get('/api/updates/manifests/:version', seedRead, async (request) => {
    const { version } = parseInput(VersionParams, request.params, 'path');
    const id = core.defaultTargetId();
    const m = await core.getManifest(id, version);
    ctx.releases.remember(id, m.release);
    return seedManifest(m);
  });

  app.post('/api/updates/download/:version', seedOp, async (request) => {
    const { version } = parseInput(VersionParams, request.params, 'path');
    const id = core.defaultTargetId();
    const r = await core.download(id, version);
    let manifest: Record<string, unknown> | null = null;
    try {
      const m = await core.getManifest(id, r.version);
      ctx.releases.remember(id, m.release);
      manifest = seedManifest(m);
    } catch (err) {
      // The files are downloaded and verified; a failed second look at the manifest does not undo that.
      ctx.log('warn', `download ${r.version}: manifest not included in the response: ${err instanceof Error ? err.message : String(err)}`);
    }
    return { success: true, version: r.version, download_path: r.download_path, manifest };
  });

  app.post('/api/updates/apply/:version', seedOp, async (request) => {
    const { version } = parseInput(VersionParams, request.params, 'path');
    const body = parseInput(SeedApplyBody, bodyOrEmpty(request.body), 'body');
    const verifyOnly = body.verify_only ?? false;
    const r = await core.apply(core.defaultTargetId(), { version, verify_only: verifyOnly });
    return {
      success: r.success,
      version: r.version,
      verify_only: r.verify_only,
      files_updated: r.files_updated,
      rollback_id: r.rollback_id,
    };
  });

  app.post('/api/updates/rollback/:rollback_id', seedOp, async (request) => {
    const { rollback_id } = parseInput(RollbackParams, request.params, 'path');
    const r = await core.rollback(core.defaultTargetId(), rollback_id);
    return { success: r.success, rollback_id: r.rollback_id };
  });

  app.get('/api/updates/rollback', seedRead, async () => {
    // A damaged point cannot be rolled back to: this list (without an error field) leaves it out.
    const points = (await core.listPoints(core.defaultTargetId())).filter((p) => !p.error);
    return { rollback_points: points.map((p) => ({ rollback_id: p.rollback_id, timestamp: p.created_at })), count: points.length };
  });

  // ---- the config hot-reload API -------------------------------------------------------
  app.post('/admin/reload', { config: { access: 'admin', style: 'seed-admin' } }, async () => {
    const r = await core.reloadConfig('api');
    return {
      status: 'success',
      message: 'Configuration reloaded successfully',
      config_generation: r.config_generation,
      timestamp: Math.floor(Date.now() / 1000),
      restart_required: r.restart_required,
    };
  });

  // ---- the CAIO update API -------------------------------------------------------------
  app.get('/api/v1/version', { config: { access: 'read', style: 'seed-v1', statusRead: true } }, async () => {
    const id = core.defaultTargetId();
    const view = await core.getTarget(id);
    const current = view.current_version;
    const known = current === null ? undefined : view.available?.version === current ? view.available : ctx.releases.get(id, current);
    return { version: current ?? 'unknown', build_date: known?.released_at ?? '', commit: known?.build_commit ?? 'unknown' };
  });

  app.post('/api/v1/update', { config: { access: 'admin', style: 'seed-v1' } }, async (request, reply) => {
    const body = parseInput(V1UpdateBody, bodyOrEmpty(request.body), 'body');
    const id = core.defaultTargetId();
    let percent = 0;
    const unsubscribe = core.subscribe((e: UpkeepEvent) => {
      if (e.type === 'progress' && e.target === id) percent = Math.max(percent, Math.min(100, Math.round(e.progress.percent)));
    });
    try {
      const opts: { version?: string } = {};
      if (body.target_version) opts.version = body.target_version;
      const r = await core.apply(id, opts);
      if (r.up_to_date) {
        return { status: 'complete', progress: 100, message: `Already up to date (${r.version})`, requires_restart: false, error: null };
      }
      return {
        status: 'complete',
        progress: 100,
        message: `Updated ${r.from_version ?? 'nothing'} to ${r.version}`,
        requires_restart: targetHasRestart(ctx, id),
        error: null,
      };
    } catch (err) {
      const e = toHttpError(err);
      if (e.status >= 500) ctx.log('error', `POST /api/v1/update failed: ${err instanceof Error ? err.message : String(err)}`);
      return failedUpdate(reply, e.code, e.message, percent, e.status);
    } finally {
      unsubscribe();
    }
  });

  app.post('/api/v1/restart', { config: { access: 'admin', style: 'seed-v1' } }, async (request, reply) => {
    const body = parseInput(V1RestartBody, bodyOrEmpty(request.body), 'body');
    const r = await core.restart(core.defaultTargetId(), body.graceful ?? true);
    if (r.status === 'failed') return reply.status(500).send({ status: 'failed', message: r.message, code: 'ERR_HOOK_FAILED' });
    return { status: r.status, message: r.message };
  });
}

function failedUpdate(reply: FastifyReply, code: string, message: string, progress: number, status: number): FastifyReply {
  const base = errorBody({ status, code, message }, 'seed-v1');
  return reply.status(status).send({ ...base, progress, message: 'Update failed', requires_restart: false, error: message });
}
