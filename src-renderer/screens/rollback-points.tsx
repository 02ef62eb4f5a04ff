/**
 * Screen 4: a target's rollback points (from → to, date, size), each with "Roll back" behind a
 * confirmation dialog. A damaged point (its `error`) is listed with that error and no button; the
 * points older than it have theirs disabled. Confirming calls `rollback(target, rollback_id)`; progress and the outcome
 * show in the target's activity area above the tabs.
 */
import { useEffect, useState } from 'react';
import type { ErrorView, RollbackPointView, RollbackResult, TargetView } from '../../src-shared/api';
import { Skeleton } from '../components/banners';
import { ConfirmDialog } from '../components/confirm-dialog';
import { ErrorMessage } from '../components/error-message';
import { PathText } from '../components/path-text';
import { useApi, useUpkeep } from '../context';
import { formatBytes } from '../../src-shared/format';
import { formatDateTime } from '../format';
import { isBusy } from '../status';
import type { Outcome } from '../store';

/** The confirm text of a rollback to the first point (nothing installed before it). */
export function removesInstallSentence(name: string): string {
  return `This removes the installed files of ${name}.`;
}

/** Outcome text of a rollback call. */
export function describeRollback(r: RollbackResult): Omit<Outcome, 'action'> {
  if (r.success && r.version === null) return { ok: true, message: `Rolled back from ${r.from_version ?? 'the installed version'}: the installed files were removed.` };
  if (r.success) return { ok: true, message: `Rolled back from ${r.from_version ?? 'the updated version'} to ${r.version ?? 'the earlier version'}.` };
  return { ok: false, message: `Rollback ${r.rollback_id} did not complete.` };
}

/**
 * True when a point newer than `points[i]` (the list is newest first) is damaged: a rollback to
 * it would consume the damaged one, which the engine refuses (ERR_STATE_CORRUPT).
 */
export function pastDamaged(points: readonly RollbackPointView[], i: number): boolean {
  return points.slice(0, i).some((p) => p.error !== undefined);
}

/** The Rollback points tab. */
export function RollbackPointsTab({ target }: { target: TargetView }) {
  const api = useApi();
  const pending = useUpkeep((s) => s.pending[target.id]);
  const runAction = useUpkeep((s) => s.runAction);
  const reportError = useUpkeep((s) => s.reportError);
  const [points, setPoints] = useState<RollbackPointView[] | null>(null);
  const [error, setError] = useState<ErrorView | null>(null);
  const [confirming, setConfirming] = useState<RollbackPointView | null>(null);
  const busy = pending !== undefined || isBusy(target.state);

  // Reload when the set of points can have changed: new point, rollback done, version changed.
  const reloadKey = `${target.points_count}|${target.current_version ?? ''}|${busy}`;
  useEffect(() => {
    let live = true;
    api.listPoints(target.id).then(
      (list) => {
        if (!live) return;
        setPoints(list);
        setError(null);
      },
      (err: unknown) => live && setError(reportError(err)),
    );
    return () => {
      live = false;
    };
  }, [api, target.id, reloadKey, reportError]);

  const confirm = () => {
    const point = confirming;
    setConfirming(null);
    if (!point) return;
    void runAction(target.id, 'rollback', () => api.rollback(target.id, point.rollback_id), describeRollback);
  };

  return (
    <section className="card" aria-labelledby="points-title" aria-busy={points === null && !error ? true : undefined} data-testid="points-screen">
      <h2 id="points-title">Rollback points</h2>
      <p className="muted">
        Each update keeps what it replaced, so you can return to the earlier version. Upkeep keeps the last {target.policy.retention}.
      </p>
      {error ? <ErrorMessage error={error} title="Could not load rollback points" /> : null}
      {points === null && !error ? <Skeleton lines={3} /> : null}
      {points !== null && points.length === 0 ? (
        <div className="empty-state" data-testid="points-empty">
          <h3>No rollback points yet</h3>
          <p className="muted">A rollback point is created each time an update is applied.</p>
        </div>
      ) : null}
      {points !== null && points.length > 0 ? (
        <div className="table-wrap">
          <table className="table table-stack">
            <caption className="visually-hidden">Rollback points of {target.name}, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Update</th>
                <th scope="col">Created</th>
                <th scope="col">Size</th>
                <th scope="col">Files</th>
                <th scope="col">
                  <span className="visually-hidden">Action</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {points.map((p, i) => (
                p.error ? (
                  <tr key={p.rollback_id} data-testid="rollback-point" data-rollback-id={p.rollback_id} data-damaged="true">
                    <td data-label="Update" colSpan={5}>
                      <div>
                        <ErrorMessage error={p.error} title="Damaged rollback point" />
                        <p className="muted small">
                          It cannot be rolled back to, nor can the older points below it. <code>{p.rollback_id}</code>
                        </p>
                      </div>
                    </td>
                  </tr>
                ) : (
                <tr key={p.rollback_id} data-testid="rollback-point" data-rollback-id={p.rollback_id}>
                  <td data-label="Update">
                    {/* One child: stacked at narrow widths the cell is a label/value grid, and loose
                        text would become grid items of its own. */}
                    <div>
                      <span data-testid="point-from">{p.from_version ?? 'none'}</span> → <span data-testid="point-to">{p.to_version}</span>
                      <div className="muted small">
                        <code>{p.rollback_id}</code>
                      </div>
                    </div>
                  </td>
                  <td data-label="Created">{formatDateTime(p.created_at)}</td>
                  <td data-label="Size">{formatBytes(p.size_bytes)}</td>
                  <td data-label="Files">{p.files}</td>
                  <td className="cell-action" data-label="">
                    <button
                      type="button"
                      className="button"
                      onClick={() => setConfirming(p)}
                      disabled={busy || pastDamaged(points, i)}
                      title={pastDamaged(points, i) ? 'A newer rollback point is damaged: rolling back to this one would need it' : undefined}
                      aria-label={p.from_version === null ? `Roll back to before ${p.to_version} was installed, removing the installed files (point ${p.rollback_id})` : `Roll back to ${p.from_version} (point ${p.rollback_id})`}
                      data-testid="rollback-button"
                    >
                      Roll back
                    </button>
                  </td>
                </tr>
                )
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {confirming && confirming.from_version === null ? (
        <ConfirmDialog
          title={`Remove ${target.name}?`}
          confirmLabel="Remove installed files"
          danger
          onConfirm={confirm}
          onCancel={() => setConfirming(null)}
          testId="rollback-dialog"
        >
          <p data-testid="removes-install">{removesInstallSentence(target.name)}</p>
          <p>
            This point is the first installation ({confirming.to_version}, {formatDateTime(confirming.created_at)}): before it, nothing was installed in <PathText path={target.install_dir} />. Rolling back to it
            leaves no installed version. The rollback is journaled: if it is interrupted, Upkeep finishes or undoes it on next start.
          </p>
        </ConfirmDialog>
      ) : confirming ? (
        <ConfirmDialog
          title={`Roll back ${target.name} to ${confirming.from_version}?`}
          confirmLabel="Roll back"
          danger
          onConfirm={confirm}
          onCancel={() => setConfirming(null)}
          testId="rollback-dialog"
        >
          <p>
            This restores the files saved on {formatDateTime(confirming.created_at)}, before the update from {confirming.from_version} to {confirming.to_version}.
          </p>
          <p>
            The installed version {target.current_version ?? ''} will be replaced{target.current_version ? ` and held: Upkeep does not apply ${target.current_version} automatically again until a newer release appears` : ''}. The rollback is
            journaled: if it is interrupted, Upkeep finishes or undoes it on next start.
          </p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}
