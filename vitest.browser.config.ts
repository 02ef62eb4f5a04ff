import { defineConfig } from 'vitest/config';

// The browser end-to-end suite only: real daemon, real feed, headless Chromium (playwright-core,
// Debian's /usr/bin/chromium). Run with `npx vitest run --config vitest.browser.config.ts`.
export default defineConfig({
  test: {
    include: ['test/e2e-browser/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // One browser and one daemon at a time: the files run one after another in a single fork.
    fileParallelism: false,
    maxWorkers: 1,
    globalSetup: ['test/global-setup.ts'],
  },
});
