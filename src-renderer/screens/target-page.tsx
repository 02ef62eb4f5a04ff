/**
 * Screen 2's frame: a target's header (name, status, current version), its live activity
 * (progress panel, outcome of the last action, failure) shown on every tab, and the tabs
 * Overview / Rollback points / History / Settings.
 */
import { useEffect, useState } from 'react';
import type { ErrorView, TargetView } from '../../src-shared/api';
import { Loading } from '../components/banners';
import { ErrorMessage } from '../components/error-message';
import { ProgressPanel } from '../components/progress-panel';
import { StatusBadge } from '../components/status-badge';
import { useApi, useUpkeep } from '../context';
import { formatInstalledVersion } from '../format';
import { TARGET_TABS, targetHref, type TargetTab } from '../router';
import { activityTitle, isCancelled, isBusy, progressOf } from '../status';
import { toErrorView } from '../store';
import { HistoryTab } from './history';
import { RollbackPointsTab } from './rollback-points';
import { SettingsTab } from './settings';
import { TargetOverviewTab } from './target-overview';

const TAB_LABELS: Record<TargetTab, string> = {
  overview: 'Overview',
  points: 'Rollback points',
  history: 'History',
  settings: 'Settings',
};

/** Progress, outcome and failure of the target, above the tabs. */
function Activity({ target }: { target: TargetView }) {
  const api = useApi();
  const live = useUpkeep((s) => s.progress[target.id]);
  const outcome = useUpkeep((s) => s.outcomes[target.id]);
  const pending = useUpkeep((s) => s.pending[target.id]);
  const clearOutcome = useUpkeep((s) => s.clearOutcome);
  const reportError = useUpkeep((s) => s.reportError);
  const [cancelling, setCancelling] = useState(false);
  const [cancelError, setCancelError] = useState<ErrorView | null>(null);
  const progress = isBusy(target.state) ? (live ?? progressOf(target.state)) : null;

  useEffect(() => {
    if (!progress) setCancelling(false);
  }, [progress]);

  const cancel = async () => {
    setCancelling(true);
    setCancelError(null);
    try {
      const r = await api.cancel(target.id);
      if (!r.cancelled) {
        setCancelling(false);
        setCancelError({ code: 'ERR_BUSY', message: 'The operation is past the point where it can be cancelled safely' });
      }
    } catch (err) {
      setCancelling(false);
      setCancelError(reportError(err));
    }
  };

  return (
    <div className="activity" data-testid="activity">
      {progress ? <ProgressPanel title={activityTitle(target.state) ?? 'Working'} progress={progress} onCancel={() => void cancel()} cancelling={cancelling} /> : null}
      {!progress && pending ? <Loading label={`${pending === 'check' ? 'Checking for updates' : 'Working'}…`} /> : null}
      {cancelError ? <ErrorMessage error={cancelError} title="Could not cancel" /> : null}
      {outcome && !pending ? (
        <div className={`outcome ${outcome.ok ? 'outcome-ok' : 'outcome-failed'}`} data-testid="operation-result" data-ok={outcome.ok ? 'true' : 'false'} data-cancelled={outcome.cancelled ? 'true' : undefined} data-action={outcome.action}>
          {outcome.ok ? (
            <p className="notice notice-ok" role="status">
              {outcome.message}
            </p>
          ) : outcome.cancelled ? (
            <p className="notice notice-info" role="status" data-testid="cancelled">
              {outcome.message}
            </p>
          ) : outcome.error ? (
            <ErrorMessage error={outcome.error} title={outcome.message !== outcome.error.message ? outcome.message : undefined} />
          ) : (
            <p className="notice notice-error" role="alert">
              {outcome.message}
            </p>
          )}
          <button type="button" className="button button-link" onClick={() => clearOutcome(target.id)}>
            Dismiss
          </button>
        </div>
      ) : null}
      {!outcome && !pending && target.state.kind === 'failed' ? (
        isCancelled(target.state.error) ? (
          <p className="notice notice-info" role="status" data-testid="cancelled">
            Cancelled. Nothing was changed.
          </p>
        ) : (
          <ErrorMessage
            error={target.state.error}
            // A damaged state file is found on reading, not by an operation that failed.
            title={target.state.error.code === 'ERR_STATE_CORRUPT' ? 'A state file is damaged' : 'The last operation failed'}
          />
        )
      ) : null}
    </div>
  );
}

/** A target's page with its tabs. */
export function TargetPage({ id, tab }: { id: string; tab: TargetTab }) {
  const api = useApi();
  const target = useUpkeep((s) => s.targets[id]);
  const applyEvent = useUpkeep((s) => s.applyEvent);
  const reportError = useUpkeep((s) => s.reportError);
  const [loadError, setLoadError] = useState<ErrorView | null>(null);

  // Re-read the target on open: its release details may be newer than the list's.
  useEffect(() => {
    let live = true;
    setLoadError(null);
    api.getTarget(id).then(
      (view) => live && applyEvent({ type: 'state', target: view }),
      (err: unknown) => {
        if (!live) return;
        reportError(err);
        setLoadError(toErrorView(err));
      },
    );
    return () => {
      live = false;
    };
  }, [api, id, applyEvent, reportError]);

  if (!target) {
    return (
      <section aria-labelledby="target-missing" data-testid="target-page">
        <p>
          <a href="#/">← All targets</a>
        </p>
        <h1 id="target-missing">{id}</h1>
        {loadError ? <ErrorMessage error={loadError} title="Could not open this target" /> : <Loading label="Loading target…" />}
      </section>
    );
  }

  return (
    <section aria-labelledby="target-title" data-testid="target-page" data-target-id={target.id}>
      <p className="breadcrumb">
        <a href="#/">← All targets</a>
      </p>
      <div className="target-header">
        <div>
          <h1 id="target-title" data-testid="target-name">
            {target.name}
          </h1>
          <p className="muted">
            <code>{target.id}</code>
            {target.product ? ` · ${target.product}` : ''} · {target.kind === 'files' ? `files${target.layout ? ` (${target.layout})` : ''}` : target.kind === 'command' ? 'command steps' : target.kind === 'git' ? 'git work tree' : 'compose stack'}
          </p>
        </div>
        <div className="target-header-status">
          <StatusBadge state={target.state} targetId={target.id} rollout={target.rollout_pending} held={target.held_version} />
          <p className="current-version-line">
            Current version <strong data-testid="current-version">{formatInstalledVersion(target)}</strong>
          </p>
          {target.facts && target.facts.length > 0 ? (
            <dl className="target-facts" data-testid="target-facts">
              {target.facts.map((f) => (
                <div key={f.label}>
                  <dt>{f.label}</dt>
                  <dd><code>{f.value}</code></dd>
                </div>
              ))}
            </dl>
          ) : null}
        </div>
      </div>
      <Activity target={target} />
      <nav className="tabs" aria-label="Target sections">
        {TARGET_TABS.map((t) => (
          <a key={t} href={targetHref(target.id, t)} className="tab" aria-current={t === tab ? 'page' : undefined} data-testid={`tab-${t}`}>
            {TAB_LABELS[t]}
            {t === 'points' && target.points_count > 0 ? <span className="count">{target.points_count}</span> : null}
          </a>
        ))}
      </nav>
      <div className="tab-panel">
        {tab === 'overview' ? <TargetOverviewTab target={target} /> : null}
        {tab === 'points' ? <RollbackPointsTab target={target} /> : null}
        {tab === 'history' ? <HistoryTab target={target} /> : null}
        {tab === 'settings' ? <SettingsTab target={target} /> : null}
      </div>
    </section>
  );
}
