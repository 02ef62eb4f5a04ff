/**
 * The driver of `compose` targets: a Docker Compose stack whose services are moved to the image
 * digests a check resolved. Upkeep never edits the user's compose file: it writes an override
 * (`compose-pin.yml` in the target's state dir) pinning each managed service to a digest and
 * passes it as a second `-f`.
 *
 * apply: rollback point (the digests running now) → pin the new digests → `docker compose pull`
 * + `up -d` for the changed services → smoke hook → health check. On failure the previous digests
 * are pinned again and `up -d` recreates the changed services from them; then the rollback hook.
 * After a success, rollback points beyond retention go, and so do their images (`docker image rm`)
 * unless still pinned by a kept point.
 *
 * Crash safety: an operation marker is written before the first change; `recover()` finds it
 * after a crash and pins the point's digests again (apply) or finishes the rollback.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { ErrorView, RollbackPointView } from '../../../src-shared/api';
import { UpkeepError } from '../../../src-shared/errors';
import { newRollbackId } from '../apply/points';
import type { ComposeTargetConfig } from '../config/schema';
import { errorView, hookAsWarning, rollbackWithHook, runPointSteps, undoFailedApply } from '../drivers/point-steps';
import { pointOrNewest, readPointRecords } from '../drivers/point-records';
import type { ApplyOutcome, ApplyPlan, ApplyPreview, DriverEnv, ProgressSink, RecoveryResult, RollbackOutcome, TargetDriver, TargetFact } from '../drivers/driver';
import type { Feed } from '../feed/feed';
import type { Release } from '../feed/release';
import { exists, mkdirDurable, readJson, writeJsonDurable } from '../fs/atomic';
import { runHealthCheck } from '../health';
import { runHook, type HookContext } from '../hooks';
import { readComposeServices, writePinFile } from './compose-file';
import { ComposeFeed, pinsOfRelease, pinsVersion, type Pins } from './compose-feed';
import { DockerCli } from './docker-cli';
import { parseImageRef } from './image-ref';

const PinsSchema = z.record(z.string(), z.string());
const StateSchema = z.object({ version: z.string(), pins: PinsSchema, updated_at: z.string() }).strict();
const PointSchema = z.object({
  rollback_id: z.string(), target: z.string(), from_version: z.string().nullable(), to_version: z.string(),
  created_at: z.string(), from_pins: PinsSchema, to_pins: PinsSchema,
}).strict();
const MarkerSchema = z.object({ op: z.enum(['apply', 'rollback']), rollback_id: z.string() }).strict();
type Point = z.infer<typeof PointSchema>;

/** Services whose pin differs between two pin sets (added, changed or removed). */
export function changedServices(from: Pins, to: Pins): string[] {
  return [...new Set([...Object.keys(from), ...Object.keys(to)])].filter((s) => from[s] !== to[s]).sort();
}

/** The `compose` target driver. */
export class ComposeDriver implements TargetDriver {
  readonly kind = 'compose' as const;
  private readonly stateFile: string;
  private readonly markerFile: string;
  private readonly pinFile: string;

  constructor(private readonly t: ComposeTargetConfig, private readonly env: DriverEnv) {
    this.stateFile = path.join(env.paths.stateDir, 'compose-state.json');
    this.markerFile = path.join(env.paths.stateDir, 'compose-operation.json');
    this.pinFile = path.join(env.paths.stateDir, 'compose-pin.yml');
  }

  private installDir(): string {
    return this.t.install_dir ?? path.dirname(this.t.compose_file);
  }

  private async docker(signal?: AbortSignal): Promise<DockerCli> {
    return new DockerCli({
      bin: this.t.docker, composeFile: this.t.compose_file, pinFile: await exists(this.pinFile) ? this.pinFile : null,
      ...(this.t.project_name ? { projectName: this.t.project_name } : {}), timeoutMs: this.t.command_timeout * 1000,
      ...(signal ? { signal } : {}),
    });
  }

  private hookCtx(from: string | null, to: string | null, signal: AbortSignal): HookContext {
    return { target: this.t.id, fromVersion: from, toVersion: to, installDir: this.installDir(), defaultTimeoutMs: this.t.hook_timeout * 1000, signal };
  }

  /** The digests running now: Upkeep's record, else what the containers were created from. */
  async runningPins(signal?: AbortSignal): Promise<Pins> {
    const recorded = await readJson(this.stateFile, StateSchema);
    if (recorded) return recorded.pins;
    const docker = await this.docker(signal);
    const pins: Pins = {};
    for (const s of await readComposeServices(this.t.compose_file, this.t.services)) {
      const want = `${s.ref.registry}/${s.ref.repository}`;
      const digests = await docker.runningRepoDigests(s.name);
      const match = digests.find((d) => {
        try {
          const r = parseImageRef(d);
          return `${r.registry}/${r.repository}` === want;
        } catch {
          return false;
        }
      });
      if (match) pins[s.name] = `${want}@${match.slice(match.indexOf('@') + 1)}`;
    }
    return pins;
  }

