/**
 * The driver of `git` targets: a git work tree moved to a newer commit (tag or branch head).
 *
 * apply: refuse local changes to tracked files (or stash them) → rollback point (previous
 * commit, lockfiles and `backup_paths` copied; `aside_paths` — the dependency folder, build
 * output — moved aside by rename, never copied) → checkout detached → install (from the lockfile)
 * → migrate → build → smoke → health. Any failure after the point restores the commit, the
 * moved-aside folders, the backed-up files and the stash, then runs the rollback hook. Other
 * untracked files (user data, logs) are never touched.
 *
 * Crash safety: an operation marker (`git-operation.json`) is written durably before the first
 * change and removed after the last. A marker found by `recover()` means a crash interrupted the
 * operation: an apply is undone (previous commit and dependencies back), a rollback is finished.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import rcompare from 'semver/functions/rcompare';
import { z } from 'zod';
import type { ErrorView, RollbackPointView } from '../../../src-shared/api';
import { UpkeepError } from '../../../src-shared/errors';
import { newRollbackId } from '../apply/points';
import type { GitTargetConfig } from '../config/schema';
import { errorView, hookAsWarning, rollbackWithHook, runPointSteps, undoFailedApply } from '../drivers/point-steps';
import { pointOrNewest, readPointRecords } from '../drivers/point-records';
import type { ApplyOutcome, ApplyPlan, ApplyPreview, DriverEnv, ProgressSink, RecoveryResult, RollbackOutcome, TargetDriver, TargetFact } from '../drivers/driver';
import type { Feed } from '../feed/feed';
import type { Release } from '../feed/release';
import { exists, mkdirDurable, readJson, writeJsonDurable } from '../fs/atomic';
import { runHealthCheck } from '../health';
import { runHook, type HookContext } from '../hooks';
import { GitCli, detectInstallCommand } from './git-cli';
import { GitFeed, SHORT_COMMIT, tagVersion } from './git-feed';
import { tagVerifier } from './tag-signature';

/** Lockfiles copied into every rollback point. */
const LOCKFILES = ['package-lock.json', 'npm-shrinkwrap.json', 'pnpm-lock.yaml', 'yarn.lock'];
/** Inside the work tree (same filesystem, so folders move aside by rename); excluded from git. */
const ASIDE_DIR = '.upkeep';

const GitStateSchema = z.object({ version: z.string(), commit: z.string(), updated_at: z.string() }).strict();
const PointSchema = z.object({
  rollback_id: z.string(),
  target: z.string(),
  from_version: z.string().nullable(),
  to_version: z.string(),
  from_commit: z.string(),
  to_commit: z.string(),
  created_at: z.string(),
  /** `aside_paths` entries and whether each existed (and was moved aside into the point). */
  aside: z.array(z.object({ path: z.string(), present: z.boolean() }).strict()),
  /** Files copied into the point (relative to install_dir); missing ones are recorded as absent. */
  files: z.array(z.object({ path: z.string(), present: z.boolean() }).strict()),
  /** Stash commit of local changes stashed by this update. */
  stash: z.string().nullable(),
  size_bytes: z.number(),
}).strict();
const MarkerSchema = z.object({
  op: z.enum(['apply', 'rollback']),
  rollback_id: z.string(),
  /** `aside_paths` entries moved aside so far (apply). */
  moved: z.array(z.string()),
}).strict();

type Point = z.infer<typeof PointSchema>;
type Marker = z.infer<typeof MarkerSchema>;

async function sizeOf(p: string): Promise<number> {
  try {
    const st = await fsp.lstat(p);
    if (!st.isDirectory()) return st.size;
    let n = 0;
    for (const e of await fsp.readdir(p)) n += await sizeOf(path.join(p, e));
    return n;
  } catch {
    return 0;
  }
}

/** The `git` target driver. */
export class GitDriver implements TargetDriver {
  readonly kind = 'git' as const;
  readonly git: GitCli;
  private readonly stateFile: string;
  private readonly markerFile: string;

