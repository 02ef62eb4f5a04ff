/**
 * The top bar: product name, main navigation, and — in the web dashboard — the access-token
 * sign-in. Reads may work without a token (public reads), so the UI never blocks on it; when a
 * request is refused with 401/403 the reason is shown here next to the field.
 */
import { useState, type FormEvent } from 'react';
import type { ErrorView } from '../../src-shared/api';
import { useApi, useUpkeep } from '../context';
import { toErrorView } from '../store';
import type { Route } from '../router';
import type { SessionView } from '../api/types';

/** What a refused sign-in says on the form. */
function refusal(error: ErrorView): string {
  return error.code === 'ERR_UNAUTHORIZED' ? `This token was refused: ${error.message} (${error.code})` : `Could not check the token: ${error.message} (${error.code})`;
}

/**
 * Who the dashboard is signed in as: `Signed in with token "ops" (admin)` for a configured token,
 * `Signed in as "alice" with a JWT (read)` for a JWT (its subject), the bare "Signed in with a
 * token" until the daemon has said whose token it is.
 */
export function signedInText(session: SessionView | null): string {
  if (!session?.authenticated || !session.name) return 'Signed in with a token';
  const scopes = session.scopes.length > 0 ? session.scopes.join(', ') : 'no scopes';
  return session.via === 'jwt' ? `Signed in as "${session.name}" with a JWT (${scopes})` : `Signed in with token "${session.name}" (${scopes})`;
}

function TokenForm() {
  const api = useApi();
  const auth = useUpkeep((s) => s.auth);
  const setToken = useUpkeep((s) => s.setToken);
  const session = useUpkeep((s) => s.session);
  const hasToken = useUpkeep(() => Boolean(api.getToken?.()));
  const [value, setValue] = useState('');
  const [editing, setEditing] = useState(false);
  const [checking, setChecking] = useState(false);
  const [refused, setRefused] = useState<string | null>(null);

  // The token is checked with the daemon before it is kept: a wrong one is refused here, at once.
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const candidate = value.trim();
    if (candidate === '') return;
    setChecking(true);
    setRefused(null);
    try {
      const who = api.checkToken ? await api.checkToken(candidate) : undefined;
      setToken(candidate, who);
      setValue('');
      setEditing(false);
    } catch (err) {
      setRefused(refusal(toErrorView(err)));
    } finally {
      setChecking(false);
    }
  };

  const showField = !hasToken || editing || auth.needed;
  const described = [auth.needed ? 'upkeep-auth-message' : '', refused ? 'upkeep-token-refused' : ''].filter(Boolean).join(' ');
  return (
    <div className="token-area">
      {showField ? (
        <form className="token-form" onSubmit={(e) => void submit(e)} aria-label="Sign in with an access token">
          <label htmlFor="upkeep-token">Access token</label>
          <input
            id="upkeep-token"
            type="password"
            autoComplete="off"
            spellCheck={false}
            value={value}
            onChange={(e) => {
              setValue(e.target.value);
              setRefused(null);
            }}
            aria-invalid={auth.needed || refused !== null || undefined}
            aria-describedby={described || undefined}
            data-testid="token-input"
          />
          <button type="submit" className="button button-primary" disabled={checking} data-testid="token-submit">
            {checking ? 'Checking…' : 'Sign in'}
          </button>
          {refused ? (
            <p id="upkeep-token-refused" className="field-error token-refused" role="alert" data-testid="token-refused">
              {refused}
            </p>
          ) : null}
        </form>
      ) : (
        <div className="token-status">
          <span className="muted" data-testid="token-status">
            {signedInText(session)}
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
