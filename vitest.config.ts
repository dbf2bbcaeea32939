import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Files that load face models or start browsers are heavy; two at a time matches the 2 cores.
    maxWorkers: 2,
    // node:sqlite (the custodian's registry, opened in-process by some tests) is stable enough
    // for us but prints an ExperimentalWarning on Node 22.
    execArgv: ['--disable-warning=ExperimentalWarning'],
    reporters: ['default'],
    // One migrated PGlite image for every test database (support/pglite-image.ts), made before
    // the test processes start.
    globalSetup: ['support/pglite-image.ts'],
    projects: [
      {
        // The fast layer shares a process between its files (one per worker): a fresh process
        // per file spent more time starting Node and importing oidc-provider, knex, PGlite and
        // SEAL than most files spend testing. Unit tests build what they test from factories
        // (no module mocks, no module state) and undo what they change (timers, spies).
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], isolate: false },
      },
      {
        // Face models, browsers, child processes: a process of its own for each file.
        extends: true,
        test: { name: 'isolated', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, 'test/unit/**'] },
      },
    ],
  },
});
