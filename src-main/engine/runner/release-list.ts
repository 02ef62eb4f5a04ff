/**
 * What `listReleases` answers: the installed release and the releases this machine may apply,
 * each verified through the target's `Feed` exactly as a check verifies them. Reads only.
 */
import type { ReleaseList, ReleaseView } from '../../../src-shared/api';
import { UpkeepError } from '../../../src-shared/errors';
import type { LoadedConfig } from '../config/load';
import type { TargetConfig } from '../config/schema';
import type { TargetDriver } from '../drivers';
import { effectivePolicy } from '../policy';
import { releaseView } from '../release-view';
import { getMachineId } from '../state/machine-id';
import { readRuntime } from '../state/store';
import { feedFor, type Wiring } from './wiring';

/** Most eligible releases `listReleases` verifies and returns (each costs a manifest fetch). */
export const MAX_LISTED_RELEASES = 20;

/**
 * The installed release and the releases this machine may apply (newest first, at most
 * `MAX_LISTED_RELEASES`), plus the newest release a staged rollout still holds back. Changes
 * nothing. Throws what loading the feed throws.
 */
export async function listReleases(loaded: LoadedConfig, t: TargetConfig, driver: TargetDriver, w: Wiring): Promise<ReleaseList> {
  const runtime = await readRuntime(loaded.config.state_dir, t.id);
  const current = await driver.currentVersion();
  const feed = await feedFor(loaded, t, runtime, w, driver);
  if (!feed) return { target: t.id, current_version: current, installed: null, eligible: [], rollout_pending: null };
  const policy = effectivePolicy(t, runtime.settings, loaded.config.check_interval);
  const feedPolicy = { skip_versions: policy.skip_versions, machine_id: await getMachineId(loaded.config.state_dir) };
  const eligible: ReleaseView[] = [];
  for (const c of await feed.candidates(current, feedPolicy)) {
    if (eligible.length >= MAX_LISTED_RELEASES) break;
    const release = await feed.release(c.version);
    if (release.informational || !driver.accepts(release)) continue;
    try {
      eligible.push(releaseView(release, feed.assess(current, release, { allowDowngrade: policy.allow_downgrade, explicit: false }).breaking));
    } catch (err) {
      if (err instanceof UpkeepError && err.code === 'ERR_INCOMPATIBLE_UPGRADE') continue;
      throw err;
    }
  }
  let installed: ReleaseView | null = null;
  if (current !== null) {
    installed = await feed.release(current).then((r) => releaseView(r, false), (err: unknown) => {
      if (err instanceof UpkeepError && err.kind === 'not_found') return null;
      throw err;
    });
  }
  const rolloutPending = feed.heldBack ? await feed.heldBack(eligible[0]?.version ?? current, feedPolicy) : null;
  return { target: t.id, current_version: current, installed, eligible, rollout_pending: rolloutPending };
}
