import { project } from "../vitest.shared.ts";

// Tests that need the 32-node testbed (TB_NODES=32 testbed/up.sh; scripts/e2e.sh brings it up after
// the 4-node suite). One file at a time, like the cluster suite.
export default project("e2e-scale", {
  include: ["test/scale/**/*.test.ts"],
  testTimeout: 420_000,
  hookTimeout: 120_000,
  fileParallelism: false,
});
