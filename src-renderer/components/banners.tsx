/**
 * Page-wide status: the offline banner (event stream down), the screen-reader live region that
 * announces status and phase changes, and loading placeholders.
 */
import { useEffect, useRef, useState } from 'react';
import { useUpkeep, useUpkeepStore } from '../context';
import { statusLabel } from '../status';

/** Shown while live updates are not arriving. */
export function OfflineBanner() {
  const connection = useUpkeep((s) => s.connection);
  if (connection === 'offline') {
    return (
      <div className="banner banner-offline" role="alert" data-testid="offline-banner">
        <span className="spinner spinner-small" aria-hidden="true" />
        Live updates are disconnected. Reconnecting… What you see may be out of date.
      </div>
    );
  }
  if (connection === 'unauthorized') {
    return (
      <div className="banner banner-offline" role="alert" data-testid="offline-banner">
        Live updates need an access token. Sign in to see progress as it happens.
      </div>
    );
  }
  return null;
}

/**
 * A visually hidden aria-live region: announces when a target's status changes ("Demo: Downloading",
 * "Demo: Checking health", "Demo: Up to date") — not every percent, which would be noise.
 */
export function LiveAnnouncer() {
  const store = useUpkeepStore();
  const [text, setText] = useState('');
  const last = useRef<Record<string, string>>({});

  useEffect(() => {
    const describe = () => {
      const s = store.getState();
      const changes: string[] = [];
      for (const id of s.order) {
        const t = s.targets[id];
        if (!t) continue;
        const summary = statusLabel(t.state).replace(/ \d+%$/, '');
        if (last.current[id] !== undefined && last.current[id] !== summary) changes.push(`${t.name}: ${summary}`);
        last.current[id] = summary;
      }
      if (changes.length > 0) setText(changes.join('. '));
    };
    describe();
    return store.subscribe(describe);
  }, [store]);

  return (
    <div className="visually-hidden" role="status" aria-live="polite" aria-atomic="true" data-testid="live-status">
      {text}
    </div>
  );
}

/** A loading placeholder block (aria-hidden; the surrounding region carries aria-busy). */
export function Skeleton({ lines = 3 }: { lines?: number }) {
  return (
    <div className="skeleton" aria-hidden="true">
      {Array.from({ length: lines }, (_, i) => (
        <div key={i} className="skeleton-line" />
      ))}
    </div>
  );
}

/** A spinner with a visible label. */
export function Loading({ label }: { label: string }) {
  return (
    <p className="loading" role="status" data-testid="loading">
      <span className="spinner" aria-hidden="true" /> {label}
    </p>
  );
}
