import { defineProject } from "vitest/config";

export default defineProject({
  test: { name: "example-mocker", include: ["test/**/*.test.ts"] },
});
