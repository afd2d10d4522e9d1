import { defineProject } from "vitest/config";

export default defineProject({
  test: { name: "backend-vllm", include: ["test/**/*.test.ts"] },
});
