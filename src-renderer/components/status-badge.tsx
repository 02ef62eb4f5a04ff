/**
 * A target's status badge: one label and colour per TargetState kind, with the live percent while
 * an operation runs. `data-testid="status-badge"` and `data-state="<kind>"` for tests.
 */
import type { TargetState, TargetView } from '../../src-shared/api';
import { useUpkeep } from '../context';
import { isBusy, statusLabel, statusTone, type Tone } from '../status';

/**
 * Badge for a state, with live progress from the store when given a target id. With `rollout`
 * (a newer release held back by a staged rollout), a resting "Up to date" reads "Waiting for
 * rollout" instead, since a newer release exists.
 */
export function StatusBadge({ state, targetId, rollout }: { state: TargetState; targetId?: string; rollout?: TargetView['rollout_pending'] }) {
  const live = useUpkeep((s) => (targetId ? s.progress[targetId] : undefined));
  const waiting = rollout && state.kind === 'up-to-date' ? rollout : null;
  const label = waiting ? 'Waiting for rollout' : statusLabel(state, isBusy(state) ? (live ?? null) : null);
  const tone: Tone = waiting ? 'info' : statusTone(state);
  return (
    <span
      className={`badge badge-${tone}`}
      data-testid="status-badge"
      data-state={state.kind}
      title={waiting ? `${waiting.version} is rolling out; this machine is not yet in it.` : undefined}
    >
      {isBusy(state) ? <span className="spinner spinner-small" aria-hidden="true" /> : null}
      {label}
    </span>
  );
}

/** Small flag badges shown next to a release. */
export function FlagBadge({ kind }: { kind: 'critical' | 'breaking' | 'migrations' | 'held' }) {
  const text = kind === 'critical' ? 'Critical' : kind === 'breaking' ? 'Breaking changes' : kind === 'held' ? 'Held after rollback' : 'Migrations required';
  return (
    <span className={`badge badge-flag badge-${kind === 'critical' ? 'danger' : 'warn'}`} data-testid={`${kind}-badge`}>
      {text}
    </span>
  );
}
