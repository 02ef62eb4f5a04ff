#!/usr/bin/env node
// Regenerates the README screenshots in docs/screenshots/ from the demo, as a newcomer sees it:
// starts `npm run demo` (scripts/demo.mjs: headless daemon, demo target, locally signed feed
// throttled to 4 MiB/s), signs in to its dashboard in headless Chromium (playwright-core with
// Debian's /usr/bin/chromium, or UPKEEP_CHROMIUM; a fresh profile directory), walks through
// overview → release notes → applying the critical 1.2.0 (live progress) → rollback points →
// the rollback confirm → the hold after the rollback → history → settings, and saves every screen
// at 1280 px and 420 px wide in the light and the dark theme:
//   <screen>.png  <screen>-dark.png  <screen>-420.png  <screen>-420-dark.png
// Then it stops the demo (Ctrl+C as a user would) and waits for it to say so.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
/* global document, requestAnimationFrame -- evaluated in the page, not in Node */
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'docs', 'screenshots');
const CHROMIUM = process.env.UPKEEP_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** Where the demo runs while it is pictured (its install directory is on the Overview screen). */
const DEMO_DIR = path.join(os.tmpdir(), 'upkeep-demo');
/** Every variant of every screen: width in px, colour scheme, file name suffix. */
export const VARIANTS = [
  { width: 1280, height: 800, theme: 'light', suffix: '' },
  { width: 1280, height: 800, theme: 'dark', suffix: '-dark' },
  { width: 420, height: 900, theme: 'light', suffix: '-420' },
  { width: 420, height: 900, theme: 'dark', suffix: '-420-dark' },
];
/** The screens, in the order the walk-through reaches them. */
export const SCREENS = ['overview', 'release-notes', 'progress', 'rollback-points', 'rollback-confirm', 'held', 'history', 'settings'];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts scripts/demo.mjs and resolves with its dashboard URL, admin token and a stop(). */
async function startDemo() {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(root, 'scripts', 'demo.mjs')], {
    cwd: root,
    // A neutral place for the demo's files: the install path shows on the screens.
    env: { ...process.env, UPKEEP_DEMO_PORT: String(port), UPKEEP_DEMO_DIR: DEMO_DIR },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo did not start within 180 s:\n${out}`)), 180_000);
    const look = () => {
      const url = /Dashboard:\s+(\S+)/.exec(out)?.[1];
      const token = /Admin token:\s+(\S+)/.exec(out)?.[1];
      if (url && token) {
        clearTimeout(timer);
        child.stdout.off('data', look);
        resolve({ url, token });
      }
    };
    child.stdout.on('data', look);
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`the demo exited (${code}) before it was ready:\n${out}`));
    });
  });
  return {
    ...ready,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
      if (!/Upkeep demo stopped\./.test(out)) throw new Error(`the demo did not stop cleanly:\n${out}`);
    },
  };
}

/** Closes every toast (as a user would), so the pictures show the screen underneath. */
async function dismissToasts(page) {
  const buttons = page.locator('[data-testid="toast"] button');
  for (let n = await buttons.count(); n > 0; n = await buttons.count()) {
    await buttons.first().click().catch(() => undefined);
    await page.waitForFunction((before) => document.querySelectorAll('[data-testid="toast"]').length < before, n, { timeout: 5_000 }).catch(() => undefined);
  }
}

/** Saves `name` in every variant, then returns to the first (1280 px, light). */
async function shoot(page, name, saved) {
  for (const v of VARIANTS) {
    await page.setViewportSize({ width: v.width, height: v.height });
    await page.emulateMedia({ colorScheme: v.theme });
    await dismissToasts(page);
    // One frame for layout and the theme's colours to settle.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    const file = path.join(outDir, `${name}${v.suffix}.png`);
    await page.screenshot({ path: file, fullPage: true, animations: 'disabled' });
    saved.push(path.relative(root, file));
  }
  await page.setViewportSize({ width: VARIANTS[0].width, height: VARIANTS[0].height });
  await page.emulateMedia({ colorScheme: VARIANTS[0].theme });
}

async function walkThrough(page, demo, saved) {
  const target = page.locator('[data-testid="target-page"][data-target-id="demo"]');
  await page.goto(demo.url);
  await page.getByTestId('token-input').fill(demo.token);
  await page.getByTestId('token-submit').click();
  await page.getByTestId('token-status').waitFor();
  const card = page.locator('[data-testid="target-card"][data-target-id="demo"]');
  await card.getByTestId('status-badge').and(page.locator('[data-state="available"]')).waitFor({ timeout: 30_000 });
  await shoot(page, 'overview', saved);

  await card.getByTestId('target-link').click();
  await target.getByTestId('release-notes').waitFor();
  await shoot(page, 'release-notes', saved);

  // The critical 1.2.0 brings a 40 MiB asset at 4 MiB/s: about ten seconds of download to picture.
  await target.getByTestId('apply-button').click();
  const panel = target.getByTestId('progress-panel');
  await panel.and(page.locator('[data-phase="download"]')).waitFor({ timeout: 30_000 });
  await page.waitForFunction(() => Number.parseInt(document.querySelector('[data-testid="progress-percent"]')?.textContent ?? '0', 10) >= 20, null, { timeout: 30_000 });
  await shoot(page, 'progress', saved);
  const result = target.getByTestId('operation-result');
  await result.and(page.locator('[data-action="apply"]')).waitFor({ timeout: 120_000 });
  if ((await result.getAttribute('data-ok')) !== 'true') throw new Error(`the demo's apply failed: ${await result.innerText()}`);

  await target.getByTestId('tab-points').click();
  await page.getByTestId('rollback-point').first().waitFor({ timeout: 30_000 });
  await shoot(page, 'rollback-points', saved);

  await page.getByTestId('rollback-point').first().getByTestId('rollback-button').click();
  const dialog = page.getByTestId('rollback-dialog');
  await dialog.waitFor();
  await shoot(page, 'rollback-confirm', saved);
  await dialog.getByTestId('dialog-confirm').click();
  await result.and(page.locator('[data-action="rollback"]')).waitFor({ timeout: 60_000 });

  // After the rollback the version rolled back from is held: offered, never applied automatically.
  await target.getByTestId('tab-overview').click();
  await target.getByTestId('held-version').waitFor({ timeout: 30_000 });
  await shoot(page, 'held', saved);

  await target.getByTestId('tab-history').click();
  await page.getByTestId('history-row').first().waitFor({ timeout: 30_000 });
  await shoot(page, 'history', saved);

  await target.getByTestId('tab-settings').click();
  await page.getByTestId('settings-form').waitFor();
  await shoot(page, 'settings', saved);
}

async function main() {
  mkdirSync(outDir, { recursive: true });
  const demo = await startDemo();
  const profile = mkdtempSync(path.join(os.tmpdir(), 'upkeep-screenshots-'));
  const saved = [];
  let failure = null;
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: VARIANTS[0].width, height: VARIANTS[0].height },
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      await walkThrough(page, demo, saved);
    } finally {
      await context.close();
    }
  } catch (err) {
    failure = err;
  } finally {
    rmSync(profile, { recursive: true, force: true });
    await demo.stop().catch((err) => (failure ??= err));
    rmSync(DEMO_DIR, { recursive: true, force: true });
  }
  if (failure) throw failure;
  console.log(`${saved.length} screenshots written:\n  ${saved.join('\n  ')}`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
