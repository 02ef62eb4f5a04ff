/**
 * One target's corrupt installed.json does not blank the dashboard: in headless Chromium against
 * the real daemon, the overview lists both targets — the healthy one as usual, the damaged one
 * failed, its card saying which file and field are wrong and its installed version "unknown" —
 * never "Could not load targets".
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { closeAll, dashboardFixture, openDashboard, screenshot, upkeepOk, type Browser, type Daemon, type FeedFixture } from './harness';

describe('dashboard with one damaged target', () => {
  let f: FeedFixture;
  let daemon: Daemon;
  let browser: Browser;
  let page: Page;
  let installed: string;

  beforeAll(async () => {
    f = await dashboardFixture('upkeep-e2e-damaged-');
    await f.release('1.0.0', { 'bin/demo': '#!/bin/sh\necho 1.0.0\n' }, '## 1.0.0\n');
    const target = (id: string, name: string) => [
      `  - id: ${id}`, `    name: ${name}`, '    kind: files', `    install_dir: ./${id}`, '    product: demo',
      `    feed: { url: ${JSON.stringify(f.feed)} }`, `    trust: { keys: [${JSON.stringify(f.pub)}], threshold: 1 }`, '    auto_apply: none',
    ];
    const config = path.join(f.dir, 'upkeep.yaml');
    await fsp.writeFile(config, ['state_dir: ./state', 'api:', '  host: 127.0.0.1', '  port: 0', '  tokens: []', 'targets:', ...target('demo', 'Demo service'), ...target('other', 'Other service'), ''].join('\n'));
    for (const id of ['demo', 'other']) await upkeepOk(['--config', config, 'apply', id, '--json'], f.dir);
    installed = path.join(f.dir, 'state', 'targets', 'demo', 'installed.json');
    const doc = JSON.parse(await fsp.readFile(installed, 'utf8')) as Record<string, unknown>;
    await fsp.writeFile(installed, JSON.stringify({ ...doc, version: 5 }));
    ({ daemon, browser, page } = await openDashboard(config, f.dir));
  });

  afterAll(() => closeAll(browser, daemon, f));

  it('lists both targets; the damaged card says ERR_STATE_CORRUPT and names installed.json and its field', async () => {
    await page.goto(`${daemon.url}/`);
    const card = (id: string) => page.locator(`[data-testid="target-card"][data-target-id="${id}"]`);
    await expect.poll(() => card('other').getByTestId('current-version').innerText()).toContain('1.0.0');
    expect(await card('other').getByTestId('status-badge').getAttribute('data-state')).not.toBe('failed');
    expect(await card('other').getByTestId('target-error').count()).toBe(0);

    await expect.poll(() => card('demo').getByTestId('status-badge').getAttribute('data-state')).toBe('failed');
    expect(await card('demo').getByTestId('status-badge').innerText()).toContain('ERR_STATE_CORRUPT');
    const error = await card('demo').getByTestId('target-error').innerText();
    expect(error).toContain(`Corrupt state file ${installed}: version:`);
    expect(await card('demo').getByTestId('target-link').innerText()).toContain('Demo service');
    // installed.json cannot be read: the installed version is not known (not "nothing installed").
    expect(await card('demo').getByTestId('current-version').innerText()).toBe('unknown');
    expect(await page.getByText('Could not load targets').count()).toBe(0);
    await screenshot(page, 'damaged-target', { docs: false });
  });
});
