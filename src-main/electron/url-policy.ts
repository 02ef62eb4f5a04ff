/**
 * Which URLs belong to the app (its own renderer page, or the dev server in development) and
 * which may be handed to the operating system's browser. Pure functions used by the window
 * (navigation, window.open) and the IPC layer (sender check, openExternal).
 */

/** Where the renderer is loaded from: the built file, or the electron-vite dev server. */
export type AppLocation =
  | { kind: 'file'; /** file:// URL of out/renderer/index.html */ indexUrl: string }
  | { kind: 'dev'; /** Dev server URL, e.g. http://localhost:5173/ */ url: string };

function parse(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

/** The renderer location for this run: ELECTRON_RENDERER_URL (dev, http(s) only) or the built index file URL. */
export function appLocation(devServerUrl: string | undefined, indexFileUrl: string): AppLocation {
  const dev = devServerUrl ? parse(devServerUrl) : null;
  if (dev && (dev.protocol === 'http:' || dev.protocol === 'https:')) return { kind: 'dev', url: dev.href };
  return { kind: 'file', indexUrl: indexFileUrl };
}

/**
 * True when `url` is the app's own page: for a file location, exactly the index file (any hash,
 * no query); for the dev server, any URL of the same origin.
 */
export function isAppUrl(url: string, loc: AppLocation): boolean {
  const u = parse(url);
  if (!u) return false;
  if (loc.kind === 'dev') {
    const dev = parse(loc.url);
    return dev !== null && u.origin === dev.origin;
  }
  const index = parse(loc.indexUrl);
  if (!index || u.protocol !== 'file:' || index.protocol !== 'file:') return false;
  return u.host === index.host && u.pathname === index.pathname && u.search === '';
}

/** The URL of the app's page on a hash route ('#/targets/demo'). */
export function appUrlWithRoute(loc: AppLocation, route: string): string {
  const base = loc.kind === 'dev' ? loc.url : loc.indexUrl;
  const u = new URL(base);
  u.hash = route.startsWith('#') ? route.slice(1) : route;
  return u.href;
}

/** The normalised URL when it may be opened in the system browser (http/https, no credentials), else null. */
export function safeExternalUrl(url: string): string | null {
  const u = parse(url);
  if (!u) return null;
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
  if (u.username || u.password) return null;
  if (!u.hostname) return null;
  return u.href;
}