  constructor(private readonly t: GitTargetConfig, private readonly env: DriverEnv, signal?: AbortSignal) {
    this.git = new GitCli({ cwd: t.install_dir, timeoutMs: t.hook_timeout * 1000, ...(signal ? { signal } : {}) });
    this.stateFile = path.join(env.paths.stateDir, 'git-state.json');
    this.markerFile = path.join(env.paths.stateDir, 'git-operation.json');
  }

  private pointDir(id: string): string {
    return path.join(this.env.paths.pointsDir, id);
  }

  private asideDir(id: string): string {
    return path.join(this.t.install_dir, ASIDE_DIR, 'points', id);
  }

  /** The absolute path of a configured relative path; ERR_CONFIG_INVALID when it leaves install_dir. */
  private insideInstallDir(rel: string): string {
    const abs = path.resolve(this.t.install_dir, rel);
    if (!abs.startsWith(path.resolve(this.t.install_dir) + path.sep) || rel.split(/[\\/]/).includes('.git')) {
      throw new UpkeepError('ERR_CONFIG_INVALID', `${rel} is not a path inside install_dir (${this.t.install_dir})`, { path: rel });
    }
    return abs;
  }

  private hookCtx(from: string | null, to: string | null, signal: AbortSignal): HookContext {
    return { target: this.t.id, fromVersion: from, toVersion: to, installDir: this.t.install_dir, defaultTimeoutMs: this.t.hook_timeout * 1000, signal };
  }

  ownFeed(o: { channel: string }): Feed {
    return new GitFeed(this.t, { git: this.git, channel: o.channel, verifyTag: tagVerifier(this.t, this.git, undefined, () => this.env.clock.now()) });
  }

  async facts(): Promise<TargetFact[]> {
    const head = await this.currentCommit();
    return [
      { label: 'Commit', value: head ? head.slice(0, SHORT_COMMIT) : 'not a git work tree' },
      { label: 'Tracks', value: 'tags' in this.t.track ? `${this.t.remote} tags ${this.t.track.tags}` : `${this.t.remote}/${this.t.track.branch}` },
    ];
  }

  async currentVersion(): Promise<string | null> {
    let head: string;
    try {
      head = await this.git.commitOf('HEAD');
    } catch {
      return null;
    }
    const recorded = await readJson(this.stateFile, GitStateSchema);
    if (recorded && recorded.commit === head) return recorded.version;
    if ('tags' in this.t.track) {
      const names = (await this.git.run(['tag', '--points-at', head, '--list', this.t.track.tags])).stdout.split('\n').map((s) => s.trim()).filter(Boolean);
      const versions = names.map(tagVersion).filter((v): v is string => v !== null);
      if (versions.length > 0) return versions.sort(rcompare)[0] ?? null;
    }
    return head.slice(0, SHORT_COMMIT);
  }

  /** The commit currently checked out. */
  async currentCommit(): Promise<string | null> {
    return this.git.commitOf('HEAD').catch(() => null);
  }

  private readPoints(): Promise<Point[]> {
    return readPointRecords(this.env.paths.pointsDir, PointSchema);
  }

  async points(): Promise<RollbackPointView[]> {
    return (await this.readPoints()).map((p) => ({
      rollback_id: p.rollback_id, target: p.target, from_version: p.from_version, to_version: p.to_version,
      created_at: p.created_at, size_bytes: p.size_bytes, files: p.files.filter((f) => f.present).length,
    }));
  }

  accepts(release: Release): boolean {
    return typeof release.build_commit === 'string' && /^[0-9a-f]{40,64}$/.test(release.build_commit);
  }

  async preview(plan: ApplyPlan): Promise<ApplyPreview> {
    return this.diff('HEAD', this.commitOfPlan(plan));
  }

  private commitOfPlan(plan: ApplyPlan): string {
    const c = plan.release?.build_commit;
    if (!c) throw new UpkeepError('ERR_NO_RELEASE', `${plan.to} names no commit to check out`, { version: plan.to });
    return c;
  }

