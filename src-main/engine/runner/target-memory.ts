/**
 * What the runner knows about each target, in memory, so status reads are reads: a snapshot of
 * the persisted facts (installed version, rollback point count, runtime.json) plus the live
 * state. Views are built from memory; the disk is read again only when the snapshot is older
 * than `maxAgeMs` and no operation of this process is running on the target (another process —
 * a CLI next to the daemon — may have changed it), one refresh at a time per target.
 *
 * A fact that cannot be read (a corrupt installed.json, point.json or runtime.json: ERR_STATE_CORRUPT
 * naming the file; a damaged point is listed among the others) does not make the snapshot fail: it is the snapshot's `damage`, shown as the
 * target's error, while the facts that could be read are shown as they are. So one damaged target
 * never hides the others from a list; operations on it refuse with that error.
 */
import { TARGET_VIEW_MAX_FILES, type ErrorView, type ReleaseView, type RolloutPending, type TargetView } from '../../../src-shared/api';
import { errorFromJson, toUpkeepError, type UpkeepError } from '../../../src-shared/errors';
import { restingState, type RestingFacts, type TargetState } from '../../../src-shared/target-state';
import type { LoadedConfig } from '../config/load';
import type { TargetConfig } from '../config/schema';
import type { TargetDriver } from '../drivers';
import { effectivePolicy } from '../policy';
import { availableRelease, emptyRuntime, type RuntimeState } from '../state/store';

export interface Snapshot {
  /** The installed version (null: nothing installed, or installed.json could not be read: see `damage`). */
  current: string | null;
  points_count: number;
  runtime: RuntimeState;
  /** The driver's facts for views (commit, digests), empty for most kinds. */
  facts: Array<{ label: string; value: string }>;
  /**
   * Why the target's persisted state could not all be read (the first failure: a corrupt state
   * file is ERR_STATE_CORRUPT with `details.file`), or null. The facts it concerns are empty.
   */
  damage: UpkeepError | null;
  /**
   * True when `damage` is only a damaged rollback point (the other points are listed): a rollback
   * that does not consume it may still run (the driver refuses one that would).
   */
  damage_in_points_only?: boolean;
  /** Clock.monoMs() when read. */
  read_at: number;
}

/**
 * The facts of one target as read from disk (see Snapshot); never rejects for an unreadable state
 * file. `known`: the error of a failed recovery of the target (a corrupt journal), its damage while
 * the driver still has something to recover.
 */
export async function readTargetFacts(
  driverOf: () => Promise<TargetDriver>,
  runtimeOf: () => Promise<RuntimeState>,
  known: UpkeepError | null,
): Promise<Omit<Snapshot, 'read_at'>> {
  const driver = await driverOf().then((d) => ({ d }), (err: unknown) => ({ err }));
  const d = 'd' in driver ? driver.d : null;
  // Without a driver its facts are unknown (the driver's error is the damage); runtime.json is still read.
  const noDriver = (): Promise<never> => Promise.reject(new Error('no driver'));
  const [current, points, runtime, facts] = await Promise.allSettled([
    d ? d.currentVersion() : noDriver(),
    d ? d.points() : noDriver(),
    runtimeOf(),
    d ? Promise.resolve(d.facts?.() ?? []) : noDriver(),
  ]);
  // A failed recovery stands while something is still left to recover (the journal is still there).
  const recovery = known && (!d?.recoveryPending || d.recoveryPending()) ? known : null;
  // The first failure in a fixed order, so the error shown does not depend on timing.
  const failure = 'err' in driver ? { reason: driver.err } : [current, points, runtime, facts].find((r): r is PromiseRejectedResult => r.status === 'rejected');
  // A damaged point is listed with its error: it is the target's damage when nothing else is.
  const bad = points.status === 'fulfilled' ? points.value.find((p) => p.error)?.error : undefined;
  const pointDamage = bad ? errorFromJson(bad) : null;
  const damage = recovery ?? (failure ? toUpkeepError(failure.reason) : pointDamage);
  return {
    current: current.status === 'fulfilled' ? current.value : null,
    points_count: points.status === 'fulfilled' ? points.value.length : 0,
    runtime: runtime.status === 'fulfilled' ? runtime.value : emptyRuntime(),
    facts: facts.status === 'fulfilled' ? facts.value : [],
    damage,
    damage_in_points_only: damage !== null && damage === pointDamage,
  };
}

/** The target's error as views show it: the damage of its state, else the last operation's. */
function shownError(s: Snapshot): ErrorView | null {
  return s.damage ? s.damage.toJSON() : (s.runtime.last_error ?? null);
}

