import { project } from "../../vitest.shared.ts";

export default project("cli", { testTimeout: 30_000 });
