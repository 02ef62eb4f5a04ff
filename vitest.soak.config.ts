import { defineConfig } from 'vitest/config';

/**
 * The reliability campaign (`npm run test:soak`, not part of `npm test`, which runs a few kills of
 * each loop): the SIGKILL crash suites (apply, rollback, retention pruning, cache pruning, CLI)
 * with many more kills (counts set by scripts/soak.mjs), run one file at a time.
 */
export default defineConfig({
  test: {
    include: ['test/engine/apply/crash.test.ts', 'test/engine/apply/crash-retention.test.ts', 'test/engine/apply/crash-cache.test.ts', 'test/cli/crash-cli.test.ts', 'test/fuzz/**/*.test.ts'],
    testTimeout: 6 * 60 * 60_000,
    hookTimeout: 600_000,
    pool: 'forks',
    fileParallelism: false,
    environment: 'node',
    globalSetup: ['test/global-setup.ts'],
  },
});
