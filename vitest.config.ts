import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/support/cleanup.ts"],
    // Limits, not measurements: a test that hangs fails here. The real-process tests start many CLI
    // processes, which on a loaded 2-core machine take several times longer than on an idle one.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: "forks",
    // Vitest's default on a 2-core machine is one fork at a time; most of the suite's time is spent
    // waiting on real processes and sockets, so two files run side by side (CI has 2 cores).
    poolOptions: { forks: { maxForks: 2, minForks: 1 } }
  }
})
