import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-temp.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    server: {
      deps: {
        // Its ESM imports JSON without an import attribute, which Node 20 refuses: let Vite load it.
        inline: ['@actions/workflow-parser'],
      },
    },
  },
});
