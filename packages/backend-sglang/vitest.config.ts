import { project } from "../../vitest.shared.ts";

export default project("backend-sglang", { testTimeout: 30_000 });
