/**
 * `npm run dev`: the dev server's page may run the React refresh preamble (and only that inline
 * script), take Vite's injected styles and open the HMR websocket; the built page keeps the
 * strict policy.
 */
import { describe, it, expect } from 'vitest';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { devCspPlugin } from '../../scripts/vite-plugins';

const ROOT = process.cwd();
const source = fs.readFileSync(path.join(ROOT, 'src-renderer', 'index.html'), 'utf8');
const csp = (html: string) => /http-equiv="Content-Security-Policy"\s+content="([^"]*)"/.exec(html)![1]!;

describe('dev CSP', () => {
  it('allows exactly the injected refresh preamble by hash, Vite styles and HMR', () => {
    const preamble = 'import { injectIntoGlobalHook } from "/@react-refresh";\ninjectIntoGlobalHook(window);\nwindow.$RefreshReg$ = () => {};\nwindow.$RefreshSig$ = () => (type) => type;';
    const injected = source.replace('</head>', `<script type="module">${preamble}</script></head>`);
    const plugin = devCspPlugin();
    expect(plugin.apply).toBe('serve');
    const policy = csp(plugin.transformIndexHtml.handler(injected));
    const hash = createHash('sha256').update(preamble).digest('base64');
    expect(policy).toMatch(new RegExp(`script-src 'self' 'sha256-${hash.replace(/[+/]/g, '\\$&')}'`));
    expect(policy).not.toMatch(/script-src[^;]*unsafe-inline/);
    expect(policy).toContain("style-src 'self' 'unsafe-inline'");
    expect(policy).toContain('ws://localhost:*');
    expect(policy).toContain("object-src 'none'");
  });

  it('leaves the built page strict', () => {
    const built = path.join(ROOT, 'out', 'renderer', 'index.html');
    if (!fs.existsSync(built)) return;
    const policy = csp(fs.readFileSync(built, 'utf8'));
    expect(policy).toContain("script-src 'self'");
    expect(policy).not.toContain('sha256-');
    expect(policy).not.toContain('unsafe-inline');
  });
});
