import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One migrated PGlite image for every test database (support/pglite-image.ts), made before
    // the test processes start.
    globalSetup: ['support/pglite-image.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Files that load face models or start browsers are heavy; two at a time matches the 2 cores.
    maxWorkers: 2,
    // node:sqlite (the custodian's registry, opened in-process by some tests) is stable enough
    // for us but prints an ExperimentalWarning on Node 22.
    execArgv: ['--disable-warning=ExperimentalWarning'],
    reporters: ['default'],
  },
});
