/**
 * Screen 1: every target with its status badge and current/available versions.
 */
import { useState } from 'react';
import type { TargetView } from '../../src-shared/api';
import { ErrorMessage } from '../components/error-message';
import { Skeleton } from '../components/banners';
import { FlagBadge, StatusBadge, VerificationFlag } from '../components/status-badge';
import { offeredVerification } from '../../src-shared/verification';
import { useApi, useUpkeep } from '../context';
import { formatDateTime, formatInstalledVersion, formatLastChecked } from '../format';
import { rolloutPendingText } from '../../src-shared/format';
import { targetHref } from '../router';
import { isBusy, isCancelled } from '../status';
import { CONFIG_KEY, targetKey, toErrorView } from '../store';

function TargetCard({ target }: { target: TargetView }) {
  const state = target.state;
  const available = state.kind === 'available' ? state.version : (target.available?.version ?? null);
  const critical = state.kind === 'available' ? state.is_critical : (target.available?.is_critical ?? false);
  const breaking = state.kind === 'available' ? state.is_breaking : (target.available?.is_breaking ?? false);
  const verification = available ? offeredVerification(target) : null;
  const weak = verification === 'none' || verification === 'checksums';
  return (
    <li className="card target-card" data-testid="target-card" data-target-id={target.id}>
      <div className="target-card-head">
        <h2 className="target-name">
          <a href={targetHref(target.id)} data-testid="target-link">
            {target.name}
          </a>
        </h2>
        <StatusBadge state={state} targetId={target.id} rollout={target.rollout_pending} held={target.held_version} />
      </div>
      <p className="muted target-sub">
        <code>{target.id}</code>
        {target.product ? ` · ${target.product}` : ''}
        {target.policy.channel ? ` · ${target.policy.channel} channel` : ''}
      </p>
      <dl className="version-grid">
        <div>
          <dt>Current</dt>
          <dd data-testid="current-version">{formatInstalledVersion(target)}</dd>
        </div>
        <div>
          <dt>Available</dt>
          <dd data-testid="available-version">{available ?? (target.rollout_pending ? `${target.rollout_pending.version} (rolling out)` : 'None')}</dd>
        </div>
        <div>
          <dt>Last checked</dt>
          <dd data-testid="last-checked">{formatLastChecked(target.last_checked_at)}</dd>
        </div>
      </dl>
      {available && ((critical && state.kind !== 'available') || breaking || weak) ? (
        <p className="flags">
          {/* The status badge already says "Critical update" while the state is available. */}
          {critical && state.kind !== 'available' ? <FlagBadge kind="critical" /> : null}
          {breaking ? <FlagBadge kind="breaking" /> : null}
          <VerificationFlag level={verification} />
        </p>
      ) : null}
      {!available && target.rollout_pending ? (
        <p className="muted" data-testid="rollout-pending">
          {rolloutPendingText(target.rollout_pending.version)}.
        </p>
      ) : null}
      {target.held_version ? (
        <p className="muted" data-testid="held-version">
          {target.held_version} is held after a rollback: it is not applied automatically.
        </p>
      ) : null}
      {state.kind === 'failed' && !isCancelled(state.error) ? (
        // The badge names the code; the reason is said here, on the card, not only on the target's page.
        <p className="target-error" data-testid="target-error">
          {state.error.message}
        </p>
      ) : null}
      {target.policy.paused_until ? <p className="muted">Automatic updates paused until {formatDateTime(target.policy.paused_until)}</p> : null}
    </li>
  );
}

/** The targets overview. */
export function TargetsOverview() {
  const api = useApi();
  const loading = useUpkeep((s) => s.loading);
  const loadError = useUpkeep((s) => s.loadError);
  const order = useUpkeep((s) => s.order);
  const targets = useUpkeep((s) => s.targets);
  const loadTargets = useUpkeep((s) => s.loadTargets);
  const refreshTarget = useUpkeep((s) => s.refreshTarget);
  const reportError = useUpkeep((s) => s.reportError);
  const pushToast = useUpkeep((s) => s.pushToast);
  const [checking, setChecking] = useState(false);
  const [reloading, setReloading] = useState(false);

  const checkAll = async () => {
    setChecking(true);
    for (const id of order) {
      const t = targets[id];
      if (!t || isBusy(t.state)) continue;
      try {
        await api.check(id);
      } catch (err) {
        const e = reportError(err);
        pushToast({ level: 'error', title: `Check failed for ${t.name}`, message: `${e.message} (${e.code})`, target: id, key: targetKey(id) });
      }
      await refreshTarget(id);
    }
    setChecking(false);
  };

  const reload = async () => {
    setReloading(true);
    try {
      const r = await api.reloadConfig();
      const restart = r.restart_required.length > 0 ? ` Restart needed for: ${r.restart_required.join(', ')}.` : '';
      // The engine announces the reload too; both toasts share one key, so one stays on screen.
      pushToast({ level: 'success', title: 'Configuration reloaded', message: `Generation ${r.config_generation}.${restart}`, target: null, key: CONFIG_KEY });
      await loadTargets();
    } catch (err) {
      const e = toErrorView(err);
      reportError(err);
      pushToast({ level: 'error', title: 'Configuration reload failed', message: `${e.message} (${e.code})`, target: null, key: CONFIG_KEY });
    }
    setReloading(false);
  };

  return (
    <section aria-labelledby="targets-title" aria-busy={loading || undefined} data-testid="targets-screen">
      <div className="toolbar">
        <h1 id="targets-title">Targets</h1>
        <div className="toolbar-actions">
          <button type="button" className="button" onClick={() => void reload()} disabled={reloading} data-testid="reload-config">
            {reloading ? 'Reloading…' : 'Reload configuration'}
          </button>
          <button type="button" className="button button-primary" onClick={() => void checkAll()} disabled={checking || order.length === 0} data-testid="check-all">
            {checking ? 'Checking…' : 'Check all now'}
          </button>
        </div>
      </div>
      {loading ? (
        <ul className="target-list">
          {[0, 1].map((i) => (
            <li key={i} className="card target-card">
              <Skeleton lines={3} />
            </li>
          ))}
        </ul>
      ) : loadError && order.length === 0 ? (
        <ErrorMessage error={loadError} title="Could not load targets">
          <button type="button" className="button" onClick={() => void loadTargets()}>
            Try again
          </button>
        </ErrorMessage>
      ) : order.length === 0 ? (
        <div className="empty-state" data-testid="empty-targets">
          <h2>No targets configured</h2>
          <p className="muted">Add a target to the Upkeep configuration file, then reload the configuration.</p>
        </div>
      ) : (
        <ul className="target-list">
          {order.map((id) => (targets[id] ? <TargetCard key={id} target={targets[id]} /> : null))}
        </ul>
      )}
    </section>
  );
}
