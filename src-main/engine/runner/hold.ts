/**
 * The two reasons a published release is not installed automatically although it is newer than
 * the installed one, as the runner persists them in `runtime.json`:
 *
 * - **Held after a rollback** (`held_version`): the user rolled back from version X, so automatic
 *   apply leaves X, and every release not newer than X, alone until a newer release than X is
 *   published or the user applies X explicitly.
 * - **Staged rollout** (`rollout_pending`): the channel's newest release has not reached this
 *   machine's rollout bucket yet.
 *
 * Versions are compared only through the feed (`Feed.candidates`): ordering belongs to the feed
 * format (SemVer for native feeds, Sparkle's comparator for appcasts, …), never to this module.
 */
import type { RolloutPending } from '../../../src-shared/api';
import type { Feed, FeedPolicy } from '../feed/feed';
import { availableRelease } from '../state/store';

/** A feed with the choices it lists candidates under. */
export interface FeedContext {
  feed: Feed;
  policy: FeedPolicy;
}

/**
 * True when the feed orders `version` after `than` (it lists `version` among the candidates newer
 * than `than`). Skipped versions still count: being skipped does not change the order. Throws
 * what loading the feed throws.
 */
export async function isNewerInFeed(ctx: FeedContext, version: string, than: string, signal?: AbortSignal): Promise<boolean> {
  if (version === than) return false;
  const after = await ctx.feed.candidates(than, { ...ctx.policy, skip_versions: [] }, signal);
  return after.some((c) => c.version === version);
}

/**
 * The hold after a check saw `newest` as the newest eligible release (null: nothing newer than
 * the installed one): released once the feed has something newer than the held version. Without
 * a feed, or when the feed cannot be read, the hold stays.
 */
export async function holdAfterCheck(ctx: FeedContext | null, held: string | null, newest: string | null): Promise<string | null> {
  if (held === null || newest === null || newest === held || !ctx) return held;
  try {
    return (await isNewerInFeed(ctx, newest, held)) ? null : held;
  } catch {
    return held;
  }
}

/**
 * The hold after a committed apply installed `installed`: released when that is the held
 * version or a newer one; kept when an older release was installed.
 */
export async function holdAfterApply(ctx: FeedContext | null, held: string | null, installed: string): Promise<string | null> {
  if (held === null || installed === held) return null;
  return holdAfterCheck(ctx, held, installed);
}

/**
 * The hold after a manual rollback moved from `from` to `restored`: the newer of the held version
 * and `from` (rolling back twice keeps the newest version the user left). Null when the restored
 * version is the one that would be held.
 */
export async function holdAfterRollback(ctx: FeedContext | null, held: string | null, from: string | null, restored: string | null): Promise<string | null> {
  let next = held;
  if (from !== null && held === null) next = from;
  else if (from !== null && held !== null && from !== held && ctx) {
    next = await isNewerInFeed(ctx, from, held).then((newer) => (newer ? from : held), () => held);
  }
  return next !== null && next === restored ? null : next;
}

/**
 * The release a staged rollout holds back from this machine that is newer than `after` (the
 * newest eligible release, else the installed version); null when none, when the feed has no
 * staged rollouts, or when the feed cannot tell.
 */
export async function rolloutPendingAfter(ctx: FeedContext | null, after: string | null, signal?: AbortSignal): Promise<RolloutPending | null> {
  if (!ctx?.feed.heldBack) return null;
  try {
    return await ctx.feed.heldBack(after, ctx.policy, signal);
  } catch {
    return null;
  }
}

/**
 * What runtime.json keeps as available after a committed apply installed `installed`: the
 * recorded release (a ReleaseView) while the feed has it newer than `installed` (an older release
 * was installed on purpose: the newer one is still an update, and its downloaded blobs stay
 * cached), else null. Its `is_breaking` is assessed again from `installed` (the recorded one was
 * assessed from the version installed before: from nothing, a major bump is not breaking, from
 * the older release it is, and the scheduler never applies a breaking release automatically);
 * null when the feed refuses that move (ERR_INCOMPATIBLE_UPGRADE: min_upgrade_from). Null as
 * well without a feed or when the feed cannot be read.
 */
export async function availableAfterApply(ctx: FeedContext | null, available: unknown, installed: string): Promise<unknown> {
  const a = availableRelease(available);
  if (!a || a.version === installed || !ctx) return null;
  try {
    if (!(await isNewerInFeed(ctx, a.version, installed))) return null;
    const { breaking } = ctx.feed.assess(installed, await ctx.feed.release(a.version), { allowDowngrade: false, explicit: false });
    return { ...a, is_breaking: breaking };
  } catch {
    return null;
  }
}
