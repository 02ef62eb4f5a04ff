/**
 * Hostile release notes in a correctly signed release (a compromised build pipeline, or a careless
 * publisher pasting HTML) must render inertly in the dashboard: no script runs, no event-handler
 * attribute, no javascript:/data: link, and clicking the would-be link does nothing. Checked in
 * real Chromium, with the page's CSP on (as shipped) and with the CSP bypassed (so the sanitiser
 * alone is proven, not only the CSP behind it).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshot } from '../helpers/tree';
import {
  createFeedFixture,
  ensureDashboardBuilt,
  launchBrowser,
  screenshot,
  startDaemon,
  upkeepOk,
  writeDaemonConfig,
  type Daemon,
  type FeedFixture,
} from './harness';

const HOSTILE_NOTES = [
  '## Totally normal release',
  '',
  '<script>window.__pwned=1</script>',
  '',
  '<img src=x onerror="window.__pwned=2">',
  '',
  '[click](javascript:window.__pwned=3)',
  '',
  '[data link](data:text/html;base64,PHNjcmlwdD53aW5kb3cub3BlbmVyLl9fcHduZWQ9NDwvc2NyaXB0Pg==)',
  '',
  '<a href="javascript:window.__pwned=5">raw anchor</a>',
  '',
  '<iframe src="javascript:window.__pwned=6"></iframe>',
  '',
  '<svg onload="window.__pwned=7"><circle r="1"/></svg>',
  '',
  '[reference link][evil] and ![image](javascript:window.__pwned=9)',
  '',
  '[evil]: javascript:window.__pwned=8',
  '',
  '<form action="javascript:window.__pwned=10"><button>go</button></form>',
  '',
  '- Safe item after the hostile ones',
  '',
].join('\n');

interface NotesAudit {
  pwned: unknown;
  scripts: number;
  iframes: number;
  forms: number;
  svgs: number;
  onAttributes: string[];
  badHrefs: string[];
  badSrcs: string[];
  items: string[];
}

describe('hostile release notes', () => {
  let f: FeedFixture;
  let daemon: Daemon;
  let build100: string;
  const install = () => path.join(f.dir, 'install');

  beforeAll(async () => {
    ensureDashboardBuilt();
    f = await createFeedFixture();
    build100 = await f.build('1.0.0', { 'bin/demo': { data: '#!/bin/sh\necho 1.0.0\n', mode: 0o755 }, 'VERSION': '1.0.0\n' });
    const build110 = await f.build('1.1.0', { 'bin/demo': { data: '#!/bin/sh\necho 1.1.0\n', mode: 0o755 }, 'VERSION': '1.1.0\n' });
    await f.publish(build100, '1.0.0', 'First release.');
    await f.publish(build110, '1.1.0', HOSTILE_NOTES);
    // A local directory feed: nothing here needs the network.
    const config = await writeDaemonConfig(f, f.feed);
    await upkeepOk(['--config', config, 'apply', '--version', '1.0.0', '--json'], f.dir);
    await upkeepOk(['--config', config, 'check', '--json'], f.dir);
    daemon = await startDaemon(config, f.dir);
  });

  afterAll(async () => {
    await daemon?.stop();
    await f?.cleanup();
  });

  it.each([
    { csp: 'enforced', bypassCSP: false },
    { csp: 'bypassed', bypassCSP: true },
  ])('render inertly and their javascript: link does nothing when clicked (page CSP $csp)', async ({ csp, bypassCSP }) => {
    const browser = await launchBrowser({ bypassCSP });
    try {
      const { page, context } = browser;
      await page.goto(`${daemon.url}/#/targets/demo`);
      const notes = page.locator('[data-testid="target-page"][data-target-id="demo"]').getByTestId('release-notes');
      await notes.waitFor();
      // The notes did render (so the checks below look at real output, not an empty box).
      await expect.poll(() => notes.locator('li').allInnerTexts()).toEqual(['Safe item after the hostile ones']);
      expect(await notes.innerText()).toContain('Totally normal release');
      await screenshot(page, `malicious-notes-csp-${csp}`, { docs: false });

      const audit = (): Promise<NotesAudit> =>
        page.evaluate(() => {
          const root = document.querySelector('[data-testid="release-notes"]')!;
          const all = [document.documentElement, ...Array.from(document.querySelectorAll('*'))];
          return {
            pwned: (window as unknown as { __pwned?: unknown }).__pwned,
            scripts: root.querySelectorAll('script').length,
            iframes: root.querySelectorAll('iframe, object, embed').length,
            forms: root.querySelectorAll('form').length,
            svgs: root.querySelectorAll('svg').length,
            onAttributes: all.flatMap((el) => Array.from(el.attributes).filter((a) => /^on/i.test(a.name)).map((a) => `${el.tagName}[${a.name}]`)),
            badHrefs: Array.from(document.querySelectorAll('[href]'))
              .map((el) => el.getAttribute('href')!.trim())
              .filter((h) => /^(javascript|data|vbscript):/i.test(h)),
            badSrcs: Array.from(root.querySelectorAll('[src], [action], [formaction]')).map((el) => el.outerHTML),
            items: Array.from(root.querySelectorAll('li')).map((li) => li.textContent ?? ''),
          };
        });

      const before = await audit();
      expect(before).toMatchObject({ pwned: undefined, scripts: 0, iframes: 0, forms: 0, svgs: 0, onAttributes: [], badHrefs: [], badSrcs: [] });
      expect(await page.locator('[onerror]').count()).toBe(0);
      expect(await page.locator('a[href^="javascript:" i], a[href^="data:" i]').count()).toBe(0);

      // Click what the user sees as the "click" link: nothing runs, nothing navigates, no tab opens.
      const url = page.url();
      const pagesBefore = context.pages().length;
      await notes.getByText('click', { exact: true }).click();
      await notes.getByText('data link', { exact: true }).click();
      await notes.getByText('reference link', { exact: true }).click();
      // Let any navigation or handler that a click might have queued run before looking again.
      await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 300)));
      expect(page.url()).toBe(url);
      expect(context.pages().length).toBe(pagesBefore);
      const after = await audit();
      expect(after.pwned).toBeUndefined();
      expect(after.badHrefs).toEqual([]);

      // And the hostile release was only displayed: nothing on disk changed.
      expect(await snapshot(install())).toEqual(await snapshot(build100));
      expect(browser.errors.filter((e) => !/frame-ancestors' is ignored|Failed to load resource/.test(e))).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
