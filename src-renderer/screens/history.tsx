/**
 * Screen 5: a target's operation history (when, operation, actor, from → to, result, error code,
 * duration), newest first.
 */
import { useEffect, useState } from 'react';
import type { ErrorView, HistoryRecord, OperationResult, TargetView } from '../../src-shared/api';
import { Skeleton } from '../components/banners';
import { ErrorMessage } from '../components/error-message';
import { useApi, useUpkeep } from '../context';
import { formatDuration } from '../../src-shared/format';
import { formatDateTime } from '../format';
import { isBusy, isCancelled } from '../status';

/** How many records the tab shows. */
export const HISTORY_LIMIT = 100;

const RESULT_LABELS: Record<OperationResult, { text: string; tone: string }> = {
  success: { text: 'Succeeded', tone: 'ok' },
  failed: { text: 'Failed', tone: 'danger' },
  rolled_back: { text: 'Rolled back', tone: 'warn' },
  cancelled: { text: 'Cancelled', tone: 'neutral' },
  refused: { text: 'Refused', tone: 'danger' },
  up_to_date: { text: 'Up to date', tone: 'neutral' },
  recovered: { text: 'Recovered', tone: 'warn' },
};

const OPERATION_LABELS: Record<string, string> = {
  check: 'Check',
  download: 'Download',
  apply: 'Update',
  verify: 'Verify',
  rollback: 'Rollback',
  recover: 'Recovery',
};

/**
 * The versions cell: "1.0.0 → 1.1.0" for what changes the installation; a check installs nothing,
 * so it reads "1.0.0 installed; found 1.2.0" (or "1.0.0 installed" when nothing newer was found).
 */
export function versionsText(r: HistoryRecord): string {
  if (r.operation !== 'check') return `${r.from_version ?? '—'} → ${r.to_version ?? '—'}`;
  const installed = r.from_version ? `${r.from_version} installed` : 'nothing installed';
  return r.to_version ? `${installed}; found ${r.to_version}` : installed;
}

/** The History tab. */
export function HistoryTab({ target }: { target: TargetView }) {
  const api = useApi();
  const reportError = useUpkeep((s) => s.reportError);
  const pending = useUpkeep((s) => s.pending[target.id]);
  const [records, setRecords] = useState<HistoryRecord[] | null>(null);
  const [error, setError] = useState<ErrorView | null>(null);
  const working = pending !== undefined || isBusy(target.state);
  const reloadKey = `${target.state.kind}|${target.current_version ?? ''}|${target.points_count}|${working}`;

  useEffect(() => {
    let live = true;
    api.history(target.id, HISTORY_LIMIT).then(
      (list) => {
        if (!live) return;
        setRecords([...list].sort((a, b) => (a.started_at < b.started_at ? 1 : a.started_at > b.started_at ? -1 : 0)));
        setError(null);
      },
      (err: unknown) => live && setError(reportError(err)),
    );
    return () => {
      live = false;
    };
  }, [api, target.id, reloadKey, reportError]);

  return (
    <section className="card" aria-labelledby="history-title" aria-busy={records === null && !error ? true : undefined} data-testid="history-screen">
      <h2 id="history-title">History</h2>
      {error ? <ErrorMessage error={error} title="Could not load the history" /> : null}
      {records === null && !error ? <Skeleton lines={4} /> : null}
      {records !== null && records.length === 0 ? (
        <div className="empty-state" data-testid="history-empty">
          <h3>No operations recorded yet</h3>
          <p className="muted">Checks, updates and rollbacks of {target.name} will be listed here.</p>
        </div>
      ) : null}
      {records !== null && records.length > 0 ? (
        <div className="table-wrap">
          <table className="table table-stack">
            <caption className="visually-hidden">Operations on {target.name}, newest first</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Operation</th>
                <th scope="col">Actor</th>
                <th scope="col">From → to</th>
                <th scope="col">Result</th>
                <th scope="col">Details</th>
                <th scope="col">Duration</th>
              </tr>
            </thead>
            <tbody>
              {records.map((r) => {
                const result = isCancelled(r.error_code ? { code: r.error_code } : null) ? { text: 'Cancelled', tone: 'neutral' } : (RESULT_LABELS[r.result] ?? { text: r.result, tone: 'neutral' });
                return (
                  <tr key={r.id} data-testid="history-row" data-result={r.result}>
                    <td data-label="When">{formatDateTime(r.started_at)}</td>
                    <td data-label="Operation">{OPERATION_LABELS[r.operation] ?? r.operation}</td>
                    <td data-label="Actor">{r.actor}</td>
                    <td data-label="From → to">{versionsText(r)}</td>
                    <td data-label="Result">
                      <span className={`badge badge-${result.tone}`}>{result.text}</span>
                    </td>
                    {/* The error of a failed operation, and the local copies an apply kept: "—" when neither. */}
                    <td data-label="Details">
                      {r.error_code ? (
                        <code title={r.error_message ?? undefined} data-testid="history-error-code">
                          {r.error_code}
                        </code>
                      ) : r.local_copies?.length ? null : (
                        '—'
                      )}
                      {r.error_message ? <div className="small muted">{r.error_message}</div> : null}
                      {(r.local_copies ?? []).map((c) => (
                        <div key={c.path} className="small muted" data-testid="history-local-copy">
                          {c.path} was edited locally; your copy is kept as <code>{c.kept_as}</code>
                        </div>
                      ))}
                    </td>
                    <td data-label="Duration">{formatDuration(r.duration_ms)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
