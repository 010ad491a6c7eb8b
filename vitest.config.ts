import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds dist/ once per run for the tests that start the server as a process (server-process.ts).
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // SIP/RTP integration tests bind real sockets; keep the 2-core machine from oversubscribing.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
