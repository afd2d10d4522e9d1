import { defineProject } from "vitest/config";

export default defineProject({
  test: { name: "backend-sglang", include: ["test/**/*.test.ts"] },
});
