import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: ['packages/*'],
    // Two test files at a time: most of a test's time is spent waiting (windows, drains, timers).
    maxWorkers: 2,
  },
});
