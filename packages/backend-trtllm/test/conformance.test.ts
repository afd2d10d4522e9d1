/**
 * The conformance kit (@dyn/core/testing) on the TensorRT-LLM backend: every release it declares ×
 * the kit's standard shapes, planned, rendered and checked against the contract and the release's
 * captured argparse tables. Multi-GPU workers need an engine YAML whose parallelism matches (the
 * example configs are single-GPU); 0.3.2's graph takes its engine configs from the graph config.
 */
import { conformance } from "@dyn/core/testing";
import { describe, it } from "vitest";
import trtllm, { releases } from "../src/index.js";

const ENGINE = {
  prefillEngineConfig: "/cfg/prefill.yaml",
  decodeEngineConfig: "/cfg/decode.yaml",
  aggregatedEngineConfig: "/cfg/agg.yaml",
};

describe("conformance", () => {
  const cases = conformance(trtllm, {
    options: ({ release }) => (releases.facts(release).launch === "serve-graph" ? {} : ENGINE),
  });
  for (const c of cases) it(c.name, c.run);
});
