/**
 * One vitest config shape for every package. When DYN_TEST_REPORTS is set (scripts/test-all.sh), each
 * run also writes a JSON report there, which scripts/tally.mjs sums into the closing
 * "N passed, N failed" line.
 */
import { defineConfig } from "vitest/config";

export function project(
  name: string,
  test: { include?: string[]; testTimeout?: number; hookTimeout?: number; fileParallelism?: boolean } = {},
) {
  const reports = process.env.DYN_TEST_REPORTS;
  return defineConfig({
    test: {
      name,
      include: ["test/**/*.test.ts"],
      // Several tests run bash, shellcheck or whole scripts: seconds each on a busy 2-core machine.
      testTimeout: 30_000,
      ...test,
      ...(reports ? { reporters: ["default", "json"], outputFile: { json: `${reports}/${name}.json` } } : {}),
    },
  });
}
