/**
 * The conformance kit (@dyn/core/testing) on the mocker: every release it declares × the kit's
 * standard shapes, planned, rendered and checked against the contract and the release's captured
 * `dynamo.mocker` parser — the test `dyn backends new` writes for a new backend.
 */
import { conformance } from "@dyn/core/testing";
import { describe, it } from "vitest";
import mocker from "../src/index.js";

describe("conformance", () => {
  for (const c of conformance(mocker)) it(c.name, c.run);
});
