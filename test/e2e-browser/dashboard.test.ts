/**
 * The web dashboard end to end in headless Chromium, against the real daemon and a real signed
 * feed served over loopback HTTP: see the update, read its notes, get refused without a token,
 * sign in, apply while watching the progress bar, roll back through the confirm dialog, and check
 * after each step that the install directory on disk is byte-identical to the expected build.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { snapshot } from '../helpers/tree';
import {
  closeAll,
  createAdminToken,
  dashboardFixture,
  dismissToasts,
  openDashboard,
  screenshot,
  startFeedServer,
  upkeepOk,
  writeDaemonConfig,
  type AdminToken,
  type Browser,
  type Daemon,
  type FeedFixture,
  type FeedServer,
} from './harness';

const NOTES_110 = [
  "## What's new in 1.1.0",
  '',
  '- Faster start-up',
  '- A friendlier health answer',
  '',
  'See the [changelog](https://example.com/changelog).',
  '',
].join('\n');

/** Blobs at least this large are held half-way so the progress panel can be seen and captured. */
const HOLD_BYTES = 1024 * 1024;

describe('web dashboard against a real daemon', () => {
  let f: FeedFixture;
  let feedServer: FeedServer;
  let token: AdminToken;
  let daemon: Daemon;
  let browser: Browser;
  let page: Page;
  let build100: string;
  let build110: string;
  const install = () => path.join(f.dir, 'install');
  const target = () => page.locator('[data-testid="target-page"][data-target-id="demo"]');

  beforeAll(async () => {
    f = await dashboardFixture('upkeep-e2e-browser-');
    build100 = await f.build('1.0.0', {
      'bin/demo': { data: '#!/bin/sh\necho demo 1.0.0\n', mode: 0o755 },
      'lib/engine.bin': { data: randomBytes(2 * 1024 * 1024) },
      'config/defaults.conf': { data: 'greeting=hello from 1.0.0\n', mode: 0o600 },
      'share/old.txt': 'removed in 1.1.0',
      'VERSION': '1.0.0\n',
    });
    build110 = await f.build('1.1.0', {
      'bin/demo': { data: '#!/bin/sh\necho demo 1.1.0\n', mode: 0o755 },
      'lib/engine.bin': { data: randomBytes(3 * 1024 * 1024) },
      'share/assets.pak': { data: randomBytes(2 * 1024 * 1024) },
      'config/defaults.conf': { data: 'greeting=hello from 1.1.0\n', mode: 0o600 },
      'VERSION': '1.1.0\n',
    });
    await f.publish(build100, '1.0.0', '## Demo 1.0.0\n\nThe first release.\n');
    await f.publish(build110, '1.1.0', NOTES_110);

    feedServer = await startFeedServer(f.feed);
    token = await createAdminToken();
    const config = await writeDaemonConfig(f, feedServer.url, token);
    // 1.0.0 is installed with the command line before the daemon starts; `check` records 1.1.0.
    await upkeepOk(['--config', config, 'apply', '--version', '1.0.0', '--json'], f.dir);
    await upkeepOk(['--config', config, 'check', '--json'], f.dir);
    expect(await snapshot(install())).toEqual(await snapshot(build100));

    ({ daemon, browser, page } = await openDashboard(config, f.dir));
  });

  afterAll(() => closeAll(browser, daemon, feedServer, f));

  it('shows the target with its update on the overview', async () => {
    await page.goto(`${daemon.url}/`);
    const card = page.locator('[data-testid="target-card"][data-target-id="demo"]');
    await expect.poll(() => card.getByTestId('status-badge').getAttribute('data-state')).toBe('available');
    expect((await card.getByTestId('status-badge').innerText()).trim()).toBe('Update available');
    expect((await card.getByTestId('current-version').innerText())).toContain('1.0.0');
    expect((await card.getByTestId('available-version').innerText())).toContain('1.1.0');
    expect(await card.getByTestId('target-link').innerText()).toContain('Demo service');
    await screenshot(page, 'overview');
  });

  it('renders the release notes of 1.1.0 as real elements', async () => {
    await page.locator('[data-testid="target-card"][data-target-id="demo"]').getByTestId('target-link').click();
    await expect.poll(() => page.evaluate(() => location.hash)).toBe('#/targets/demo');
    const notes = target().getByTestId('release-notes');
    await notes.waitFor();
    expect(await notes.locator('h1, h2, h3, h4, h5, h6').first().innerText()).toBe("What's new in 1.1.0");
    expect(await notes.locator('li').allInnerTexts()).toEqual(['Faster start-up', 'A friendlier health answer']);
    const link = notes.locator('a', { hasText: 'changelog' });
    expect(await link.getAttribute('href')).toBe('https://example.com/changelog');
    // The notes are Markdown rendered to elements, not the source text shown as is.
    expect(await notes.innerText()).not.toContain('## ');
    expect(await target().getByTestId('available-version').innerText()).toBe('1.1.0');
    await screenshot(page, 'release-notes');
  });

  it('refuses Apply without a token: shows the 401 error with its code and the token field', async () => {
    const blobsBefore = feedServer.blobRequests.length;
    await target().getByTestId('apply-button').click();
    const error = page.getByTestId('error-message').first();
    await error.waitFor();
    expect(await error.getAttribute('data-code')).toBe('ERR_UNAUTHORIZED');
    expect(await error.getByTestId('error-code').innerText()).toContain('ERR_UNAUTHORIZED');
    expect(await page.getByTestId('token-input').isVisible()).toBe(true);
    expect(await page.getByTestId('auth-message').innerText()).toContain('ERR_UNAUTHORIZED');
    await screenshot(page, 'unauthorized', { docs: false });
    // Nothing changed on disk.
    expect(await snapshot(install())).toEqual(await snapshot(build100));
    expect(feedServer.blobRequests.length).toBe(blobsBefore);
  });

  it('applies 1.1.0 after signing in, showing live progress, and installs it byte for byte', async () => {
    await page.getByTestId('token-input').fill(token.token);
    await page.getByTestId('token-submit').click();
    await page.getByTestId('token-status').waitFor();
    // The header names the token as configured (`upkeep token create --name e2e-admin`), not the secret.
    expect(await page.getByTestId('token-status').innerText()).toBe('Signed in with token "e2e-admin" (admin)');
    expect(await page.locator('header').innerText()).not.toContain(token.token);

    const held = feedServer.hold(HOLD_BYTES);
    await target().getByTestId('apply-button').click();
    await held;
    // While a blob is held half-way the engine is downloading: the panel and its bar must show it.
    const panel = target().getByTestId('progress-panel');
    await panel.waitFor();
    await expect.poll(() => panel.getAttribute('data-phase')).toBe('download');
    const bar = panel.getByTestId('progress-bar');
    expect(await bar.getAttribute('role')).toBe('progressbar');
    // Half of the first large blob has arrived: the bar shows some progress, far from done.
    await expect.poll(async () => Number(await bar.getAttribute('aria-valuenow'))).toBeGreaterThan(0);
    expect(Number(await bar.getAttribute('aria-valuenow'))).toBeLessThan(50);
    expect((await panel.getByTestId('progress-phase').innerText()).length).toBeGreaterThan(0);
    // The title and the badge name the state, and the sizes carry binary units.
    expect((await panel.getByTestId('progress-title').innerText()).trim()).toBe('Downloading 1.1.0');
    expect(await target().getByTestId('status-badge').innerText()).toMatch(/^Downloading \d+%$/);
    await expect.poll(async () => (await panel.getByTestId('progress-bytes').innerText()).includes(' of ')).toBe(true);
    expect(await panel.getByTestId('progress-bytes').innerText()).toMatch(/^[\d.]+ (B|KiB|MiB) of [\d.]+ MiB$/);
    await dismissToasts(page);
    await screenshot(page, 'progress');
    feedServer.release();

    const result = target().getByTestId('operation-result');
    await result.waitFor({ timeout: 60_000 });
    expect(await result.getAttribute('data-ok')).toBe('true');
    expect(await result.getAttribute('data-action')).toBe('apply');
    expect(await result.innerText()).toContain('Updated from 1.0.0 to 1.1.0.');
    await expect.poll(() => target().getByTestId('current-version').innerText()).toContain('1.1.0');
    await expect.poll(() => target().getByTestId('status-badge').getAttribute('data-state')).not.toBe('available');
    await panel.waitFor({ state: 'detached' });
    await dismissToasts(page);
    await screenshot(page, 'applied', { docs: false });

    expect(await snapshot(install())).toEqual(await snapshot(build110));
  });

  it('lists the rollback point and rolls back to 1.0.0 after confirming', async () => {
    await target().getByTestId('tab-points').click();
    const points = page.getByTestId('rollback-point');
    // Newest first: the update 1.0.0 → 1.1.0, then the first install (none → 1.0.0) made by the CLI.
    const rows = () => points.evaluateAll((els) => els.map((e) => `${e.querySelector('[data-testid="point-from"]')?.textContent} → ${e.querySelector('[data-testid="point-to"]')?.textContent}`));
    await expect.poll(rows).toEqual(['1.0.0 → 1.1.0', 'none → 1.0.0']);
    expect(await points.first().getAttribute('data-rollback-id')).toMatch(/^rb_/);
    await dismissToasts(page);
    await screenshot(page, 'rollback-points');

    await points.first().getByTestId('rollback-button').click();
    const dialog = page.getByTestId('rollback-dialog');
    await dialog.waitFor();
    expect(await dialog.getAttribute('role')).toBe('dialog');
    await screenshot(page, 'rollback-confirm');
    // The dialog only asks: nothing has changed yet.
    expect(await snapshot(install())).toEqual(await snapshot(build110));

    await dialog.getByTestId('dialog-confirm').click();
    await dialog.waitFor({ state: 'detached' });
    const result = target().getByTestId('operation-result');
    await expect.poll(() => result.getAttribute('data-action'), { timeout: 60_000 }).toBe('rollback');
    expect(await result.getAttribute('data-ok')).toBe('true');
    await expect.poll(() => target().getByTestId('current-version').innerText()).toContain('1.0.0');
    await dismissToasts(page);
    await screenshot(page, 'rolled-back', { docs: false });

    expect(await snapshot(install())).toEqual(await snapshot(build100));
  });

  it('shows the history, settings and logs screens', async () => {
    await target().getByTestId('tab-history').click();
    const rows = page.getByTestId('history-row');
    await expect.poll(() => rows.count()).toBeGreaterThanOrEqual(2);
    const results = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-result')));
    expect(results).not.toContain('failure');
    const text = await page.getByTestId('history-screen').innerText();
    expect(text).toMatch(/roll/i);
    expect(text).toContain('1.1.0');
    await dismissToasts(page);
    await screenshot(page, 'history');

    await target().getByTestId('tab-settings').click();
    const form = page.getByTestId('settings-form');
    await form.waitFor();
    expect(await page.getByTestId('setting-channel').inputValue()).toBe('stable');
    await dismissToasts(page);
    await screenshot(page, 'settings');

    // Reloading the configuration from the overview writes a log line the Logs view then shows.
    await page.getByTestId('nav-targets').click();
    await page.getByTestId('reload-config').click();
    await page.locator('[data-testid="toast"]', { hasText: 'Configuration reloaded' }).first().waitFor();
    await page.getByTestId('nav-logs').click();
    const lines = page.getByTestId('log-line');
    await expect.poll(() => lines.allInnerTexts()).toEqual(expect.arrayContaining([expect.stringContaining('Configuration reloaded')]));
    await dismissToasts(page);
    await screenshot(page, 'logs');

    // No script errors and no failed request except the deliberate 401 above. Chromium's own
    // "Failed to load resource" lines are covered by the http entries (they also cover the
    // favicon, which the dashboard does not ship), and the meta-CSP frame-ancestors notice is
    // harmless (the daemon sends frame-ancestors as a header too).
    const unexpected = browser.errors.filter(
      (e) => e !== 'http 401: POST /api/targets/demo/apply' && !e.startsWith('console: Failed to load resource') && !/frame-ancestors' is ignored/.test(e),
    );
    expect(unexpected).toEqual([]);
    expect(browser.errors).toContain('http 401: POST /api/targets/demo/apply');
  });
});
