/**
 * The Electron path end to end without the Electron binary: the real React renderer in Chromium,
 * the real built preload (out/preload/index.js), the real ipc-main.ts handlers with their zod
 * validation and sender check, and the real engine in this Node process. Only the transport is
 * replaced: a Playwright binding stands where ipcRenderer.invoke → ipcMain.handle would be, and
 * events go back on the same EVENT_CHANNEL the preload listens to. The desktop notifications are
 * the real notifier (notifications.ts) fed by the core's events as main.ts feeds it, with a
 * recording stand-in for Electron's Notification class.
 *
 * Driven from the window: apply, rollback (and the hold it leaves), cancel of a slow download,
 * an apply whose health check fails and is rolled back, and a settings change.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { createDaemon } from '../../src-main/engine/daemon';
import type { DaemonCore } from '../../src-main/engine/daemon-types';
import { forwardEvents, registerIpcHandlers, type IpcInvokeEventLike } from '../../src-main/electron/ipc-main';
import { createNotifier } from '../../src-main/electron/notifications';
import { appLocation } from '../../src-main/electron/url-policy';
import { EVENT_CHANNEL } from '../../src-shared/ipc-contract';
import type { UpkeepEvent } from '../../src-shared/api';
import { snapshot } from '../helpers/tree';
import { createFeedFixture, ensureDashboardBuilt, launchBrowser, ROOT, startFeedServer, upkeepOk, writeDaemonConfig, type Browser, type FeedFixture, type FeedServer } from './harness';

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.png': 'image/png', '.svg': 'image/svg+xml' };

/** The built renderer over loopback HTTP (module scripts do not load from file:// in Chromium). */
async function serveRenderer(dir: string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '') || 'index.html';
    const file = path.resolve(dir, rel);
    if (!file.startsWith(dir + path.sep)) return void res.writeHead(404).end();
    fsp.readFile(file).then(
      (body) => res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' }).end(body),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
}

