import { defineProject } from 'vitest/config';

// Tests start real servers and processes; on a loaded 2-core machine 5 s is too short for some.
export default defineProject({
  test: {
    name: '@mailbench/runner',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // One spawned smoke run for the suite, read by the tests of finished runs (smokeRun()).
    globalSetup: ['./test/smoke-run.setup.ts'],
  },
});