  ownFeed(o: { channel: string }): Feed {
    return new ComposeFeed(this.t, o.channel, undefined, this.env.clock);
  }

  async facts(): Promise<TargetFact[]> {
    const pins = await this.recordedPins();
    if (!pins) return [{ label: 'Images', value: 'not yet managed by Upkeep' }];
    return Object.entries(pins).map(([svc, ref]) => ({ label: svc, value: ref.slice(ref.indexOf('@') + 1, ref.indexOf('@') + 20) + '…' }));
  }

  async currentVersion(): Promise<string | null> {
    const recorded = await readJson(this.stateFile, StateSchema);
    if (recorded) return recorded.version;
    const pins = await this.runningPins().catch(() => ({}));
    return Object.keys(pins).length > 0 ? pinsVersion(pins) : null;
  }

  /** Digests per managed service as Upkeep recorded them (for status views), null before the first apply. */
  async recordedPins(): Promise<Pins | null> {
    return (await readJson(this.stateFile, StateSchema))?.pins ?? null;
  }

  private readPoints(): Promise<Point[]> {
    return readPointRecords(this.env.paths.pointsDir, PointSchema);
  }

  async points(): Promise<RollbackPointView[]> {
    return (await this.readPoints()).map((p) => ({
      rollback_id: p.rollback_id, target: p.target, from_version: p.from_version, to_version: p.to_version,
      created_at: p.created_at, size_bytes: 0, files: Object.keys(p.from_pins).length,
    }));
  }

  accepts(release: Release): boolean {
    return release.source.feed_type === 'compose' && release.source.bytes !== null;
  }

  async preview(plan: ApplyPlan): Promise<ApplyPreview> {
    if (!plan.release) throw new UpkeepError('ERR_NO_RELEASE', 'a compose update needs a checked release');
    return { files_updated: changedServices(await this.runningPins(), pinsOfRelease(plan.release)), files_removed: [] };
  }

  async recover(): Promise<RecoveryResult> {
    const marker = await readJson(this.markerFile, MarkerSchema);
    if (!marker) return 'none';
    const point = await readJson(path.join(this.env.paths.pointsDir, marker.rollback_id, 'point.json'), PointSchema);
    if (point) {
      await this.switchTo(point.from_pins, changedServices(point.from_pins, point.to_pins), false);
      if (marker.op === 'rollback') await this.finishRollback(point);
      else await fsp.rm(path.join(this.env.paths.pointsDir, point.rollback_id), { recursive: true, force: true });
    }
    await fsp.rm(this.markerFile, { force: true });
    return point ? (marker.op === 'apply' ? 'rolled-back' : 'completed') : 'none';
  }

  /** Pins `pins`, then (optionally pulls and) recreates `services`. */
  private async switchTo(pins: Pins, services: string[], pull: boolean, signal?: AbortSignal): Promise<void> {
    await writePinFile(this.pinFile, pins);
    if (services.length === 0) return;
    const docker = await this.docker(signal);
    if (pull) await docker.pull(services);
    await docker.up(services);
  }