/** The available release worth showing: the last check's, unless it is now installed. */
export function shownAvailable(s: Snapshot): ReleaseView | null {
  const a = availableRelease(s.runtime.available);
  return a && a.version !== s.current ? a : null;
}

/**
 * The release as a target view lists it: at most TARGET_VIEW_MAX_FILES files, with the whole
 * count in `file_count` (a view of a release with 2,000 files would otherwise be megabytes on
 * every status read). Views stored before `file_count` existed get it from their file list.
 */
export function listedRelease(a: ReleaseView | null): ReleaseView | null {
  if (!a) return null;
  const count = typeof a.file_count === 'number' ? a.file_count : a.files.length;
  if (a.files.length <= TARGET_VIEW_MAX_FILES && count === a.file_count) return a;
  return { ...a, files: a.files.slice(0, TARGET_VIEW_MAX_FILES), file_count: count };
}

/** The version held after a manual rollback, unless it is the installed one. */
export function shownHeld(s: Snapshot): string | null {
  const held = s.runtime.held_version;
  return held !== null && held !== s.current ? held : null;
}

/**
 * The release a staged rollout holds back from this machine, as the last check saw it, unless it
 * has since been installed or become available.
 */
export function shownRolloutPending(s: Snapshot): RolloutPending | null {
  const p = s.runtime.rollout_pending;
  if (!p || p.version === s.current || p.version === shownAvailable(s)?.version) return null;
  return p;
}

/** The facts the resting state is derived from. */
export function restingFacts(s: Snapshot): RestingFacts {
  const a = shownAvailable(s);
  return {
    last_error: shownError(s),
    last_checked_at: s.runtime.last_checked_at ?? null,
    available: a ? { version: a.version, is_critical: a.is_critical, is_breaking: a.is_breaking } : null,
  };
}

/** The view UIs show, from memory. */
export function buildView(loaded: LoadedConfig, t: TargetConfig, s: Snapshot, state: TargetState | undefined): TargetView {
  return {
    id: t.id,
    name: t.name ?? t.id,
    kind: t.kind,
    layout: t.kind === 'files' ? t.layout : null,
    install_dir: t.install_dir,
    product: t.product ?? t.id,
    current_version: s.current,
    state: state ?? restingState(restingFacts(s)),
    available: listedRelease(shownAvailable(s)),
    policy: effectivePolicy(t, s.runtime.settings, loaded.config.check_interval),
    last_checked_at: s.runtime.last_checked_at ?? null,
    last_error: shownError(s),
    points_count: s.points_count,
    held_version: shownHeld(s),
    rollout_pending: shownRolloutPending(s),
    ...(s.facts.length > 0 ? { facts: s.facts } : {}),
  };
}

/** Per-target snapshots with single-flight refreshes. */
export class SnapshotCache {
  private readonly snaps = new Map<string, Snapshot>();
  private readonly loading = new Map<string, Promise<Snapshot>>();

  constructor(private readonly read: (id: string) => Promise<Omit<Snapshot, 'read_at'>>, private readonly monoMs: () => number) {}

  /**
   * The snapshot of `id`, re-read when missing or older than `maxAgeMs` (Infinity: never re-read).
   * A damaged one is always re-read: a repaired file shows at once.
   */
  async get(id: string, maxAgeMs: number): Promise<Snapshot> {
    const s = this.snaps.get(id);
    if (s && !s.damage && this.monoMs() - s.read_at < maxAgeMs) return s;
    return this.refresh(id);
  }

  /** The snapshot in memory, if any (never reads). */
  peek(id: string): Snapshot | undefined {
    return this.snaps.get(id);
  }

  /** Reads the facts of `id` again; concurrent callers share one read. */
  refresh(id: string): Promise<Snapshot> {
    let p = this.loading.get(id);
    if (!p) {
      p = this.read(id).then((s) => {
        const snap = { ...s, read_at: this.monoMs() };
        this.snaps.set(id, snap);
        return snap;
      }).finally(() => this.loading.delete(id));
      this.loading.set(id, p);
    }
    return p;
  }

  /**
   * Reads the facts of `id` again, starting after any read already in flight (that one may have
   * read the file before a write the caller just made).
   */
  async reload(id: string): Promise<Snapshot> {
    await this.loading.get(id)?.catch(() => undefined);
    return this.refresh(id);
  }

  /** Replaces the runtime part after this process wrote it. */
  setRuntime(id: string, runtime: RuntimeState): void {
    const s = this.snaps.get(id);
    if (s) this.snaps.set(id, { ...s, runtime });
  }

  /** Forgets everything (config reload). */
  clear(): void {
    this.snaps.clear();
  }
}
