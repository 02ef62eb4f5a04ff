/**
 * Hash routing, so every screen has a stable address that survives reloads and works from
 * `file://` (Electron) and any path the daemon serves the dashboard under:
 *   #/                         targets overview
 *   #/targets/<id>             a target (Overview tab)
 *   #/targets/<id>/points      … Rollback points | /history | /settings
 *   #/logs                     global log view
 */
import { useSyncExternalStore } from 'react';

export const TARGET_TABS = ['overview', 'points', 'history', 'settings'] as const;
export type TargetTab = (typeof TARGET_TABS)[number];

export type Route =
  | { name: 'targets' }
  | { name: 'target'; id: string; tab: TargetTab }
  | { name: 'logs' }
  | { name: 'not-found'; path: string };

function isTab(value: string): value is TargetTab {
  return (TARGET_TABS as readonly string[]).includes(value);
}

function decode(part: string): string | null {
  try {
    return decodeURIComponent(part);
  } catch {
    return null;
  }
}

/** Parses `location.hash` into a route. */
export function parseHash(hash: string): Route {
  const path = hash.replace(/^#/, '');
  const parts = path.split('/').filter((p) => p !== '');
  if (parts.length === 0 || (parts.length === 1 && parts[0] === 'targets')) return { name: 'targets' };
  if (parts.length === 1 && parts[0] === 'logs') return { name: 'logs' };
  if (parts[0] === 'targets' && (parts.length === 2 || parts.length === 3)) {
    const id = decode(parts[1]);
    const tab = parts[2] ?? 'overview';
    if (id && isTab(tab)) return { name: 'target', id, tab };
  }
  return { name: 'not-found', path };
}

/** The `href` of a route (always starting with '#/'). */
export function hrefFor(route: Route): string {
  switch (route.name) {
    case 'targets':
      return '#/';
    case 'logs':
      return '#/logs';
    case 'target':
      return `#/targets/${encodeURIComponent(route.id)}${route.tab === 'overview' ? '' : `/${route.tab}`}`;
    case 'not-found':
      return `#${route.path}`;
  }
}

/** Shorthand for a target tab's href. */
export function targetHref(id: string, tab: TargetTab = 'overview'): string {
  return hrefFor({ name: 'target', id, tab });
}

function subscribe(onChange: () => void): () => void {
  window.addEventListener('hashchange', onChange);
  return () => window.removeEventListener('hashchange', onChange);
}

/** The current route; re-renders on every hash change. */
export function useHashRoute(): Route {
  const hash = useSyncExternalStore(subscribe, () => window.location.hash);
  return parseHash(hash);
}
