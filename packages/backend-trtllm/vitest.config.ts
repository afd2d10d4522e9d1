import { project } from "../../vitest.shared.ts";

export default project("backend-trtllm", { testTimeout: 30_000 });
