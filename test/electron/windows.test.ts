import { describe, it, expect, vi, beforeEach } from 'vitest';
import { pathToFileURL } from 'node:url';

// A stand-in BrowserWindow that records its options and handlers, so the window manager's
// policies can be driven the way Electron would drive them.
const h = vi.hoisted(() => {
  type Listener = (...a: any[]) => unknown;
  const windows: any[] = [];
  const opened: string[] = [];
  const sessionCalls: { headers?: Listener; permission?: Listener; check?: Listener } = {};
  class FakeWebContents {
    listeners = new Map<string, Listener>();
    openHandler: Listener | null = null;
    session = {
      webRequest: { onHeadersReceived: (l: Listener) => (sessionCalls.headers = l) },
      setPermissionRequestHandler: (l: Listener) => (sessionCalls.permission = l),
      setPermissionCheckHandler: (l: Listener) => (sessionCalls.check = l),
    };
    on(ev: string, l: Listener) {
      this.listeners.set(ev, l);
    }
    setWindowOpenHandler(l: Listener) {
      this.openHandler = l;
    }
  }
  class FakeBrowserWindow {
    listeners = new Map<string, Listener>();
    webContents = new FakeWebContents();
    loaded: string[] = [];
    visible = false;
    destroyed = false;
    constructor(public options: any) {
      windows.push(this);
    }
    on(ev: string, l: Listener) {
      this.listeners.set(ev, l);
    }
    once(ev: string, l: Listener) {
      this.listeners.set(ev, l);
    }
    loadURL(url: string) {
      this.loaded.push(url);
      return Promise.resolve();
    }
    isDestroyed() {
      return this.destroyed;
    }
    isMinimized() {
      return false;
    }
    restore() {}
    show() {
      this.visible = true;
    }
    hide() {
      this.visible = false;
    }
    focus() {}
  }
  return { windows, opened, sessionCalls, FakeBrowserWindow };
});

vi.mock('electron', () => ({
  BrowserWindow: h.FakeBrowserWindow,
  shell: { openExternal: async (url: string) => void h.opened.push(url) },
}));

import {
  contentSecurityPolicy,
  createWindowManager,
  mainWindowOptions,
  navigationDecision,
  secureWebPreferences,
  windowOpenDecision,
  withCsp,
} from '../../src-main/electron/windows';
import { appLocation, appUrlWithRoute, isAppUrl, type AppLocation } from '../../src-main/electron/url-policy';

const INDEX = pathToFileURL('/opt/Upkeep/resources/app.asar/out/renderer/index.html').href;
const LOC: AppLocation = { kind: 'file', indexUrl: INDEX };

beforeEach(() => {
  h.windows.length = 0;
  h.opened.length = 0;
});

describe('window options', () => {
  it('isolates the renderer: context isolation, sandbox, no node, web security, the preload', () => {
    const wp = secureWebPreferences('/app/out/preload/index.js');
    expect(wp).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, nodeIntegrationInWorker: false, nodeIntegrationInSubFrames: false, webSecurity: true, allowRunningInsecureContent: false, webviewTag: false, preload: '/app/out/preload/index.js' });
    expect(mainWindowOptions('/p.js').webPreferences).toEqual(secureWebPreferences('/p.js'));
    expect(mainWindowOptions('/p.js').show).toBe(false);
  });

  it('has a strict CSP in production and a looser one only for the dev server', () => {
    const prod = contentSecurityPolicy();
    expect(prod).toContain("default-src 'none'");
    expect(prod).toContain("script-src 'self'");
    expect(prod).not.toContain('unsafe-inline');
    expect(prod).not.toContain('unsafe-eval');
    expect(prod).toContain("object-src 'none'");
    expect(prod).toContain("frame-ancestors 'none'");
    const dev = contentSecurityPolicy('http://localhost:5173/');
    expect(dev).toContain('connect-src \'self\' ws://localhost:5173');
    expect(dev).not.toContain('unsafe-eval');
  });

  it('replaces any CSP header of a response with the app CSP', () => {
    const out = withCsp({ 'content-security-policy': ["default-src *"], 'Content-Type': 'text/html' }, "default-src 'none'");
    expect(out).toEqual({ 'Content-Type': ['text/html'], 'Content-Security-Policy': ["default-src 'none'"] });
  });
});

