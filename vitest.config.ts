import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/support/cleanup.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    // Vitest's default on a 2-core machine is one fork at a time; most of the suite's time is spent
    // waiting on real processes and sockets, so two files run side by side (CI has 2 cores).
    poolOptions: { forks: { maxForks: 2, minForks: 1 } }
  }
})
