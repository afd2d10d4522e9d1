import { project } from "../../vitest.shared.ts";

export default project("backend-vllm", { testTimeout: 30_000 });
