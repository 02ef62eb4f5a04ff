/**
 * The top bar: product name, main navigation, and — in the web dashboard — the access-token
 * sign-in. Reads may work without a token (public reads), so the UI never blocks on it; when a
 * request is refused with 401/403 the reason is shown here next to the field.
 */
import { useState, type FormEvent } from 'react';
import { useApi, useUpkeep } from '../context';
import type { Route } from '../router';

function TokenForm() {
  const api = useApi();
  const auth = useUpkeep((s) => s.auth);
  const setToken = useUpkeep((s) => s.setToken);
  const hasToken = useUpkeep(() => Boolean(api.getToken?.()));
  const [value, setValue] = useState('');
  const [editing, setEditing] = useState(false);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (value.trim() === '') return;
    setToken(value);
    setValue('');
    setEditing(false);
  };

  const showField = !hasToken || editing || auth.needed;
  return (
    <div className="token-area">
      {showField ? (
        <form className="token-form" onSubmit={submit} aria-label="Sign in with an access token">
          <label htmlFor="upkeep-token">Access token</label>
          <input
            id="upkeep-token"
            type="password"
            autoComplete="off"
            spellCheck={false}
            value={value}
            onChange={(e) => setValue(e.target.value)}
            aria-invalid={auth.needed || undefined}
            aria-describedby={auth.needed ? 'upkeep-auth-message' : undefined}
            data-testid="token-input"
          />
          <button type="submit" className="button button-primary" data-testid="token-submit">
            Sign in
          </button>
        </form>
      ) : (
        <div className="token-status">
          <span className="muted" data-testid="token-status">
            Signed in with a token
          </span>
          <button type="button" className="button button-link" onClick={() => setEditing(true)}>
            Change
          </button>
          <button type="button" className="button button-link" onClick={() => setToken(null)} data-testid="sign-out">
            Sign out
          </button>
        </div>
      )}
    </div>
  );
}

/** The app header. */
export function Header({ route }: { route: Route }) {
  const api = useApi();
  const auth = useUpkeep((s) => s.auth);
  const version = useUpkeep((s) => s.info?.version ?? null);
  const onTargets = route.name === 'targets' || route.name === 'target';
  return (
    <header className="app-header">
      <div className="header-row">
        <a className="brand" href="#/">
          <span className="brand-mark" aria-hidden="true" />
          Upkeep
          {version ? <span className="brand-version">v{version}</span> : null}
        </a>
        <nav aria-label="Main" className="main-nav">
          <a href="#/" aria-current={onTargets ? 'page' : undefined} data-testid="nav-targets">
            Targets
          </a>
          <a href="#/logs" aria-current={route.name === 'logs' ? 'page' : undefined} data-testid="nav-logs">
            Logs
          </a>
        </nav>
        {api.setToken ? <TokenForm /> : null}
      </div>
      {auth.needed && auth.message ? (
        <p id="upkeep-auth-message" className="notice notice-warn auth-message" role="alert" data-testid="auth-message">
          {auth.message} {auth.code ? <code>({auth.code})</code> : null}
        </p>
      ) : null}
    </header>
  );
}
