/**
 * The seam between the engine and every update source. A `Feed` fetches and verifies its own
 * format (signatures, digests, expiry, rollback protection) and answers with `Release` values;
 * the operation runner knows no feed format. Feeds are built per operation by the factory
 * registered for the target's `feed.type` (feed/registry.ts).
 */
import type { Limits } from '../limits';
import type { Clock } from '../clock';
import type { Fetcher } from '../net/fetcher';
import type { Release } from './release';
import type { TrustConfig } from '../config/feed-schema';

/** The user's choices a feed applies when it lists candidates. */
export interface FeedPolicy {
  /** Versions the user chose to skip (the feed decides what "the same version" means). */
  skip_versions: readonly string[];
  /** Random per-installation id: the staged-rollout bucket input. */
  machine_id: string;
}

/** A release the feed lists as a possible move from the installed version, before it is fetched in full. */
export interface Candidate {
  version: string;
  is_critical: boolean;
}

/** What the feed says about moving from the installed version to a release. */
export interface Assessment {
  /** A breaking move (a SemVer major bump, or breaking_changes listed): never applied automatically. */
  breaking: boolean;
}

export interface Feed {
  /** The `feed.type` this feed reads (`native`, …). */
  readonly type: string;
  /**
   * Releases this machine may move to from `installed` (null: nothing installed), best first:
   * newer than installed in the feed's own order, inside their staged rollout, not skipped.
   * Throws the feed's verification errors (ERR_SIGNATURE_THRESHOLD, ERR_FEED_EXPIRED, …).
   */
  candidates(installed: string | null, policy: FeedPolicy, signal?: AbortSignal): Promise<Candidate[]>;
  /**
   * The verified release `version` with the items of this machine's platform/arch.
   * ERR_MANIFEST_NOT_FOUND when the feed does not list it.
   */
  release(version: string, signal?: AbortSignal): Promise<Release>;
  /**
   * Whether `installed` may move to `release`, for an automatic choice (`explicit: false`) or a
   * version the user named (`explicit: true`). Throws a PolicyError (ERR_DOWNGRADE,
   * ERR_INCOMPATIBLE_UPGRADE) when it may not; a candidate refused with ERR_INCOMPATIBLE_UPGRADE
   * is skipped for the next one.
   */
  assess(installed: string | null, release: Release, o: { allowDowngrade: boolean; explicit: boolean }): Assessment;
  /**
   * The newest release newer than `after` that a staged rollout still holds back from this
   * machine, with its rollout percent; null when none (or the feed has no staged rollouts).
   */
  heldBack?(after: string | null, policy: FeedPolicy, signal?: AbortSignal): Promise<{ version: string; percent: number } | null>;
}

/** Where a feed runs: shared by every feed type. */
export interface FeedEnv {
  /** Upkeep's state dir (feed memory: accepted sequences, ETags, cached documents). */
  stateDir: string;
  limits: Limits;
  clock: Clock;
  fetcher: Fetcher;
  /** Feed platform/arch names of the machine the release is for. */
  platform: string;
  arch: string;
  /** Where a feed reports what users should know but that does not fail it (skipped tags, weak verification). */
  log?: (level: 'info' | 'warn', message: string) => void;
}

/** A target's feed settings after config validation and UI overrides. */
export interface FeedSpec {
  /** Target id (for messages). */
  target: string;
  product: string;
  /** Effective channel (config, overridden by saved settings). */
  channel: string;
  /** The target's `feed` config block (its `type` selects the factory). */
  feed: { type?: string; url: string; allow_insecure_http: boolean } & Record<string, unknown>;
  /** The target's `trust` config block, when the feed type uses one (config/feed-schema.ts). */
  trust: TrustConfig | undefined;
}

/** Builds the feed of one target for one operation. Throws ERR_CONFIG_INVALID for settings it cannot use. */
export type FeedFactory = (spec: FeedSpec, env: FeedEnv) => Feed;
