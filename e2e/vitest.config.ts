import { project } from "../vitest.shared.ts";

// Repository-level tests that need no cluster (run by `pnpm test`).
export default project("repo", { include: ["test/repo/**/*.test.ts"], testTimeout: 120_000 });
