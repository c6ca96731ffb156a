import { defineConfig } from 'vitest/config'

// Two tiers run by `npm test`: unit tests (no network) and integration tests that need the real
// Kafka broker and the embedded ClickHouse engine. chdb is a process-wide native singleton, so
// every test file runs in its own forked process (pool: forks) with its own data folder.
export default defineConfig({
  test: {
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['{ingest,transform,query-api,schemas,migrations,test}/**/*.test.ts'],
          exclude: ['**/*.integration.test.ts', '**/node_modules/**'],
          testTimeout: 20_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['{ingest,transform,query-api,schemas,migrations,test}/**/*.integration.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          // Two cores: integration files share one broker; run them one after another.
          fileParallelism: false,
        },
      },
    ],
  },
})
