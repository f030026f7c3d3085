import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Real PostgreSQL and Redis servers for the durable adapters (see test/durable/servers.ts).
    globalSetup: ["./test/durable/global-setup.ts"],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    reporters: ["default", "./test/summary-reporter.ts"],
    typecheck: {
      enabled: true,
      include: ["test/**/*.test-d.ts"],
      tsconfig: "./tsconfig.json",
    },
  },
});
