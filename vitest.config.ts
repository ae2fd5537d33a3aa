import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: ['packages/*'],
    // Three test files at a time on two cores: most of a test's time is spent waiting (windows,
    // drains, timers). No test asserts a timing; the load tests judge their cells with generator
    // thresholds meant for a machine shared with other tests.
    maxWorkers: 3,
  },
});
