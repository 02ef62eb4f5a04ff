/**
 * The web dashboard: the built renderer (out/renderer) served at / with @fastify/static, and the
 * security headers every HTML page gets (a strict CSP: the dashboard loads nothing but itself).
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** The Content-Security-Policy of the dashboard's HTML. */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** True when `dir` is a directory holding an index.html. */
export function isDashboardDir(dir: string | null | undefined): dir is string {
  if (!dir) return false;
  try {
    return statSync(dir).isDirectory() && existsSync(path.join(dir, 'index.html'));
  } catch {
    return false;
  }
}

/**
 * Serves `dir` at / when it holds a built dashboard; returns whether it does. Unknown paths fall
 * through to the app's not-found handler.
 */
export async function registerDashboard(app: FastifyInstance, dir: string | null | undefined): Promise<boolean> {
  if (!isDashboardDir(dir)) return false;
  await app.register(fastifyStatic, {
    root: path.resolve(dir),
    prefix: '/',
    index: ['index.html'],
    wildcard: true,
    dotfiles: 'deny',
    // index.html must be revalidated so a new build is picked up; hashed assets may be cached.
    setHeaders(reply, filePath) {
      if (filePath.endsWith('.html')) reply.header('cache-control', 'no-cache');
    },
  });
  return true;
}

/** Adds the HTML security headers when the response is an HTML page. */
export function securityHeaders(contentType: string | undefined): Record<string, string> {
  const base: Record<string, string> = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };
  if (contentType && /^text\/html\b/i.test(contentType)) {
    base['content-security-policy'] = DASHBOARD_CSP;
    base['x-frame-options'] = 'DENY';
  }
  return base;
}
