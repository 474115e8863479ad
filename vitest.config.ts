import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-temp.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Both cores: vitest's default leaves one idle on a 2-core machine, and most of the suite
    // waits on the processes it spawns.
    maxWorkers: 2,
    server: {
      deps: {
        // Its ESM imports JSON without an import attribute, which Node 20 refuses: let Vite load it.
        inline: ['@actions/workflow-parser'],
      },
    },
  },
});
