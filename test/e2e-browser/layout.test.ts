/**
 * The dashboard's layout in headless Chromium at 1280 px and 420 px, light and dark, against the
 * real daemon and a real signed feed: every tab reachable, the page never scrolls sideways (wide
 * tables scroll inside their own box), Roll back buttons and history columns reachable, one status
 * badge and one page heading, a long install path wrapped at "/", GitHub-flavoured notes rendered.
 * Screenshots of every screen go to test-results/e2e/layout-<width>-<theme>-<screen>.png.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import {
  closeAll,
  dashboardFixture,
  dismissToasts,
  launchBrowser,
  screenshot,
  startDaemon,
  upkeepOk,
  type Browser,
  type Daemon,
  type FeedFixture,
} from './harness';

const NOTES_120 = [
  '## 1.2.0 — security fix',
  '',
  '| area | change |',
  '|---|---|',
  '| http | stricter header parsing |',
  '| auth | rotated the default secret |',
  '',
  '- [x] hardened parsing',
  '- [ ] faster start-up (next release)',
  '',
  'The ~~old~~ new default secret.',
].join('\n');

/** A deep install path, long enough to need wrapping at 420 px. */
const LONG_INSTALL = 'install/a-rather-long-directory-name-for-the-demo/another-long-segment-of-the-path/current';

async function writeConfig(f: FeedFixture): Promise<string> {
  const file = path.join(f.dir, 'upkeep.yaml');
  await fsp.writeFile(
    file,
    [
      'state_dir: ./state',
      'api: { host: 127.0.0.1, port: 0, tokens: [] }',
      'targets:',
      '  - id: demo',
      '    name: Demo service',
      '    kind: files',
      `    install_dir: ./${LONG_INSTALL}`,
      '    product: demo',
      `    feed: { url: ${JSON.stringify(f.feed)} }`,
      `    trust: { keys: [${JSON.stringify(f.pub)}], threshold: 1 }`,
      '    auto_apply: none',
      '',
    ].join('\n'),
  );
  return file;
}

/** Layout facts of the page as it is now. */
async function layoutFacts(page: Page) {
  return page.evaluate(() => {
    const doc = document.scrollingElement ?? document.documentElement;
    const visible = (el: Element) => {
      const r = el.getBoundingClientRect();
      return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden';
    };
    const page = document.querySelector('[data-testid="target-page"]');
    return {
      pageOverflow: doc.scrollWidth - window.innerWidth,
      h1: Array.from(document.querySelectorAll('main h1')).filter(visible).map((h) => h.textContent),
      headerBadges: page ? Array.from(page.querySelectorAll('.target-header [data-testid="status-badge"]')).filter(visible).length : 0,
      pageBadges: page ? Array.from(page.querySelectorAll('[data-testid="status-badge"]')).filter(visible).length : 0,
      tabs: Array.from(document.querySelectorAll('[data-testid^="tab-"]')).map((t) => {
        const r = t.getBoundingClientRect();
        return { id: t.getAttribute('data-testid'), inside: r.left >= -1 && r.right <= window.innerWidth + 1 && r.width > 0 };
      }),
    };
  });
}

/** True when the element is on screen after scrolling it (and its scroll boxes) into view. */
async function reachable(page: Page, selector: string): Promise<boolean> {
  const el = page.locator(selector).first();
  await el.scrollIntoViewIfNeeded();
  return el.evaluate((node) => {
    const r = node.getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return r.left >= 0 && r.right <= window.innerWidth && r.top >= 0 && r.bottom <= window.innerHeight && (hit === node || node.contains(hit));
  });
}

