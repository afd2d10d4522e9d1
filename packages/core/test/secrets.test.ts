/** A secret's value never reaches the script or the plan: checked and passed by name only. */
import { afterEach, describe, expect, it } from "vitest";
import { planToJson } from "../src/index.js";
import { planForTest, renderForTest, type TestSpec } from "../src/testing.js";
import { perNode } from "./fixtures/backends.js";

const VALUE = "hf_sEcReT-value-9f8e7d6c5b4a";
afterEach(() => {
  delete process.env.HF_TOKEN;
  delete process.env.NGC_API_KEY;
});

const CONTAINERS: Array<[string, NonNullable<TestSpec["container"]>]> = [
  ["no container", { kind: "none" }],
  ["pyxis", { kind: "pyxis", image: "nvcr.io#x/y:1", env: ["NCCL_DEBUG"] }],
];

describe.each(CONTAINERS)("secrets with %s", (_name, container) => {
  const spec: TestSpec = {
    model: { path: "m" },
    container,
    secrets: ["HF_TOKEN", "NGC_API_KEY"],
    roles: { prefill: { workers: 1 }, decode: { workers: 1 } },
  };

  it("the value is in neither the script nor the plan JSON", () => {
    process.env.HF_TOKEN = VALUE;
    process.env.NGC_API_KEY = `${VALUE}-ngc`;
    const script = renderForTest(perNode, spec);
    const json = JSON.stringify(planToJson(planForTest(perNode, spec)));
    for (const text of [script, json]) {
      expect(text).not.toContain(VALUE);
      expect(text).not.toContain("sEcReT");
    }
  });

  it("the script checks each secret by name and passes it by name", () => {
    const script = renderForTest(perNode, spec);
    expect(script).toContain('[ -n "${HF_TOKEN:-}" ] || dyn_fail secrets');
    expect(script).toContain('[ -n "${NGC_API_KEY:-}" ] || dyn_fail secrets');
    // Never expanded into a command line.
    expect(script).not.toMatch(/HF_TOKEN=|\$HF_TOKEN\b|\$\{HF_TOKEN\}/);
    const envFlags = script.match(/--container-env=[^\s)]+/g) ?? [];
    if (container.kind === "pyxis") {
      expect(envFlags.length).toBeGreaterThan(0);
      for (const flag of envFlags) expect(flag).toBe("--container-env=HF_TOKEN,NGC_API_KEY,NCCL_DEBUG");
      // one per Dynamo process; etcd and NATS get none
      const services = planForTest(perNode, spec).steps.filter((s) => s.role !== "etcd" && s.role !== "nats");
      expect(envFlags).toHaveLength(services.length);
    } else {
      expect(envFlags).toEqual([]);
    }
  });
});
