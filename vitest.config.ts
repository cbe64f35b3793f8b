import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    globalSetup: ["./test/global-setup.ts"],
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Test files share one backend; each uses its own resource names.
    fileParallelism: true,
    reporters: ["default"],
  },
});
