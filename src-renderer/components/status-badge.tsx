/**
 * A target's status badge: one label and colour per TargetState kind, with the live percent while
 * an operation runs. `data-testid="status-badge"` and `data-state="<kind>"` for tests.
 */
import type { TargetState, TargetView, VerificationLevel } from '../../src-shared/api';
import { verificationSentence } from '../../src-shared/verification';
import { useUpkeep } from '../context';
import { heldVersionText, rolloutPendingText } from '../../src-shared/format';
import { isBusy, statusLabel, statusTone, type Tone } from '../status';

/**
 * Badge for a state, with live progress from the store when given a target id. With `rollout`
 * (a newer release held back by a staged rollout), a resting "Up to date" reads "Waiting for
 * rollout" instead, since a newer release exists. With `held` (the version held after a manual
 * rollback), "Update available" for exactly that version reads "Held after rollback": it waits for
 * the user, not for Upkeep.
 */
export function StatusBadge({ state, targetId, rollout, held }: { state: TargetState; targetId?: string; rollout?: TargetView['rollout_pending']; held?: string | null }) {
  const live = useUpkeep((s) => (targetId ? s.progress[targetId] : undefined));
  const waiting = rollout && state.kind === 'up-to-date' ? rollout : null;
  const isHeld = state.kind === 'available' && held != null && state.version === held;
  const label = waiting ? 'Waiting for rollout' : isHeld ? 'Held after rollback' : statusLabel(state, isBusy(state) ? (live ?? null) : null);
  const tone: Tone = waiting ? 'info' : isHeld ? 'neutral' : statusTone(state);
  return (
    <span
      className={`badge badge-${tone}`}
      data-testid="status-badge"
      data-state={state.kind}
      title={waiting ? `${rolloutPendingText(waiting.version)}.` : isHeld ? `${heldVersionText(state.version)}.` : undefined}
    >
      {isBusy(state) ? <span className="spinner spinner-small" aria-hidden="true" /> : null}
      {label}
    </span>
  );
}

export type FlagKind = 'critical' | 'breaking' | 'migrations' | 'held' | 'unverified' | 'checksums';

const FLAG_TEXT: Record<FlagKind, string> = {
  critical: 'Critical',
  breaking: 'Breaking changes',
  migrations: 'Migrations required',
  held: 'Held after rollback',
  unverified: 'Unverified',
  checksums: 'Checksums only',
};

/**
 * Small flag badges shown next to a release (`data-testid="<kind>-badge"`). `unverified` marks a
 * release accepted with trust.none, `checksums` one accepted with trust.checksums_only; the
 * title says what that means.
 */
export function FlagBadge({ kind }: { kind: FlagKind }) {
  const danger = kind === 'critical' || kind === 'unverified';
  const title = kind === 'unverified' ? verificationSentence('none') : kind === 'checksums' ? verificationSentence('checksums') : undefined;
  return (
    <span className={`badge badge-flag badge-${danger ? 'danger' : 'warn'}`} data-testid={`${kind}-badge`} title={title}>
      {FLAG_TEXT[kind]}
    </span>
  );
}

/** The flag for a release's verification level: "Unverified", "Checksums only", nothing when signed. */
export function VerificationFlag({ level }: { level: VerificationLevel | null | undefined }) {
  if (level === 'none') return <FlagBadge kind="unverified" />;
  if (level === 'checksums') return <FlagBadge kind="checksums" />;
  return null;
}
