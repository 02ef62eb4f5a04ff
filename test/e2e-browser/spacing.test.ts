/**
 * Spacing and wrapping, measured in headless Chromium against the real daemon and a real signed
 * feed: no block inside the target page's cards sits flush against the one above it (an opened
 * "Release notes (installed)" disclosure and its facts, an error box under a form), apart from
 * the pairs meant to touch (a term and its value, list items); at 420 px no button label breaks
 * over two lines (the header's "Sign out" once did).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import {
  closeAll,
  createAdminToken,
  dashboardFixture,
  openDashboard,
  upkeepOk,
  writeDaemonConfig,
  type AdminToken,
  type Browser,
  type Daemon,
  type FeedFixture,
} from './harness';

/** Least gap (CSS px) between two stacked blocks of a card. */
const MIN_GAP_PX = 6;

/**
 * Pairs of stacked siblings inside the cards under `scope` whose vertical gap is below
 * MIN_GAP_PX, as "<first> -> <second>: <gap>px". Term/value pairs (dt, dd) and list items are
 * left out, and a notice's title above its text: they are meant to sit close.
 */
async function flushPairs(page: Page, scope: string): Promise<string[]> {
  return page.evaluate(
    ({ scope, min }) => {
      const out: string[] = [];
      const shown = (el: Element) => {
        const r = el.getBoundingClientRect();
        return r.width > 0 && r.height > 0 && getComputedStyle(el).position !== 'absolute';
      };
      const name = (el: Element) => `${el.tagName.toLowerCase()}${el.className && typeof el.className === 'string' ? `.${el.className.trim().split(/\s+/).join('.')}` : ''}`;
      const walk = (box: Element) => {
        const kids = Array.from(box.children).filter(shown);
        const display = getComputedStyle(box).display;
        if (display === 'block' || display === 'list-item') {
          for (let i = 1; i < kids.length; i++) {
            const [a, b] = [kids[i - 1], kids[i]];
            if (['DT', 'DD', 'LI'].includes(a.tagName) || ['DT', 'DD', 'LI'].includes(b.tagName) || a.classList.contains('notice-title')) continue;
            const gap = b.getBoundingClientRect().top - a.getBoundingClientRect().bottom;
            if (gap > -1 && gap < min) out.push(`${name(a)} -> ${name(b)}: ${gap.toFixed(1)}px`);
          }
        }
        kids.forEach(walk);
      };
      document.querySelectorAll(`${scope} .card`).forEach(walk);
      return out;
    },
    { scope, min: MIN_GAP_PX },
  );
}

describe('spacing and wrapping on the dashboard', () => {
  let f: FeedFixture;
  let daemon: Daemon;
  let browser: Browser;
  let token: AdminToken;

  beforeAll(async () => {
    f = await dashboardFixture('upkeep-e2e-spacing-');
    await f.release('1.0.0', { 'bin/demo': { data: '#!/bin/sh\necho 1.0.0\n', mode: 0o755 }, VERSION: '1.0.0\n' }, '## Demo 1.0.0\n\nThe first release.\n');
    await f.release('1.1.0', { 'bin/demo': { data: '#!/bin/sh\necho 1.1.0\n', mode: 0o755 }, VERSION: '1.1.0\n' }, '## Demo 1.1.0\n\n- Faster start-up\n');
    // A token is configured but the browser never signs in: changes are refused with 401.
    token = await createAdminToken();
    const config = await writeDaemonConfig(f, f.feed, token);
    await upkeepOk(['--config', config, 'apply', '--version', '1.0.0', '--json'], f.dir);
    await upkeepOk(['--config', config, 'check', '--json'], f.dir);
    ({ daemon, browser } = await openDashboard(config, f.dir));
  });

  afterAll(() => closeAll(browser, daemon, f));

  it('an opened "Release notes (installed)" keeps its heading apart from the facts below it', async () => {
    const { page } = browser;
    await page.goto(`${daemon.url}/#/targets/demo`);
    const installed = page.getByTestId('installed-notes');
    await installed.waitFor();
    await page.getByTestId('release-notes').waitFor();
    await installed.locator('summary').click();
    await installed.locator('dl.facts').waitFor();
    expect(await installed.innerText()).toContain('Release notes for 1.0.0 (installed)');
    const gap = await installed.evaluate((el) => el.querySelector('dl.facts')!.getBoundingClientRect().top - el.querySelector('summary')!.getBoundingClientRect().bottom);
    expect(gap).toBeGreaterThanOrEqual(MIN_GAP_PX);
    expect(await flushPairs(page, '.tab-panel')).toEqual([]);
  });

  it('an error under the skip form keeps its distance from the form', async () => {
    const { page } = browser;
    await page.getByTestId('tab-settings').click();
    await page.getByTestId('skip-input').fill('1.1.0');
    await page.getByRole('button', { name: 'Skip version' }).click();
    const error = page.getByTestId('settings-screen').getByTestId('error-message');
    await error.waitFor();
    expect(await error.innerText()).toContain('Not saved');
    expect(await error.getByTestId('error-code').innerText()).toBe('ERR_UNAUTHORIZED');
    expect(await flushPairs(page, '.tab-panel')).toEqual([]);
  });

  it('at 420 px, signed in: every button label stays on one line', async () => {
    const { page } = browser;
    await page.setViewportSize({ width: 420, height: 900 });
    await page.getByTestId('token-input').fill(token.token);
    await page.getByTestId('token-submit').click();
    await page.getByTestId('token-status').waitFor();
    expect(await page.getByTestId('sign-out').innerText()).toBe('Sign out');
    const broken = () =>
      page.evaluate(() =>
        Array.from(document.querySelectorAll('button'))
          .filter((b) => b.getBoundingClientRect().width > 0)
          .filter((b) => {
            const range = document.createRange();
            range.selectNodeContents(b);
            const lines = new Set(Array.from(range.getClientRects()).filter((r) => r.width > 0).map((r) => Math.round(r.top)));
            return lines.size > 1;
          })
          .map((b) => b.innerText.replace(/\s+/g, ' ')),
      );
    for (const hash of ['#/', '#/targets/demo', '#/targets/demo/points', '#/targets/demo/settings']) {
      await page.goto(`${daemon.url}/${hash}`);
      await page.getByTestId('token-status').waitFor();
      await page.locator('main button').first().waitFor();
      expect({ hash, broken: await broken() }).toEqual({ hash, broken: [] });
    }
  });
});
