import { project } from "../vitest.shared.ts";

// End-to-end and fault tests: need a running testbed (testbed/up.sh), run one file at a time.
export default project("e2e", {
  include: ["test/cluster/**/*.test.ts"],
  testTimeout: 240_000,
  hookTimeout: 120_000,
});
