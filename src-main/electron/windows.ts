/**
 * The main window: hardened webPreferences, a strict Content-Security-Policy (also sent as a
 * response header), navigation and window.open locked to the app, close-to-tray. The policies are
 * pure functions; `createWindowManager` applies them to a BrowserWindow.
 */
import { BrowserWindow, shell, type BrowserWindowConstructorOptions, type Session } from 'electron';
import { appUrlWithRoute, isAppUrl, safeExternalUrl, type AppLocation } from './url-policy';

/** The security-relevant webPreferences every Upkeep window uses. */
export function secureWebPreferences(preloadPath: string): NonNullable<BrowserWindowConstructorOptions['webPreferences']> {
  return {
    preload: preloadPath,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    experimentalFeatures: false,
    spellcheck: false,
  };
}

/** Options of the main window (hidden until ready; the tray shows it). */
export function mainWindowOptions(preloadPath: string, iconPath?: string): BrowserWindowConstructorOptions {
  return {
    width: 1100,
    height: 760,
    minWidth: 720,
    minHeight: 480,
    show: false,
    title: 'Upkeep',
    autoHideMenuBar: true,
    ...(iconPath ? { icon: iconPath } : {}),
    webPreferences: secureWebPreferences(preloadPath),
  };
}

/**
 * The Content-Security-Policy of the renderer. Production: only the app's own scripts, styles,
 * images and fonts; no inline script, no eval, no plugins, no framing, no connections but 'self'.
 * Development (a dev server origin given) additionally allows what Vite's HMR needs.
 */
export function contentSecurityPolicy(devOrigin?: string): string {
  const dev = devOrigin ? new URL(devOrigin) : null;
  const ws = dev ? `${dev.protocol === 'https:' ? 'wss:' : 'ws:'}//${dev.host}` : '';
  const directives: [string, string][] = [
    ['default-src', "'none'"],
    ['script-src', dev ? "'self' 'unsafe-inline'" : "'self'"],
    ['style-src', dev ? "'self' 'unsafe-inline'" : "'self'"],
    ['img-src', "'self' data:"],
    ['font-src', "'self'"],
    ['connect-src', dev ? `'self' ${ws}` : "'self'"],
    ['base-uri', "'none'"],
    ['form-action', "'none'"],
    ['frame-ancestors', "'none'"],
    ['frame-src', "'none'"],
    ['object-src', "'none'"],
    ['worker-src', "'none'"],
  ];
  return directives.map(([k, v]) => `${k} ${v}`).join('; ');
}

/** Response headers with the app's CSP replacing any CSP header already present (any case). */
export function withCsp(headers: Record<string, string[] | string> | undefined, csp: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (k.toLowerCase() === 'content-security-policy') continue;
    out[k] = Array.isArray(v) ? v : [v];
  }
  out['Content-Security-Policy'] = [csp];
  return out;
}

export interface NavigationDecision {
  allow: boolean;
  /** http(s) URL to hand to the system browser instead, if any. */
  external: string | null;
}

/** will-navigate: only the app's own page may load in the window; http(s) links go to the browser. */
export function navigationDecision(url: string, loc: AppLocation): NavigationDecision {
  if (isAppUrl(url, loc)) return { allow: true, external: null };
  return { allow: false, external: safeExternalUrl(url) };
}

/** window.open / target=_blank: never a new window; http(s) URLs go to the browser, the rest is dropped. */
export function windowOpenDecision(url: string): { action: 'deny'; external: string | null } {
  return { action: 'deny', external: safeExternalUrl(url) };
}

export interface WindowManagerOptions {
  location: AppLocation;
  preloadPath: string;
  iconPath?: string;
  /** True once the app is quitting: closing then really closes. */
  isQuitting(): boolean;
  /** Called when the window becomes visible or hidden (e.g. to show/hide the macOS dock icon). */
  onVisibilityChange?(visible: boolean): void;
  log?: { warn(...a: unknown[]): void };
}

export interface WindowManager {
  /** Shows (creating if needed) and focuses the window, optionally on a hash route. */
  show(route?: string): void;
  /** The window's webContents while it exists. */
  webContents(): Electron.WebContents | null;
}

/** Applies the CSP header, and refuses permission requests and webviews, on a session (once per session). */
export function hardenSession(ses: Session, location: AppLocation): void {
  const csp = contentSecurityPolicy(location.kind === 'dev' ? location.url : undefined);
  ses.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: withCsp(details.responseHeaders, csp) });
  });
  ses.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
}

/** Creates the window lazily, enforces the navigation policies and hides instead of closing. */
export function createWindowManager(o: WindowManagerOptions): WindowManager {
  let win: BrowserWindow | null = null;
  let hardened = false;

  const openExternal = (url: string | null): void => {
    if (url) shell.openExternal(url).catch((err: unknown) => o.log?.warn('openExternal failed', err));
  };

  const create = (): BrowserWindow => {
    const w = new BrowserWindow(mainWindowOptions(o.preloadPath, o.iconPath));
    if (!hardened) {
      hardenSession(w.webContents.session, o.location);
      hardened = true;
    }
    const wc = w.webContents;
    wc.on('will-navigate', (event, url) => {
      const d = navigationDecision(url, o.location);
      if (!d.allow) {
        event.preventDefault();
        openExternal(d.external);
      }
    });
    wc.on('will-redirect', (event, url) => {
      if (!isAppUrl(url, o.location)) event.preventDefault();
    });
    wc.on('will-attach-webview', (event) => event.preventDefault());
    wc.setWindowOpenHandler(({ url }) => {
      const d = windowOpenDecision(url);
      openExternal(d.external);
      return { action: d.action };
    });
    w.on('close', (event) => {
      if (o.isQuitting()) return;
      event.preventDefault();
      w.hide();
    });
    w.on('show', () => o.onVisibilityChange?.(true));
    w.on('hide', () => o.onVisibilityChange?.(false));
    w.on('closed', () => {
      if (win === w) win = null;
    });
    w.once('ready-to-show', () => w.show());
    return w;
  };

  return {
    show(route?: string) {
      if (!win || win.isDestroyed()) {
        win = create();
        void win.loadURL(appUrlWithRoute(o.location, route ?? '#/'));
        return;
      }
      // A fragment-only change is a same-document navigation: the renderer's router follows it.
      if (route) void win.loadURL(appUrlWithRoute(o.location, route));
      if (win.isMinimized()) win.restore();
      win.show();
      win.focus();
    },
    webContents() {
      return win && !win.isDestroyed() ? win.webContents : null;
    },
  };
}
