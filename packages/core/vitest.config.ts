import { project } from "../../vitest.shared.ts";

export default project("core", { testTimeout: 60_000 });
