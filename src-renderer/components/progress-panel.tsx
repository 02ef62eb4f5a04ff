/**
 * Live progress of the running operation: a title naming the state ("Checking health of 1.2.0"),
 * the pipeline step and its message, bytes done/total, speed, ETA, a percent bar
 * (role=progressbar with aria-valuenow), a per-file list on demand, and Cancel while the engine
 * says cancelling is still safe.
 */
import { useEffect, useId, useState } from 'react';
import type { Progress } from '../../src-shared/api';
import { formatBytes, formatRate, formatSeconds } from '../../src-shared/format';
import { phaseLabel } from '../status';

interface FileLine {
  path: string;
  phase: string;
  done: boolean;
}

/** Most file lines remembered per operation. */
const MAX_FILE_LINES = 500;

function clampPercent(p: number): number {
  return Number.isFinite(p) ? Math.max(0, Math.min(100, Math.round(p))) : 0;
}

export interface ProgressPanelProps {
  title: string;
  progress: Progress;
  onCancel?: () => void;
  /** A cancel request is in flight. */
  cancelling?: boolean;
}

/** The progress box shown while a target works. */
export function ProgressPanel({ title, progress, onCancel, cancelling }: ProgressPanelProps) {
  const [showFiles, setShowFiles] = useState(false);
  const [files, setFiles] = useState<{ operation: string; lines: FileLine[] }>({ operation: progress.operation_id, lines: [] });
  const headingId = useId();
  const filesId = useId();
  const percent = clampPercent(progress.percent);

  // Remember every file the operation has touched, so "Show files" can list them.
  useEffect(() => {
    setFiles((prev) => {
      const same = prev.operation === progress.operation_id;
      const base = same ? prev.lines : [];
      const file = progress.file;
      const last = base[base.length - 1];
      if (!file || (last && last.path === file && last.phase === progress.phase)) return same ? prev : { operation: progress.operation_id, lines: base };
      const lines = base.map((l) => (l.done ? l : { ...l, done: true }));
      lines.push({ path: file, phase: progress.phase, done: false });
      return { operation: progress.operation_id, lines: lines.slice(-MAX_FILE_LINES) };
    });
  }, [progress.operation_id, progress.file, progress.phase]);

  const bytesKnown = progress.bytes_total > 0;
  return (
    <section className="card progress-panel" aria-labelledby={headingId} data-testid="progress-panel" data-phase={progress.phase}>
      <div className="progress-head">
        <h2 id={headingId} className="progress-title" data-testid="progress-title">
          <span className="spinner" aria-hidden="true" /> {title}
        </h2>
        {progress.cancellable && onCancel ? (
          <button type="button" className="button" onClick={onCancel} disabled={cancelling} data-testid="cancel-button">
            {cancelling ? 'Cancelling…' : 'Cancel'}
          </button>
        ) : null}
      </div>
      <p className="progress-message">
        {/* The step, unless the message already starts with it ("Downloading bin/demo"). */}
        <span className={progress.message.startsWith(phaseLabel(progress.phase)) ? 'visually-hidden' : 'progress-step'} data-testid="progress-phase">
          {phaseLabel(progress.phase)}
        </span>
        <span data-testid="progress-message">{progress.message}</span>
      </p>
      <div
        className="progress-track"
        role="progressbar"
        aria-label={`${title} progress`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        aria-valuetext={`${percent}% — ${phaseLabel(progress.phase)}`}
        data-testid="progress-bar"
      >
        {/* React applies `style` through the CSSOM, which the strict CSP (style-src 'self') allows. */}
        <div className="progress-fill" style={{ width: `${percent}%` }} />
      </div>
      <dl className="progress-stats">
        <div>
          {/* The whole operation's share, not the download's (the badge's "Downloading 82%"). */}
          <dt>Overall</dt>
          <dd data-testid="progress-percent">{percent}%</dd>
        </div>
        <div>
          <dt>Transferred</dt>
          <dd data-testid="progress-bytes">{bytesKnown ? `${formatBytes(progress.bytes_done)} of ${formatBytes(progress.bytes_total)}` : '—'}</dd>
        </div>
        <div>
          <dt>Speed</dt>
          <dd>{formatRate(progress.speed_bps)}</dd>
        </div>
        <div>
          <dt>Time left</dt>
          <dd>{formatSeconds(progress.eta_s)}</dd>
        </div>
        <div>
          <dt>Files</dt>
          <dd>{progress.files_total > 0 ? `${progress.files_done} of ${progress.files_total}` : '—'}</dd>
        </div>
      </dl>
      <button type="button" className="button button-link" aria-expanded={showFiles} aria-controls={filesId} onClick={() => setShowFiles((v) => !v)}>
        {showFiles ? 'Hide files' : 'Show files'}
      </button>
      {showFiles ? (
        <ul id={filesId} className="file-lines" data-testid="progress-files">
          {files.lines.length === 0 ? <li className="muted">No file-level progress reported yet.</li> : null}
          {files.lines.map((l, i) => (
            <li key={`${i}-${l.path}`}>
              <code>{l.path}</code> <span className="muted">{l.done ? 'done' : `${phaseLabel(l.phase).toLowerCase()}…`}</span>
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}