describe('URL policies', () => {
  it('knows the app page from everything else', () => {
    expect(isAppUrl(`${INDEX}#/targets/demo`, LOC)).toBe(true);
    expect(isAppUrl(pathToFileURL('/opt/Upkeep/resources/app.asar/out/renderer/other.html').href, LOC)).toBe(false);
    expect(isAppUrl('file:///etc/passwd', LOC)).toBe(false);
    expect(isAppUrl('https://example.com/', LOC)).toBe(false);
    expect(isAppUrl('not a url', LOC)).toBe(false);
    const dev: AppLocation = { kind: 'dev', url: 'http://localhost:5173/' };
    expect(isAppUrl('http://localhost:5173/src/main.tsx', dev)).toBe(true);
    expect(isAppUrl('http://localhost.evil.com:5173/', dev)).toBe(false);
  });

  it('uses the dev server only for http(s) URLs', () => {
    expect(appLocation('http://localhost:5173', INDEX)).toEqual({ kind: 'dev', url: 'http://localhost:5173/' });
    expect(appLocation('javascript:alert(1)', INDEX)).toEqual({ kind: 'file', indexUrl: INDEX });
    expect(appLocation(undefined, INDEX)).toEqual({ kind: 'file', indexUrl: INDEX });
  });

  it('blocks navigation away from the app, handing only http(s) to the browser', () => {
    expect(navigationDecision(`${INDEX}#/history`, LOC)).toEqual({ allow: true, external: null });
    expect(navigationDecision('https://example.com/release', LOC)).toEqual({ allow: false, external: 'https://example.com/release' });
    expect(navigationDecision('file:///etc/passwd', LOC)).toEqual({ allow: false, external: null });
    expect(navigationDecision('javascript:alert(1)', LOC)).toEqual({ allow: false, external: null });
  });

  it('denies every new window', () => {
    expect(windowOpenDecision('https://example.com/')).toEqual({ action: 'deny', external: 'https://example.com/' });
    expect(windowOpenDecision('about:blank')).toEqual({ action: 'deny', external: null });
    expect(windowOpenDecision(INDEX)).toEqual({ action: 'deny', external: null });
  });

  it('builds route URLs on the app page', () => {
    expect(appUrlWithRoute(LOC, '#/targets/demo')).toBe(`${INDEX}#/targets/demo`);
    expect(appUrlWithRoute({ kind: 'dev', url: 'http://localhost:5173/' }, '#/')).toBe('http://localhost:5173/#/');
  });
});

describe('window manager', () => {
  function manager() {
    let quitting = false;
    const m = createWindowManager({ location: LOC, preloadPath: '/app/out/preload/index.js', isQuitting: () => quitting });
    return { m, quit: () => (quitting = true) };
  }

  it('creates one hardened window, loads the app on the route, and reuses it', () => {
    const { m } = manager();
    m.show('#/targets/demo');
    expect(h.windows).toHaveLength(1);
    const w = h.windows[0];
    expect(w.options.webPreferences).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false });
    expect(w.loaded).toEqual([`${INDEX}#/targets/demo`]);
    m.show('#/history');
    expect(h.windows).toHaveLength(1);
    expect(w.loaded.at(-1)).toBe(`${INDEX}#/history`);
    expect(w.visible).toBe(true);
  });

  it('applies the CSP header and refuses permission requests on the session', () => {
    const { m } = manager();
    m.show();
    let headers: unknown;
    h.sessionCalls.headers!({ responseHeaders: { 'Content-Type': ['text/html'] } }, (r: { responseHeaders: unknown }) => (headers = r.responseHeaders));
    expect((headers as Record<string, string[]>)['Content-Security-Policy'][0]).toBe(contentSecurityPolicy());
    let granted: boolean | undefined;
    h.sessionCalls.permission!(null, 'notifications', (ok: boolean) => (granted = ok));
    expect(granted).toBe(false);
  });

  it('prevents foreign navigation and new windows, opening http(s) externally', () => {
    const { m } = manager();
    m.show();
    const wc = h.windows[0].webContents;
    const ev = () => ({ prevented: false, preventDefault() { this.prevented = true; } });
    const e1 = ev();
    wc.listeners.get('will-navigate')(e1, 'https://example.com/x');
    const e2 = ev();
    wc.listeners.get('will-navigate')(e2, `${INDEX}#/targets/demo`);
    const e3 = ev();
    wc.listeners.get('will-navigate')(e3, 'file:///etc/passwd');
    expect([e1.prevented, e2.prevented, e3.prevented]).toEqual([true, false, true]);
    expect(wc.openHandler({ url: 'javascript:alert(1)' })).toEqual({ action: 'deny' });
    expect(wc.openHandler({ url: 'https://example.com/notes' })).toEqual({ action: 'deny' });
    const e4 = ev();
    wc.listeners.get('will-attach-webview')(e4);
    expect(e4.prevented).toBe(true);
    expect(h.opened).toEqual(['https://example.com/x', 'https://example.com/notes']);
  });

  it('hides on close until the app quits', () => {
    const { m, quit } = manager();
    m.show();
    const w = h.windows[0];
    w.visible = true;
    const e = { prevented: false, preventDefault() { this.prevented = true; } };
    w.listeners.get('close')(e);
    expect(e.prevented).toBe(true);
    expect(w.visible).toBe(false);
    quit();
    const e2 = { prevented: false, preventDefault() { this.prevented = true; } };
    w.listeners.get('close')(e2);
    expect(e2.prevented).toBe(false);
  });
});
