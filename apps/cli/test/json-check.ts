/** Every --json run of the test suite (helpers.run, stubs.runWithPath) is checked with outputProblem. */
import { outputProblem } from "../src/json/index.js";

export async function checkJson(argv: readonly string[], r: { code: number; stdout: string }): Promise<void> {
  const problem = await outputProblem(argv, r.code, r.stdout);
  if (problem) throw new Error(problem);
}
