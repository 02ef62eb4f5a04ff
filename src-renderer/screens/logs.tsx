/**
 * Screen 7: the engine's log — recent lines read once, then new lines from the event stream —
 * filterable by level, target and text, following the end while the user has not scrolled up.
 */
import { useEffect, useId, useLayoutEffect, useRef, useState } from 'react';
import type { ErrorView, LogLine } from '../../src-shared/api';
import { Skeleton } from '../components/banners';
import { ErrorMessage } from '../components/error-message';
import { useApi, useUpkeep } from '../context';
import { formatTime } from '../format';

/** Lines read when the view opens. */
export const LOG_FETCH_LIMIT = 500;

const LEVEL_RANK: Record<LogLine['level'], number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** The Logs view. */
export function LogsScreen() {
  const api = useApi();
  const logs = useUpkeep((s) => s.logs);
  const order = useUpkeep((s) => s.order);
  const setLogHistory = useUpkeep((s) => s.setLogHistory);
  const reportError = useUpkeep((s) => s.reportError);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<ErrorView | null>(null);
  const [level, setLevel] = useState<LogLine['level']>('info');
  const [target, setTarget] = useState('');
  const [text, setText] = useState('');
  const [follow, setFollow] = useState(true);
  const listRef = useRef<HTMLOListElement>(null);
  const uid = useId();

  useEffect(() => {
    let live = true;
    api.logs(LOG_FETCH_LIMIT).then(
      (lines) => {
        if (!live) return;
        setLogHistory(lines);
        setLoaded(true);
      },
      (err: unknown) => {
        if (!live) return;
        setError(reportError(err));
        setLoaded(true);
      },
    );
    return () => {
      live = false;
    };
  }, [api, setLogHistory, reportError]);

  const needle = text.trim().toLowerCase();
  const shown = logs.filter(
    (l) => (LEVEL_RANK[l.level] ?? 1) >= LEVEL_RANK[level] && (target === '' || l.target === target) && (needle === '' || l.message.toLowerCase().includes(needle)),
  );

  useLayoutEffect(() => {
    const el = listRef.current;
    if (follow && el) el.scrollTop = el.scrollHeight;
  }, [follow, shown.length]);

  const onScroll = () => {
    const el = listRef.current;
    if (!el) return;
    const atEnd = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    if (atEnd !== follow) setFollow(atEnd);
  };

  return (
    <section aria-labelledby={`${uid}-title`} data-testid="logs-screen">
      <div className="toolbar">
        <h1 id={`${uid}-title`}>Logs</h1>
      </div>
      <div className="card">
        <div className="log-filters">
          <label htmlFor={`${uid}-level`}>Level</label>
          <select id={`${uid}-level`} value={level} onChange={(e) => setLevel(e.target.value as LogLine['level'])} data-testid="log-level">
            <option value="debug">Debug and above</option>
            <option value="info">Info and above</option>
            <option value="warn">Warnings and errors</option>
            <option value="error">Errors only</option>
          </select>
          <label htmlFor={`${uid}-target`}>Target</label>
          <select id={`${uid}-target`} value={target} onChange={(e) => setTarget(e.target.value)}>
            <option value="">All</option>
            {order.map((id) => (
              <option key={id} value={id}>
                {id}
              </option>
            ))}
          </select>
          <label htmlFor={`${uid}-search`}>Search</label>
          <input id={`${uid}-search`} type="search" value={text} onChange={(e) => setText(e.target.value)} data-testid="log-search" />
          <label className="choice">
            <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} />
            Follow new lines
          </label>
        </div>
        {error ? <ErrorMessage error={error} title="Could not read the log" /> : null}
        {!loaded ? <Skeleton lines={6} /> : null}
        {loaded && shown.length === 0 ? (
          <p className="empty-state muted" data-testid="logs-empty">
            {logs.length === 0 ? 'No log lines yet.' : 'No lines match the filters.'}
          </p>
        ) : null}
        {shown.length > 0 ? (
          // role=log without live announcements: a busy log read aloud would drown everything else.
          <ol className="log-lines" role="log" aria-live="off" aria-label="Log lines" ref={listRef} onScroll={onScroll} tabIndex={0} data-testid="log-lines">
            {shown.map((l, i) => (
              <li key={`${l.at}-${i}`} className={`log-line log-${l.level}`} data-testid="log-line">
                <time dateTime={l.at}>{formatTime(l.at)}</time>
                <span className={`log-level log-level-${l.level}`}>{l.level}</span>
                {l.target ? <span className="log-target">{l.target}</span> : null}
                <span className="log-message">{l.message}</span>
              </li>
            ))}
          </ol>
        ) : null}
      </div>
    </section>
  );
}