describe('dashboard layout at 1280 and 420 px, light and dark', () => {
  let f: FeedFixture;
  let daemon: Daemon;
  let config: string;

  beforeAll(async () => {
    f = await dashboardFixture('upkeep-e2e-layout-');
    await f.release('1.0.0', { 'bin/demo': { data: '#!/bin/sh\necho 1.0.0\n', mode: 0o755 }, VERSION: '1.0.0\n' }, '## Demo 1.0.0\n\nThe first release.\n');
    await f.release('1.1.0', { 'bin/demo': { data: '#!/bin/sh\necho 1.1.0\n', mode: 0o755 }, 'lib/data.bin': { data: Buffer.alloc(300 * 1024, 7) }, VERSION: '1.1.0\n' }, "## What's new in 1.1.0\n\n- Faster start-up\n");
    await f.release('1.2.0', { 'bin/demo': { data: '#!/bin/sh\necho 1.2.0\n', mode: 0o755 }, 'lib/data.bin': { data: Buffer.alloc(400 * 1024, 8) }, VERSION: '1.2.0\n' }, NOTES_120, ['--critical']);
    config = await writeConfig(f);
    // History and rollback points to show: install 1.0.0, update to 1.1.0, check (1.2.0 available).
    await upkeepOk(['--config', config, 'apply', '--version', '1.0.0', '--json'], f.dir);
    await upkeepOk(['--config', config, 'apply', '--version', '1.1.0', '--json'], f.dir);
    await upkeepOk(['--config', config, 'check', '--json'], f.dir);
    daemon = await startDaemon(config, f.dir);
  });

  afterAll(() => closeAll(daemon, f));

  for (const width of [1280, 420]) {
    for (const theme of ['light', 'dark'] as const) {
      it(`${width} px, ${theme}: every screen fits, every tab and action is reachable`, async () => {
        const browser: Browser = await launchBrowser();
        try {
          const { page } = browser;
          await page.emulateMedia({ colorScheme: theme });
          await page.setViewportSize({ width, height: 900 });
          const shot = (name: string) => screenshot(page, `layout-${width}-${theme}-${name}`, { docs: false });

          await page.goto(`${daemon.url}/`);
          await page.getByTestId('target-card').first().waitFor();
          await expect.poll(() => page.getByTestId('target-card').first().getByTestId('status-badge').getAttribute('data-state')).toBe('available');
          expect((await layoutFacts(page)).pageOverflow).toBeLessThanOrEqual(0);
          expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe(theme === 'dark' ? 'rgb(18, 22, 28)' : 'rgb(246, 247, 249)');
          await shot('targets');

          await page.getByTestId('target-link').first().click();
          const notes = page.getByTestId('release-notes');
          await notes.waitFor();
          // GitHub-flavoured notes: a table, task list checkboxes, strikethrough.
          expect(await notes.locator('table th').allInnerTexts()).toEqual(['area', 'change']);
          expect(await notes.locator('input[type="checkbox"]').count()).toBe(2);
          expect(await notes.locator('del').innerText()).toBe('old');
          // One eligible release: no picker; the installed version's notes stay reachable.
          expect(await page.getByTestId('release-picker').count()).toBe(0);
          await page.getByTestId('installed-notes').waitFor();
          expect(await page.getByTestId('installed-notes').innerText()).toContain('Release notes for 1.1.0 (installed)');
          let facts = await layoutFacts(page);
          expect(facts.pageOverflow).toBeLessThanOrEqual(0);
          expect(facts.h1).toEqual(['Demo service']);
          expect(facts.headerBadges).toBe(1);
          expect(facts.pageBadges).toBe(1);
          expect(facts.tabs.map((t) => t.id)).toEqual(['tab-overview', 'tab-points', 'tab-history', 'tab-settings']);
          expect(facts.tabs.every((t) => t.inside)).toBe(true);
          // The long install path wraps at "/" and stays inside its card.
          const pathBox = await page.getByTestId('install-dir').evaluate((el) => {
            const r = el.getBoundingClientRect();
            const card = el.closest('.card')!.getBoundingClientRect();
            const lines = Math.round(r.height / parseFloat(getComputedStyle(el).lineHeight || '20'));
            return { inside: r.right <= card.right + 1, lines, wbr: el.querySelectorAll('wbr').length };
          });
          expect(pathBox.inside).toBe(true);
          expect(pathBox.wbr).toBeGreaterThan(5);
          if (width === 420) expect(pathBox.lines).toBeGreaterThan(1);
          expect(await reachable(page, '[data-testid="apply-button"]')).toBe(true);
          await dismissToasts(page);
          await shot('overview');

          await page.getByTestId('tab-points').click();
          await page.getByTestId('rollback-point').first().waitFor();
          expect(await page.getByTestId('rollback-point').count()).toBe(2);
          facts = await layoutFacts(page);
          expect(facts.pageOverflow).toBeLessThanOrEqual(0);
          for (let i = 0; i < 2; i++) expect(await reachable(page, `[data-testid="rollback-point"]:nth-child(${i + 1}) [data-testid="rollback-button"]`)).toBe(true);
          await page.evaluate(() => window.scrollTo(0, 0));
          await shot('points');
          // The first point's dialog says the installation is removed.
          await page.getByTestId('rollback-point').nth(1).getByTestId('rollback-button').click();
          const dialog = page.getByTestId('rollback-dialog');
          expect(await dialog.innerText()).toContain('This removes the installed files of Demo service');
          expect(await reachable(page, '[data-testid="dialog-confirm"]')).toBe(true);
          await shot('rollback-first-point');
          await dialog.getByTestId('dialog-cancel').click();
          await dialog.waitFor({ state: 'detached' });

          await page.getByTestId('tab-history').click();
          await page.getByTestId('history-row').first().waitFor();
          facts = await layoutFacts(page);
          expect(facts.pageOverflow).toBeLessThanOrEqual(0);
          // Every column of the newest row can be brought into view (stacked, or scrolled inside the table).
          const cells = await page.getByTestId('history-row').first().locator('td').count();
          expect(cells).toBe(7);
          for (let c = 1; c <= cells; c++) expect(await reachable(page, `[data-testid="history-row"]:first-child td:nth-child(${c})`)).toBe(true);
          expect(await page.getByTestId('history-screen').innerText()).toMatch(/\d(\.\d)? s/);
          await page.evaluate(() => window.scrollTo(0, 0));
          await shot('history');

          await page.getByTestId('tab-settings').click();
          await page.getByTestId('settings-form').waitFor();
          expect((await layoutFacts(page)).pageOverflow).toBeLessThanOrEqual(0);
          expect(await page.getByTestId('pause-status').innerText()).toContain('Automatic updates are off');
          expect(await reachable(page, '[data-testid="settings-save"]')).toBe(true);
          await page.evaluate(() => window.scrollTo(0, 0));
          await shot('settings');

          await page.getByTestId('nav-logs').click();
          await page.getByTestId('logs-screen').waitFor();
          expect((await layoutFacts(page)).pageOverflow).toBeLessThanOrEqual(0);
          await shot('logs');

          const unexpected = browser.errors.filter((e) => !e.startsWith('console: Failed to load resource') && !/frame-ancestors' is ignored/.test(e));
          expect(unexpected).toEqual([]);
        } finally {
          await browser.close();
        }
      });
    }
  }
});
