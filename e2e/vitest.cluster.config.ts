import { project } from "../vitest.shared.ts";

// End-to-end and fault tests: need a running testbed (testbed/up.sh). One file at a time: they share
// the cluster, and some assert that no process is left on any node.
export default project("e2e", {
  include: ["test/cluster/**/*.test.ts"],
  testTimeout: 240_000,
  hookTimeout: 120_000,
  fileParallelism: false,
});
