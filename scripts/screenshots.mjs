#!/usr/bin/env node
// Regenerates the README screenshots in docs/screenshots/ by running the browser end-to-end test of
// the dashboard (real daemon, real feed, headless Chromium) with UPKEEP_UPDATE_SCREENSHOTS=1.
// Every screenshot is also kept in test-results/e2e/. Needs Chromium at /usr/bin/chromium (or
// UPKEEP_CHROMIUM=/path/to/chromium) and a built dashboard (the test builds it when missing).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
const r = spawnSync(process.execPath, [vitest, 'run', '--config', 'vitest.browser.config.ts', 'test/e2e-browser/dashboard.test.ts'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, UPKEEP_UPDATE_SCREENSHOTS: '1' },
});
if (r.status === 0) console.log(`Screenshots written to ${path.join(root, 'docs', 'screenshots')}`);
process.exit(r.status ?? 1);