describe('tray window over the IPC contract (test bridge in place of contextBridge + ipcRenderer)', () => {
  let f: FeedFixture;
  let feedServer: FeedServer;
  let core: DaemonCore;
  let browser: Browser;
  let page: Page;
  let renderer: { url: string; server: Server };
  let build100: string;
  let build110: string;
  let config: string;
  const calls: string[] = [];
  /** Desktop notifications main would have shown, in order. */
  const shown: Array<{ title: string; body: string }> = [];
  const stops: (() => void)[] = [];
  const install = () => path.join(f.dir, 'install');
  const target = () => page.locator('[data-testid="target-page"][data-target-id="demo"]');

  beforeAll(async () => {
    ensureDashboardBuilt();
    f = await createFeedFixture('upkeep-e2e-ipc-');
    build100 = await f.build('1.0.0', { 'bin/demo': { data: '#!/bin/sh\necho 1.0.0\n', mode: 0o755 }, 'VERSION': '1.0.0\n' });
    build110 = await f.build('1.1.0', { 'bin/demo': { data: '#!/bin/sh\necho 1.1.0\n', mode: 0o755 }, 'VERSION': '1.1.0\n', 'lib/data.bin': { data: randomBytes(256 * 1024) } });
    await f.publish(build100, '1.0.0', '## Demo 1.0.0\n');
    await f.publish(build110, '1.1.0', "## What's new in 1.1.0\n\n- Faster\n");
    feedServer = await startFeedServer(f.feed);
    config = await writeDaemonConfig(f, feedServer.url);
    // A health check that runs the installed program: a release whose program fails is rolled back.
    const program = path.join(f.dir, 'install', 'bin', 'demo');
    await fsp.appendFile(config, `    health: { command: ${JSON.stringify(program)}, retries: 0, interval_s: 0 }\n`);
    await upkeepOk(['--config', config, 'apply', '--version', '1.0.0', '--json'], f.dir);
    await upkeepOk(['--config', config, 'check', '--json'], f.dir);

    core = await createDaemon({ configPath: config, actor: 'tray' });
    // Main's notifications: the real notifier on the core's notification events (as main.ts wires it).
    const notify = createNotifier({
      create: (o) => ({ on: () => undefined, show: () => void shown.push({ title: o.title, body: o.body }) }),
      isSupported: () => true,
      open: () => undefined,
      quietHours: () => null,
      nameOf: (id) => core.config().config.targets.find((t) => t.id === id)?.name ?? id,
    });
    stops.push(core.subscribe((e) => {
      if (e.type === 'notification') notify(e.notification);
    }));
    renderer = await serveRenderer(path.join(ROOT, 'out', 'renderer'));
    browser = await launchBrowser();
    page = browser.page;

    // Main's side: the real handlers registered on a stand-in ipcMain.
    const handlers = new Map<string, (event: IpcInvokeEventLike, ...args: unknown[]) => Promise<unknown>>();
    stops.push(registerIpcHandlers({
      ipcMain: { handle: (ch, l) => void handlers.set(ch, l), removeHandler: (ch) => void handlers.delete(ch) },
      core,
      shell: { openExternal: async () => {} },
      allowed: appLocation(renderer.url, 'file:///nonexistent/index.html'),
    }));
    await page.exposeBinding('__upkeepIpcInvoke', async (source, channel: string, args: unknown[]) => {
      calls.push(channel);
      const handler = handlers.get(channel);
      if (!handler) throw new Error(`no handler for ${channel}`);
      // Electron gives the handler the sending frame; the binding knows it too.
      return handler({ senderFrame: { url: source.frame.url() } }, ...args);
    });
    stops.push(forwardEvents(core, () => ({
      isDestroyed: () => page.isClosed(),
      send: (channel: string, event: UpkeepEvent) => void page.evaluate(([ch, ev]) => (window as unknown as { __upkeepIpcEmit(c: string, e: unknown): void }).__upkeepIpcEmit(ch, ev), [channel, event] as const).catch(() => undefined),
    })));
    // The renderer's side: the real built preload, given an `electron` module whose contextBridge
    // and ipcRenderer are the test bridge.
    const preload = await fsp.readFile(path.join(ROOT, 'out', 'preload', 'index.js'), 'utf8');
    await page.addInitScript(`(() => {
      const listeners = new Map();
      window.__upkeepIpcEmit = (channel, payload) => { for (const l of listeners.get(channel) ?? []) l({}, payload); };
      const electron = {
        contextBridge: { exposeInMainWorld: (key, api) => Object.defineProperty(window, key, { value: api }) },
        ipcRenderer: {
          invoke: (channel, ...args) => window.__upkeepIpcInvoke(channel, args),
          on: (channel, l) => { listeners.set(channel, [...(listeners.get(channel) ?? []), l]); },
          removeListener: (channel, l) => { listeners.set(channel, (listeners.get(channel) ?? []).filter((x) => x !== l)); },
        },
      };
      const module = { exports: {} };
      (function (require, module, exports) { ${preload}\n })((id) => { if (id === 'electron') return electron; throw new Error('preload may require only electron, not ' + id); }, module, module.exports);
    })();`);
  }, 180_000);

  afterAll(async () => {
    for (const s of stops.splice(0)) s();
    await browser?.close();
    await core?.close();
    await new Promise((r) => renderer?.server.close(r));
    await feedServer?.close();
    await f?.cleanup();
  });

  it('the page talks to main only through the preload bridge, with the contract channel names', async () => {
    await page.goto(renderer.url);
    const card = page.locator('[data-testid="target-card"][data-target-id="demo"]');
    await expect.poll(() => card.getByTestId('status-badge').getAttribute('data-state'), { timeout: 20_000 }).toBe('available');
    expect(await card.getByTestId('available-version').innerText()).toContain('1.1.0');
    expect(calls.every((c) => c.startsWith('upkeep:'))).toBe(true);
    expect(calls).toContain('upkeep:listTargets');
    expect(EVENT_CHANNEL).toBe('upkeep:event');
    expect(await page.evaluate(() => Object.keys((window as unknown as { upkeep: object }).upkeep).sort())).toEqual(['invoke', 'onEvent']);
  });

  it('a payload that fails the zod schema is refused in main with ERR_BAD_REQUEST; a foreign frame with ERR_FORBIDDEN', async () => {
    const bad = await page.evaluate(() => (window as unknown as { upkeep: { invoke(c: string, ...a: unknown[]): Promise<unknown> } }).upkeep.invoke('apply', 'demo', { version: 7 }));
    expect(bad).toMatchObject({ ok: false, error: { code: 'ERR_BAD_REQUEST' } });
    // A frame that is not the app's page (an iframe at about:blank) is refused by the sender check.
    const foreign = await page.evaluate(async () => {
      const frame = document.createElement('iframe');
      document.body.appendChild(frame);
      await new Promise((r) => setTimeout(r, 100));
      const w = frame.contentWindow as unknown as { __upkeepIpcInvoke(c: string, a: unknown[]): Promise<unknown> };
      const r = await w.__upkeepIpcInvoke('upkeep:listTargets', []);
      frame.remove();
      return r;
    });
    expect(foreign).toMatchObject({ ok: false, error: { code: 'ERR_FORBIDDEN' } });
  });

  it('Apply from the window installs 1.1.0 byte for byte and the window shows the result and the new version', async () => {
    await page.locator('[data-testid="target-card"][data-target-id="demo"]').getByTestId('target-link').click();
    await target().getByTestId('apply-button').click();
    const result = target().getByTestId('operation-result');
    await result.waitFor({ timeout: 60_000 });
    await expect.poll(async () => (await target().getByTestId('current-version').innerText()), { timeout: 30_000 }).toContain('1.1.0');
    expect(await snapshot(install())).toEqual(await snapshot(build110));
    expect(calls).toContain('upkeep:apply');
    await expect.poll(() => shown.at(-1)).toEqual({ title: 'Demo service updated', body: 'Now running 1.1.0 (was 1.0.0).' });
  });

  it('Roll back from the window (through its confirm dialog) restores 1.0.0 byte for byte', async () => {
    await target().getByTestId('tab-points').click();
    const points = page.getByTestId('rollback-point');
    await expect.poll(() => points.count(), { timeout: 20_000 }).toBe(2);
    await points.first().getByTestId('rollback-button').click();
    const dialog = page.getByTestId('rollback-dialog');
    await dialog.waitFor();
    expect(await snapshot(install())).toEqual(await snapshot(build110));
    await dialog.getByTestId('dialog-confirm').click();
    const result = target().getByTestId('operation-result');
    await expect.poll(() => result.getAttribute('data-action'), { timeout: 60_000 }).toBe('rollback');
    expect(await result.getAttribute('data-ok')).toBe('true');
    await expect.poll(() => target().getByTestId('current-version').innerText(), { timeout: 30_000 }).toContain('1.0.0');
    expect(await snapshot(install())).toEqual(await snapshot(build100));
    expect(calls).toContain('upkeep:rollback');
    await expect.poll(() => shown.at(-1)).toEqual({ title: 'Demo service rolled back from 1.1.0', body: 'Returned to 1.0.0.' });
    // The version rolled back from is held: offered, but not applied automatically.
    await target().getByTestId('tab-overview').click();
    await expect.poll(() => target().getByTestId('held-version').innerText(), { timeout: 20_000 }).toContain('You rolled back from 1.1.0, so it is held');
    expect((await core.getTarget('demo')).held_version).toBe('1.1.0');
  });

  it('Cancel during a slow download shows "Cancelled", settles back to available and changes nothing', async () => {
    const build120 = await f.build('1.2.0', { 'bin/demo': { data: '#!/bin/sh\necho 1.2.0\n', mode: 0o755 }, 'VERSION': '1.2.0\n', 'lib/big.bin': { data: randomBytes(2 * 1024 * 1024) } });
    await f.publish(build120, '1.2.0', '## 1.2.0\n');
    await target().getByTestId('check-button').click();
    await expect.poll(() => target().getByTestId('available-version').innerText(), { timeout: 20_000 }).toContain('1.2.0');
    const held = feedServer.hold(1024 * 1024);
    try {
      await target().getByTestId('apply-button').click();
      await held;
      const panel = target().getByTestId('progress-panel');
      await panel.waitFor({ timeout: 20_000 });
      expect(await panel.getAttribute('data-phase')).toBe('download');
      await panel.getByTestId('cancel-button').click();
      const result = target().getByTestId('operation-result');
      await expect.poll(() => result.getAttribute('data-cancelled'), { timeout: 30_000 }).toBe('true');
      expect(await result.getByTestId('cancelled').innerText()).toBe('Cancelled. Nothing was changed.');
    } finally {
      feedServer.release();
    }
    expect(calls).toContain('upkeep:cancel');
    await expect.poll(() => target().getByTestId('status-badge').getAttribute('data-state'), { timeout: 20_000 }).toBe('available');
    expect((await core.getTarget('demo')).state).toMatchObject({ kind: 'available', version: '1.2.0' });
    expect(await page.locator('[data-testid="toast"][data-level="error"]').count()).toBe(0);
    expect(await page.locator('body').innerText()).not.toMatch(/Update failed/);
    expect(await snapshot(install())).toEqual(await snapshot(build100));
    await expect.poll(() => shown.at(-1)).toEqual({ title: 'Update of Demo service cancelled', body: 'Version 1.2.0 was not installed; nothing was changed.' });
    expect(shown.some((n) => /failed/i.test(n.title))).toBe(false);
  });

  it('An apply whose health check fails is rolled back: the window says so, one notification names the cause, the install is unchanged', async () => {
    const build130 = await f.build('1.3.0', { 'bin/demo': { data: '#!/bin/sh\necho broken >&2\nexit 3\n', mode: 0o755 }, 'VERSION': '1.3.0\n' });
    await f.publish(build130, '1.3.0', '## 1.3.0\n');
    await target().getByTestId('check-button').click();
    await expect.poll(() => target().getByTestId('available-version').innerText(), { timeout: 20_000 }).toContain('1.3.0');
    const before = shown.length;
    await target().getByTestId('apply-button').click();
    const result = target().getByTestId('operation-result');
    await expect.poll(() => result.getAttribute('data-ok'), { timeout: 60_000 }).toBe('false');
    expect(await result.innerText()).toMatch(/rolled back to 1\.0\.0/i);
    expect(await result.innerText()).toContain('ERR_HEALTH_CHECK_FAILED');
    expect(await snapshot(install())).toEqual(await snapshot(build100));
    await expect.poll(() => shown.length).toBe(before + 1);
    expect(shown.at(-1)).toMatchObject({ title: 'Demo service rolled back from 1.3.0' });
    expect(shown.at(-1)?.body).toMatch(/^Returned to 1\.0\.0\. Cause: .*\(ERR_HEALTH_CHECK_FAILED\)\.$/);
  });

  it('A setting changed in the window is saved through the IPC handler into the target\'s runtime state on disk', async () => {
    // The rolled-back apply has settled (its events arrive after the reply): the form starts from it.
    await expect.poll(() => target().getByTestId('status-badge').getAttribute('data-state'), { timeout: 20_000 }).toBe('failed');
    await target().getByTestId('tab-settings').click();
    const form = page.getByTestId('settings-form');
    await form.waitFor();
    expect(await form.getByTestId('setting-auto-apply').inputValue()).toBe('none');
    await form.getByTestId('setting-auto-apply').selectOption('critical');
    await form.getByTestId('setting-auto-download').check();
    await form.getByTestId('settings-save').click();
    // The window acknowledges the save once the IPC handler has replied (the core's view is new by then).
    await page.getByTestId('settings-saved').waitFor({ timeout: 20_000 });
    const runtimeFile = path.join(f.dir, 'state', 'targets', 'demo', 'runtime.json');
    const settingsOnDisk = async () => (JSON.parse(await fsp.readFile(runtimeFile, 'utf8')) as { settings: Record<string, unknown> }).settings;
    await expect.poll(settingsOnDisk, { timeout: 20_000 }).toMatchObject({ auto_apply: 'critical', auto_download: true });
    expect(calls).toContain('upkeep:updateSettings');
    // The config file is the user's: UI settings are layered over it, never written into it.
    expect(await fsp.readFile(config, 'utf8')).toContain('auto_apply: none');
    expect((await core.getTarget('demo')).policy).toMatchObject({ auto_apply: 'critical', auto_download: true });
    await expect.poll(() => page.getByTestId('setting-auto-apply').inputValue()).toBe('critical');
    // Reloading the window shows the saved values (read back through IPC, not kept in the page).
    await page.reload();
    await page.getByTestId('settings-form').waitFor({ timeout: 20_000 });
    expect(await page.getByTestId('setting-auto-apply').inputValue()).toBe('critical');
    expect(await page.getByTestId('setting-auto-download').isChecked()).toBe(true);
  });
});
