/**
 * The seam between the operation runner and one kind of target (`files`, `command`; later `git`,
 * `compose`). A driver changes the target and says what happened as a value; it never records
 * history, notifies, writes live state or calls back into the runner — the runner does all of
 * that from the outcome (VS Code's update service template method, with the platform part as an
 * object).
 *
 * Contract of `apply` and `rollback`:
 * - throws → nothing was changed (a refused pre_apply hook, a staging failure, ERR_CANCELLED);
 * - `committed` → the new state is durable; later bookkeeping problems are `warnings`;
 * - `rolled_back { cause }` → something was changed, `cause` made the driver undo it, the target
 *   is exactly as before;
 * - `undo_failed { cause, undo_error }` → the undo itself failed; the target may be mixed until
 *   recovery (the next operation's `recover()`) finishes it.
 */
import type { ErrorView, LocalCopyView, Phase, RollbackPointView } from '../../../src-shared/api';
import type { Clock } from '../clock';
import type { TargetConfig } from '../config/schema';
import type { Limits } from '../limits';
import type { Feed } from '../feed/feed';
import type { Release } from '../feed/release';
import type { TargetPaths } from '../target-paths';

/** Target kinds (the config's `kind`). */
export type TargetKind = TargetConfig['kind'];

/** Progress of one phase of a driver's work, in the driver's own units. */
export interface DriverProgress {
  /** `health` maps to the `health-checking` state, `rollback` to `rolling-back`, the rest to `applying`. */
  phase: Phase;
  /** Human-readable line ("Staging bin/demo", "Running smoke hook"). */
  message: string;
  /** Units done and total in this phase (files, steps); total 0 when unknown. */
  done: number;
  total: number;
  /** Path of the file in flight, when the phase works file by file. */
  file?: string;
}

export type ProgressSink = (p: DriverProgress) => void;

/** One verified, downloaded artifact of the release (ReleaseFile or ReleaseArchive). */
export interface LocalArtifact {
  /** Verified bytes on local disk (the blob cache). */
  file: string;
  size: number;
  sha256: string;
}

/** What the runner asks a driver to install. */
export interface ApplyPlan {
  /** Operation id (history, journal, rollback point). */
  opId: string;
  /** Installed version before the operation, null when nothing is installed. */
  from: string | null;
  /** Version to install. */
  to: string;
  /** The verified release; null for a command target moved to a version the user named without a feed. */
  release: Release | null;
  /**
   * Downloaded artifacts by item key: a ReleaseFile's `path`, a ReleaseArchive's `name`.
   * Every downloadable item of `release` is present.
   */
  artifacts: ReadonlyMap<string, LocalArtifact>;
  /** Rollback points to keep after a successful commit. */
  retention: number;
}

/** What a verify-only run would change. */
export interface ApplyPreview {
  files_updated: string[];
  files_removed: string[];
}

/** Why an operation was undone: the error that caused it, with its safe details (step, status, …). */
export interface OutcomeCause extends ErrorView {
  details?: Record<string, unknown>;
}

/** Result of a driver's apply. */
export type ApplyOutcome =
  | { kind: 'committed'; files_updated: string[]; files_removed: string[]; rollback_id: string | null; warnings: string[]; local_copies?: LocalCopyView[] }
  | { kind: 'rolled_back'; cause: OutcomeCause; warnings: string[] }
  | { kind: 'undo_failed'; cause: OutcomeCause; undo_error: ErrorView; warnings: string[] };

/** Result of a driver's rollback to a point. */
export type RollbackOutcome =
  | {
      kind: 'committed'; rollback_id: string; version: string | null; from_version: string | null; warnings: string[]; local_copies?: LocalCopyView[];
      /**
       * Removal of what the rollback left behind (the files it moved away, the points it consumed)
       * still running; the runner awaits it before it releases the target. Never rejects: a
       * failure resolves to a warning (the next operation sweeps the leftovers).
       */
      cleanup?: Promise<string | null>;
    }
  | { kind: 'rolled_back'; cause: OutcomeCause; warnings: string[] }
  | { kind: 'undo_failed'; cause: OutcomeCause; undo_error: ErrorView; warnings: string[] };

/** What recovery of an interrupted operation did. */
export type RecoveryResult = 'none' | 'rolled-back' | 'completed';

export interface TargetDriver {
  readonly kind: TargetKind;
  /** The installed version (opaque string), null when nothing is installed. */
  currentVersion(): Promise<string | null>;
  /** Rollback points, newest first. */
  points(): Promise<RollbackPointView[]>;
  /**
   * Finishes or undoes an operation a crash interrupted. The runner calls it once per operation,
   * under the target's lock, before anything else.
   */
  recover(): Promise<RecoveryResult>;
  /**
   * False when `recover()` would find nothing to do, judged synchronously without the lock and
   * changing nothing (apply/recover.ts recoveryPending); reads then skip locking the target.
   * Absent: the runner always recovers under the lock.
   */
  recoveryPending?(): boolean;
  /** True when the release has something this driver can install on this machine (files for this platform). */
  accepts(release: Release): boolean;
  /** What `apply(plan)` would change, changing nothing. */
  preview(plan: ApplyPlan): Promise<ApplyPreview>;
  /** Installs `plan` (see the contract above). */
  apply(plan: ApplyPlan, signal: AbortSignal, onProgress: ProgressSink): Promise<ApplyOutcome>;
  /**
   * Refuses, changing nothing, a rollback to `point` (null: the newest) that would consume a
   * damaged rollback point (ERR_STATE_CORRUPT naming its file); resolves when it needs none.
   * Absent: the driver's points are never listed as damaged.
   */
  assertRollbackIntact?(point: string | null): Promise<void>;
  /** Restores rollback point `point` (null: the newest). ERR_ROLLBACK_POINT_NOT_FOUND when there is none. */
  rollback(point: string | null, opId: string, signal: AbortSignal, onProgress: ProgressSink): Promise<RollbackOutcome>;
  /**
   * The feed of a target that is its own source (a git remote's tags, a compose stack's
   * registries), for targets without a `feed` block; absent for drivers fed by a configured feed.
   */
  ownFeed?(o: { channel: string }): Feed;
  /** Extra facts for status views (the checked-out commit, each service's image digest). */
  facts?(): Promise<TargetFact[]>;
}

/** One labelled fact about the installed state, for status views. */
export interface TargetFact {
  label: string;
  value: string;
}

/** Where a driver runs. */
export interface DriverEnv {
  paths: TargetPaths;
  /** Upkeep's own directories and files (state, downloads, points, log): a release may not write into them. */
  reservedDirs: string[];
  clock: Clock;
  limits: Limits;
}

/** Builds the driver of one target kind. */
export type DriverFactory<T extends TargetConfig> = (target: T, env: DriverEnv) => TargetDriver;

/** One factory per target kind, checked exhaustively by the type. */
export type DriverFactories = { [K in TargetKind]: DriverFactory<Extract<TargetConfig, { kind: K }>> };
