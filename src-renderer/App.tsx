/**
 * The Upkeep UI: the Electron window's renderer and the daemon's web dashboard alike. It talks only
 * to a `RendererApi` (src-shared's UpdaterApi plus optional extras), chosen by api/choose-api.ts.
 *
 * Stable selectors for end-to-end tests (Playwright against a real daemon):
 *
 * Routes (hash): `#/` targets, `#/targets/<id>` a target, `#/targets/<id>/points` | `/history` |
 * `/settings` its tabs, `#/logs` the log view.
 *
 * Targets overview (`data-testid="targets-screen"`):
 *   - one card per target: `[data-testid="target-card"][data-target-id="<id>"]`
 *   - in a card: `target-link` (link with the target's name: opens it), `status-badge`
 *     (text e.g. "Up to date", "Update available", "Critical update", "Downloading 42%",
 *     "Failed: ERR_…"; attribute `data-state` = the TargetState kind), `current-version`,
 *     `available-version`, `last-checked` (a date, or "Never"), `critical-badge`, `breaking-badge`,
 *     `target-error` (the reason of a failed target)
 *   - buttons `check-all` ("Check all now"), `reload-config` ("Reload configuration")
 * Target page (`[data-testid="target-page"][data-target-id="<id>"]`):
 *   - header: `target-name` (h1), `status-badge`, `current-version` (the installed version)
 *   - tabs (links): `tab-overview`, `tab-points`, `tab-history`, `tab-settings`
 *     (accessible names "Overview", "Rollback points", "History", "Settings")
 *   - activity area (every tab): `progress-panel` (attribute `data-phase`), inside it `progress-bar`
 *     (role=progressbar, `aria-valuenow` 0–100), `progress-phase`, `progress-message`,
 *     `progress-percent`, `progress-bytes`, button "Show files" → `progress-files`, and
 *     `cancel-button` ("Cancel") only while cancelling is safe;
 *     `operation-result` after an action ends (`data-ok="true"|"false"`, `data-action` =
 *     apply | verify | check | skip | rollback; e.g. "Updated from 1.0.0 to 1.1.0.");
 *     errors anywhere: `error-message` (role=alert, `data-code`), with `error-text` and `error-code`
 * Overview tab: `available-version`, `critical-badge`, `breaking-badge`, `migrations-badge`,
 *   `release-notes` (rendered Markdown), buttons `check-button` "Check now", `verify-button`
 *   "Verify only", `apply-button` "Apply", `skip-button` "Skip this version"
 * Rollback points tab (`points-screen`): rows `[data-testid="rollback-point"][data-rollback-id]`
 *   with `point-from`, `point-to` and `rollback-button` (text "Roll back", name "Roll back to
 *   <version> (point <id>)"); empty state `points-empty` ("No rollback points yet"); the confirm
 *   dialog is role=dialog `rollback-dialog` with `dialog-confirm` ("Roll back") and
 *   `dialog-cancel` ("Cancel"); Escape closes it
 * History tab (`history-screen`): rows `history-row` (`data-result`), `history-error-code`;
 *   empty state `history-empty`
 * Settings tab (`settings-screen`): form `settings-form` with `setting-channel`,
 *   `schedule-interval|cron|manual`, `setting-interval`, `setting-interval-unit`, `setting-cron`,
 *   `setting-window-enabled`, `setting-day-mon`…`setting-day-sun`, `setting-window-start`,
 *   `setting-window-end`, `setting-window-timezone`, `setting-auto-download`,
 *   `setting-auto-apply`, `settings-save`, `settings-saved`; `pause-hour`, `pause-tomorrow`,
 *   `resume`, `pause-status`, `skip-list`, `skip-input`
 * Logs (`logs-screen`): `log-lines` (role=log), `log-line`, `log-level`, `log-search`
 * Page-wide: `nav-targets`, `nav-logs`, `offline-banner` (event stream down), `toast`
 *   (`data-level`), `live-status` (aria-live region), web dashboard sign-in `token-input`
 *   (label "Access token"), `token-submit` ("Sign in"), `token-status`, `sign-out`,
 *   `auth-message` (after a 401/403)
 */
import { useEffect, useMemo, useRef } from 'react';
import type { RendererApi } from './api/types';
import { LiveAnnouncer, OfflineBanner } from './components/banners';
import { Header } from './components/header';
import { Toasts } from './components/toasts';
import { UpkeepProvider, useUpkeep } from './context';
import { useHashRoute, type Route } from './router';
import { LogsScreen } from './screens/logs';
import { TargetPage } from './screens/target-page';
import { TargetsOverview } from './screens/targets-overview';
import { createUpkeepStore, type UpkeepStore } from './store';

function Screen({ route }: { route: Route }) {
  switch (route.name) {
    case 'targets':
      return <TargetsOverview />;
    case 'target':
      return <TargetPage key={route.id} id={route.id} tab={route.tab} />;
    case 'logs':
      return <LogsScreen />;
    case 'not-found':
      return (
        <section aria-labelledby="nf-title" className="empty-state">
          <h1 id="nf-title">Page not found</h1>
          <p className="muted">
            Nothing lives at <code>#{route.path}</code>. <a href="#/">Go to the targets</a>.
          </p>
        </section>
      );
  }
}

function useDocumentTitle(route: Route) {
  const name = useUpkeep((s) => (route.name === 'target' ? (s.targets[route.id]?.name ?? route.id) : null));
  useEffect(() => {
    const page = route.name === 'logs' ? 'Logs' : route.name === 'target' ? name : route.name === 'targets' ? 'Targets' : 'Not found';
    document.title = page ? `${page} — Upkeep` : 'Upkeep';
  }, [route.name, name]);
}

function Shell() {
  const route = useHashRoute();
  const mainRef = useRef<HTMLElement>(null);
  const place = route.name === 'target' ? `target:${route.id}` : route.name;
  const firstPlace = useRef(place);
  useDocumentTitle(route);

  // Moving to another screen puts focus at the start of its content (not on tab switches, and not
  // on first load), so keyboard and screen-reader users land where the new content is.
  useEffect(() => {
    if (place !== firstPlace.current) {
      firstPlace.current = '';
      mainRef.current?.focus();
    }
  }, [place]);

  return (
    <div className="app">
      <button type="button" className="skip-link" onClick={() => mainRef.current?.focus()}>
        Skip to content
      </button>
      <Header route={route} />
      <OfflineBanner />
      <main id="main" ref={mainRef} tabIndex={-1} className="main">
        <Screen route={route} />
      </main>
      <Toasts />
      <LiveAnnouncer />
    </div>
  );
}

export interface AppProps {
  api: RendererApi;
  /** A store to use (tests); by default one is created for `api`. */
  store?: UpkeepStore;
}

/** The whole UI for one API client: starts the event subscription and the first load on mount. */
export function App({ api, store: given }: AppProps) {
  const store = useMemo(() => given ?? createUpkeepStore(api), [api, given]);
  useEffect(() => store.getState().start(), [store]);
  return (
    <UpkeepProvider api={api} store={store}>
      <Shell />
    </UpkeepProvider>
  );
}