  async recover(): Promise<RecoveryResult> {
    const marker = await readJson(this.markerFile, MarkerSchema);
    if (!marker) return 'none';
    const point = await readJson(path.join(this.pointDir(marker.rollback_id), 'point.json'), PointSchema);
    if (!point) {
      // The crash came before the point was complete: nothing was changed yet.
      await fsp.rm(this.markerFile, { force: true });
      await fsp.rm(this.pointDir(marker.rollback_id), { recursive: true, force: true });
      return 'none';
    }
    await this.restore(point, marker.op === 'apply' ? marker.moved : point.aside.map((a) => a.path));
    if (marker.op === 'rollback') await this.finishRollback(point);
    else await fsp.rm(this.pointDir(point.rollback_id), { recursive: true, force: true });
    await fsp.rm(this.markerFile, { force: true });
    return marker.op === 'apply' ? 'rolled-back' : 'completed';
  }

  async apply(plan: ApplyPlan, signal: AbortSignal, onProgress: ProgressSink): Promise<ApplyOutcome> {
    const t = this.t;
    const to = this.commitOfPlan(plan);
    const git = new GitCli({ cwd: t.install_dir, timeoutMs: t.hook_timeout * 1000, signal });
    await git.assertWorkTree();
    const changes = await git.changes();
    if (changes.length > 0 && t.on_local_change === 'refuse') {
      throw new UpkeepError('ERR_LOCAL_CHANGES', `${t.install_dir} has local changes to tracked files: ${changes.slice(0, 20).map((c) => c.path).join(', ')}${changes.length > 20 ? ` and ${changes.length - 20} more` : ''} (commit or discard them, or set on_local_change: stash)`, { files: changes.map((c) => c.path) });
    }
    const hooks = this.hookCtx(plan.from, plan.to, signal);
    onProgress({ phase: 'stage', message: 'Running pre_apply hook', done: 0, total: 1 });
    await runHook('pre_apply', t.hooks.pre_apply, hooks);
    const fromCommit = await git.commitOf('HEAD');
    const id = newRollbackId(this.env.clock.now());
    const warnings: string[] = [];

    // Rollback point: files copied first, then the marker, then the changes.
    onProgress({ phase: 'backup', message: 'Creating rollback point', done: 0, total: 1 });
    const dir = this.pointDir(id);
    await mkdirDurable(path.join(dir, 'files'));
    const files: Point['files'] = [];
    for (const rel of [...new Set([...LOCKFILES, ...t.backup_paths])]) {
      const src = this.insideInstallDir(rel);
      const present = await exists(src);
      if (present) {
        await fsp.mkdir(path.dirname(path.join(dir, 'files', rel)), { recursive: true });
        await fsp.cp(src, path.join(dir, 'files', rel), { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
      } else if (!LOCKFILES.includes(rel)) {
        files.push({ path: rel, present: false });
        continue;
      }
      if (present) files.push({ path: rel, present: true });
    }
    const aside: Point['aside'] = [];
    for (const rel of t.aside_paths) {
      this.insideInstallDir(rel);
      aside.push({ path: rel, present: await exists(path.join(t.install_dir, rel)) });
    }
    const point: Point = {
      rollback_id: id, target: t.id, from_version: plan.from, to_version: plan.to, from_commit: fromCommit, to_commit: to,
      created_at: this.env.clock.now().toISOString(), aside, files, stash: null, size_bytes: await sizeOf(path.join(dir, 'files')),
    };
    const marker: Marker = { op: 'apply', rollback_id: id, moved: [] };
    await writeJsonDurable(this.markerFile, marker);
    await writeJsonDurable(path.join(dir, 'point.json'), point);

    const undo = (cause: ErrorView, step: string): Promise<ApplyOutcome> => {
      onProgress({ phase: 'rollback', message: `Rolling back (${step} failed)`, done: 0, total: 1 });
      return undoFailedApply({
        cause, warnings, hook: t.hooks.rollback, hookCtx: this.hookCtx(plan.to, plan.from, new AbortController().signal),
        restore: async () => {
          await this.restore(point, marker.moved);
          await fsp.rm(dir, { recursive: true, force: true });
          await fsp.rm(this.markerFile, { force: true });
        },
      });
    };
    try {
      if (changes.length > 0) {
        point.stash = await git.stash(`upkeep: before ${plan.to} (${id})`);
        if (point.stash) warnings.push(`Local changes to tracked files were stashed as ${point.stash.slice(0, SHORT_COMMIT)}`);
        await writeJsonDurable(path.join(dir, 'point.json'), point);
      }
      for (const a of aside.filter((x) => x.present)) {
        await this.excludeAsideDir();
        const dest = path.join(this.asideDir(id), a.path);
        await fsp.mkdir(path.dirname(dest), { recursive: true });
        marker.moved.push(a.path);
        await writeJsonDurable(this.markerFile, marker);
        await fsp.rename(path.join(t.install_dir, a.path), dest);
      }
      onProgress({ phase: 'switch', message: `Checking out ${plan.release?.tag_name ?? plan.to}`, done: 0, total: 1 });
      await git.checkoutDetached(to, { force: true });
    } catch (err) {
      return undo(errorView(err), 'checkout');
    }
    const install = t.install === 'auto'
      ? detectInstallCommand(new Set(await fsp.readdir(t.install_dir).catch(() => [])))
      : t.install === 'none' ? null : t.install;
    const failed = await runPointSteps([
      { name: 'install', phase: 'step', message: `Installing dependencies (${install ? (typeof install === 'string' ? install : install.run) : ''})`, run: install ? () => runHook('install', install, { ...hooks, kind: 'step' }) : undefined },
      { name: 'migrate', phase: 'migrate', message: 'Running migrate hook', run: t.hooks.migrate ? () => runHook('migrate', t.hooks.migrate, hooks) : undefined },
      { name: 'build', phase: 'step', message: 'Building', run: t.build ? () => runHook('build', t.build, { ...hooks, kind: 'step' }) : undefined },
      { name: 'smoke', phase: 'smoke', message: 'Running smoke hook', run: t.hooks.smoke ? () => runHook('smoke', t.hooks.smoke, hooks) : undefined },
      { name: 'health', phase: 'health', message: 'Checking health', run: t.health ? () => runHealthCheck(t.health!, { version: plan.to, signal, cwd: t.install_dir }) : undefined },
    ], onProgress);
    if (failed) return undo(errorView(failed.error), failed.step);

    // Commit: the new commit is recorded, then the marker goes.
    onProgress({ phase: 'commit', message: `Updated to ${plan.to}`, done: 1, total: 1 });
    const preview = await this.diff(fromCommit, to).catch(() => ({ files_updated: [], files_removed: [] }));
    await writeJsonDurable(this.stateFile, { version: plan.to, commit: to, updated_at: this.env.clock.now().toISOString() });
    await fsp.rm(this.markerFile, { force: true });
    await hookAsWarning('post_apply', t.hooks.post_apply, this.hookCtx(plan.from, plan.to, new AbortController().signal), warnings);
    warnings.push(...await this.prune(plan.retention));
    return { kind: 'committed', files_updated: preview.files_updated, files_removed: preview.files_removed, rollback_id: id, warnings };
  }

  /** Tracked paths changed (and removed) between two commits, at most 1000 of each. */
  private async diff(from: string, to: string): Promise<ApplyPreview> {
    const out = (await this.git.run(['diff', '--name-status', '--no-renames', '-z', from, to])).stdout.split('\0').filter(Boolean);
    const updated: string[] = [];
    const removed: string[] = [];
    for (let i = 0; i + 1 < out.length; i += 2) (out[i] === 'D' ? removed : updated).push(out[i + 1] ?? '');
    return { files_updated: updated.slice(0, 1000), files_removed: removed.slice(0, 1000) };
  }

  /** Keeps `.upkeep/` out of `git status` through the repository's own exclude file. */
  private async excludeAsideDir(): Promise<void> {
    const gitDir = (await this.git.run(['rev-parse', '--git-path', 'info/exclude'])).stdout.trim();
    const file = path.resolve(this.t.install_dir, gitDir);
    const text = await fsp.readFile(file, 'utf8').catch(() => '');
    if (text.split(/\r?\n/).includes(`/${ASIDE_DIR}/`)) return;
    await fsp.mkdir(path.dirname(file), { recursive: true });
    await fsp.appendFile(file, `${text === '' || text.endsWith('\n') ? '' : '\n'}/${ASIDE_DIR}/\n`);
  }

  /**
   * Puts the work tree back as `point` found it: its commit, its `aside_paths` (those in `moved`
   * come back from the point; those absent before are removed), its backed-up files and its
   * stash. Idempotent, so recovery may run it again after a crash inside it.
   */
  private async restore(point: Point, moved: string[]): Promise<void> {
    const t = this.t;
    await this.git.checkoutDetached(point.from_commit, { force: true });
    for (const a of point.aside) {
      const live = path.join(t.install_dir, a.path);
      const kept = path.join(this.asideDir(point.rollback_id), a.path);
      if (moved.includes(a.path) && await exists(kept)) {
        await fsp.rm(live, { recursive: true, force: true });
        await fsp.mkdir(path.dirname(live), { recursive: true });
        await fsp.rename(kept, live);
      } else if (!a.present) {
        await fsp.rm(live, { recursive: true, force: true });
      }
    }
    await fsp.rm(this.asideDir(point.rollback_id), { recursive: true, force: true });
    for (const f of point.files) {
      const dest = path.join(t.install_dir, f.path);
      if (!f.present) {
        await fsp.rm(dest, { recursive: true, force: true });
        continue;
      }
      await fsp.rm(dest, { recursive: true, force: true });
      await fsp.mkdir(path.dirname(dest), { recursive: true });
      await fsp.cp(path.join(this.pointDir(point.rollback_id), 'files', f.path), dest, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
    }
    if (point.stash) {
      await this.git.unstash(point.stash);
      point.stash = null;
    }
  }

  async rollback(pointId: string | null, _opId: string, signal: AbortSignal, onProgress: ProgressSink): Promise<RollbackOutcome> {
    const point = pointOrNewest(await this.readPoints(), pointId, this.t.id);
    const current = await this.currentVersion();
    onProgress({ phase: 'rollback', message: `Rolling back to ${point.from_version ?? point.from_commit.slice(0, SHORT_COMMIT)}`, done: 0, total: 2 });
    await writeJsonDurable(this.markerFile, { op: 'rollback', rollback_id: point.rollback_id, moved: point.aside.map((a) => a.path) } satisfies Marker);
    return rollbackWithHook({
      rollbackId: point.rollback_id, version: point.from_version, fromVersion: current, onProgress,
      hook: this.t.hooks.rollback, hookCtx: this.hookCtx(current, point.from_version, signal),
      restore: async () => {
        await this.restore(point, point.aside.map((a) => a.path));
        await this.finishRollback(point);
        await fsp.rm(this.markerFile, { force: true });
      },
    });
  }

  /** Records the point's from-commit as installed and removes the point and every newer one. */
  private async finishRollback(point: Point): Promise<void> {
    const newer = (await this.readPoints()).filter((p) => p.created_at >= point.created_at);
    if (point.from_version) {
      await writeJsonDurable(this.stateFile, { version: point.from_version, commit: point.from_commit, updated_at: this.env.clock.now().toISOString() });
    } else {
      await fsp.rm(this.stateFile, { force: true });
    }
    for (const p of newer) {
      await fsp.rm(this.asideDir(p.rollback_id), { recursive: true, force: true });
      await fsp.rm(this.pointDir(p.rollback_id), { recursive: true, force: true });
    }
  }

  /** Removes rollback points beyond `retention` (newest kept); returns warnings for failures. */
  private async prune(retention: number): Promise<string[]> {
    const warnings: string[] = [];
    for (const p of (await this.readPoints()).slice(retention)) {
      try {
        await fsp.rm(this.asideDir(p.rollback_id), { recursive: true, force: true });
        await fsp.rm(this.pointDir(p.rollback_id), { recursive: true, force: true });
      } catch (err) {
        warnings.push(`could not remove rollback point ${p.rollback_id}: ${(err as Error).message}`);
      }
    }
    return warnings;
  }
}

/** The driver factory registered for `kind: git`. */
export function createGitDriver(t: GitTargetConfig, env: DriverEnv): TargetDriver {
  return new GitDriver(t, env);
}
