import { defineProject } from "vitest/config";

export default defineProject({
  test: { name: "backend-trtllm", include: ["test/**/*.test.ts"] },
});
