/**
 * The conformance kit (@dyn/core/testing) on the SGLang backend: every release it declares × the kit's
 * standard shapes, planned, rendered and checked against the contract and the release's captured
 * argparse tables.
 */
import { conformance } from "@dyn/core/testing";
import { describe, it } from "vitest";
import sglang from "../src/index.js";

describe("conformance", () => {
  for (const c of conformance(sglang)) it(c.name, c.run);
});
