/**
 * What a target's update policy means, in words, so the Pause card, the Overview and the target
 * cards describe the setting the engine really has (not a fixed sentence).
 */
import type { TargetPolicy } from '../src-shared/api';
import { formatDateTime } from './format';

/** Short form for fact lists: "Paused until …", "All updates", "Critical updates only", "Download only", "Off". */
export function automaticShort(policy: TargetPolicy): string {
  if (policy.paused_until) return `Paused until ${formatDateTime(policy.paused_until)}`;
  switch (policy.auto_apply) {
    case 'all':
      return 'All updates';
    case 'critical':
      return 'Critical updates only';
    case 'none':
      return policy.auto_download ? 'Download only' : 'Off';
    default:
      return policy.auto_apply;
  }
}

/** What runs automatically when not paused, as one sentence. */
function runningSentence(policy: TargetPolicy): string {
  const windowed = policy.maintenance_window ? ' inside the maintenance window' : '';
  switch (policy.auto_apply) {
    case 'all':
      return `Upkeep downloads and applies new releases automatically${windowed}; critical ones at once.`;
    case 'critical':
      return policy.auto_download
        ? 'Upkeep applies critical updates automatically and downloads other releases in the background for you to apply.'
        : 'Upkeep applies critical updates automatically; other releases wait for you.';
    case 'none':
      return policy.auto_download
        ? 'Upkeep downloads new releases in the background; you apply them yourself.'
        : 'Automatic updates are off: Upkeep only checks for new releases; you download and apply them yourself.';
    default:
      return `Automatic updates: ${String(policy.auto_apply)}.`;
  }
}

/** True when pausing would stop something (an automatic download or apply). */
export function hasAutomaticWork(policy: TargetPolicy): boolean {
  return policy.auto_apply !== 'none' || policy.auto_download;
}

/**
 * The Pause card's sentence: while paused, until when and what is held; otherwise what runs
 * automatically under the current setting. Checks always go on.
 */
export function pauseSentence(policy: TargetPolicy): string {
  if (policy.paused_until) {
    const until = formatDateTime(policy.paused_until);
    return hasAutomaticWork(policy)
      ? `Paused until ${until}: no automatic downloads or updates until then; checks go on.`
      : `Paused until ${until}. Nothing is set to run automatically anyway; checks go on.`;
  }
  return runningSentence(policy);
}