  async apply(plan: ApplyPlan, signal: AbortSignal, onProgress: ProgressSink): Promise<ApplyOutcome> {
    if (!plan.release) throw new UpkeepError('ERR_NO_RELEASE', 'a compose update needs a checked release');
    const to = pinsOfRelease(plan.release);
    const from = await this.runningPins(signal);
    const changed = changedServices(from, to).filter((s) => s in to);
    const hooks = this.hookCtx(plan.from, plan.to, signal);
    onProgress({ phase: 'stage', message: 'Running pre_apply hook', done: 0, total: 1 });
    await runHook('pre_apply', this.t.hooks.pre_apply, hooks);
    const id = newRollbackId(this.env.clock.now());
    const point: Point = {
      rollback_id: id, target: this.t.id, from_version: plan.from, to_version: plan.to,
      created_at: this.env.clock.now().toISOString(), from_pins: from, to_pins: to,
    };
    onProgress({ phase: 'backup', message: 'Recording the running image digests', done: 0, total: 1 });
    await mkdirDurable(path.join(this.env.paths.pointsDir, id));
    await writeJsonDurable(this.markerFile, { op: 'apply', rollback_id: id });
    await writeJsonDurable(path.join(this.env.paths.pointsDir, id, 'point.json'), point);
    const warnings: string[] = [];
    const undo = (cause: ErrorView, step: string): Promise<ApplyOutcome> => {
      onProgress({ phase: 'rollback', message: `Rolling back (${step} failed)`, done: 0, total: 1 });
      return undoFailedApply({
        cause, warnings, hook: this.t.hooks.rollback, hookCtx: this.hookCtx(plan.to, plan.from, new AbortController().signal),
        restore: async () => {
          // The previous images are still local: no pull needed to recreate from them.
          await this.switchTo(from, changed, false);
          await fsp.rm(path.join(this.env.paths.pointsDir, id), { recursive: true, force: true });
          await fsp.rm(this.markerFile, { force: true });
        },
      });
    };
    let step = 'pull';
    try {
      onProgress({ phase: 'switch', message: `Pulling ${changed.join(', ')}`, done: 0, total: 2 });
      await writePinFile(this.pinFile, to);
      const docker = await this.docker(signal);
      await docker.pull(changed);
      step = 'up';
      onProgress({ phase: 'switch', message: `Recreating ${changed.join(', ')}`, done: 1, total: 2 });
      await docker.up(changed);
    } catch (err) {
      return undo(errorView(err), step);
    }
    const failed = await runPointSteps([
      { name: 'smoke', phase: 'smoke', message: 'Running smoke hook', run: this.t.hooks.smoke ? () => runHook('smoke', this.t.hooks.smoke, hooks) : undefined },
      { name: 'health', phase: 'health', message: 'Checking health', run: this.t.health ? () => runHealthCheck(this.t.health!, { version: plan.to, signal, cwd: this.installDir() }) : undefined },
    ], onProgress);
    if (failed) return undo(errorView(failed.error), failed.step);
    onProgress({ phase: 'commit', message: `Stack at ${plan.to}`, done: 1, total: 1 });
    await writeJsonDurable(this.stateFile, { version: plan.to, pins: to, updated_at: this.env.clock.now().toISOString() });
    await fsp.rm(this.markerFile, { force: true });
    await hookAsWarning('post_apply', this.t.hooks.post_apply, this.hookCtx(plan.from, plan.to, new AbortController().signal), warnings);
    warnings.push(...await this.prune(plan.retention, to));
    return { kind: 'committed', files_updated: changed, files_removed: [], rollback_id: id, warnings };
  }

  async rollback(pointId: string | null, _opId: string, signal: AbortSignal, onProgress: ProgressSink): Promise<RollbackOutcome> {
    const point = pointOrNewest(await this.readPoints(), pointId, this.t.id);
    const current = await this.currentVersion();
    const running = await this.runningPins(signal);
    onProgress({ phase: 'rollback', message: `Pinning the digests of ${point.from_version ?? 'the previous stack'}`, done: 0, total: 2 });
    await writeJsonDurable(this.markerFile, { op: 'rollback', rollback_id: point.rollback_id });
    return rollbackWithHook({
      rollbackId: point.rollback_id, version: point.from_version, fromVersion: current, onProgress,
      hook: this.t.hooks.rollback, hookCtx: this.hookCtx(current, point.from_version, signal),
      restore: async () => {
        // A rollback may have to fetch images pruned meanwhile: pull what is pinned first.
        await this.switchTo(point.from_pins, changedServices(running, point.from_pins).filter((s) => s in point.from_pins), true, signal);
        await this.finishRollback(point);
        await fsp.rm(this.markerFile, { force: true });
      },
    });
  }

  private async finishRollback(point: Point): Promise<void> {
    if (point.from_version) {
      await writeJsonDurable(this.stateFile, { version: point.from_version, pins: point.from_pins, updated_at: this.env.clock.now().toISOString() });
    } else {
      await fsp.rm(this.stateFile, { force: true });
    }
    for (const p of (await this.readPoints()).filter((x) => x.created_at >= point.created_at)) {
      await fsp.rm(path.join(this.env.paths.pointsDir, p.rollback_id), { recursive: true, force: true });
    }
  }

  /** Drops points beyond retention and the images only they still pinned. */
  private async prune(retention: number, current: Pins): Promise<string[]> {
    const points = await this.readPoints();
    const kept = points.slice(0, retention);
    const dropped = points.slice(retention);
    if (dropped.length === 0) return [];
    const keep = new Set([...Object.values(current), ...kept.flatMap((p) => Object.values(p.from_pins))]);
    const docker = await this.docker();
    const warnings: string[] = [];
    for (const p of dropped) {
      for (const ref of Object.values(p.from_pins)) {
        if (keep.has(ref)) continue;
        keep.add(ref);
        if (!(await docker.removeImage(ref))) warnings.push(`image ${ref} was not removed (in use or already gone)`);
      }
      await fsp.rm(path.join(this.env.paths.pointsDir, p.rollback_id), { recursive: true, force: true });
    }
    return warnings;
  }
}

/** The driver factory registered for `kind: compose`. */
export function createComposeDriver(t: ComposeTargetConfig, env: DriverEnv): TargetDriver {
  return new ComposeDriver(t, env);
}
