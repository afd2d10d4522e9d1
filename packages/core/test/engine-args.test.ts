/**
 * Engine args reach each role's command as words (numbers and booleans as their text), the plan table
 * shows them per role, a legacy graph's hosted worker gets its role's args in the frontend process,
 * and what a release does not use is a warning in the plan instead of being dropped.
 */
import { describe, expect, it } from "vitest";
import { explainPlan, planToJson } from "../src/explain.js";
import { planForTest } from "../src/testing.js";
import { showArg } from "../src/word.js";
import { legacy, perNode } from "./fixtures/backends.js";

const commandOf = (plan: ReturnType<typeof planForTest>, id: string) =>
  plan.steps.find((s) => s.id === id)?.argv.map(showArg) ?? [];

describe("engine args in the plan", () => {
  const plan = planForTest(perNode, {
    model: "org/m",
    roles: {
      prefill: { workers: 1, args: "--max-model-len 8192 --chat-template 'a b'" },
      decode: { workers: 1, args: ["--max-model-len", 8192, "--enforce-eager", true] },
      frontend: { args: "--router-mode kv" },
    },
  });

  it("are appended to each role's command, one word each", () => {
    expect(commandOf(plan, "prefill-w0").slice(-4)).toEqual([
      "--max-model-len",
      "8192",
      "--chat-template",
      "a b",
    ]);
    expect(commandOf(plan, "decode-w0").slice(-4)).toEqual([
      "--max-model-len",
      "8192",
      "--enforce-eager",
      "true",
    ]);
    expect(commandOf(plan, "frontend-0").slice(-2)).toEqual(["--router-mode", "kv"]);
  });

  it("the plan table shows each role's args as a shell would read them back", () => {
    const lines = explainPlan(plan).split("\n");
    const at = (prefix: string) => lines.findIndex((l) => l.startsWith(prefix));
    expect(lines[at("  prefill:") + 1]).toBe("    engine args: --max-model-len 8192 --chat-template 'a b'");
    expect(lines[at("  decode:") + 1]).toBe("    engine args: --max-model-len 8192 --enforce-eager true");
    expect(lines).toContain("  frontend args: --router-mode kv");
  });

  it("a role without args has no args line", () => {
    const text = explainPlan(planForTest(perNode, { model: "org/m", slurm: { nodes: 2 } }));
    expect(text).not.toContain("engine args");
    expect(text).not.toContain("frontend args");
  });
});

describe("a legacy graph", () => {
  it("runs the hosted worker's args in the frontend process that hosts it (frontend-0 only)", () => {
    const plan = planForTest(legacy, {
      roles: {
        frontend: { count: 2, args: "--Frontend.x=1" },
        prefill: { workers: 1 },
        decode: { workers: 2, args: "--DecodeWorker.max-model-len=8192" },
      },
    });
    expect(commandOf(plan, "frontend-0").slice(-2)).toEqual([
      "--Frontend.x=1",
      "--DecodeWorker.max-model-len=8192",
    ]);
    expect(commandOf(plan, "frontend-1").at(-1)).toBe("--Frontend.x=1");
    expect(commandOf(plan, "decode-w1").at(-1)).toBe("--DecodeWorker.max-model-len=8192");
  });

  it("a model no process is given and GPUs the graph config decides are warnings, in the table and the JSON", () => {
    const plan = planForTest(legacy, {
      model: { path: "/models/x", servedName: "x" },
      roles: { prefill: { workers: 1, gpusPerWorker: 4 }, decode: { workers: 1 } },
    });
    const expected = [
      {
        key: "model.path",
        message:
          'no process is given "/models/x" at Dynamo 1.5.1 (the dynamo serve graph reads it from its graph config)',
      },
      {
        key: "model.servedName",
        message:
          'no process is given "x" at Dynamo 1.5.1 (the dynamo serve graph reads it from its graph config)',
      },
      {
        key: "roles.prefill.gpusPerWorker",
        message:
          "at Dynamo 1.5.1 the graph config sets each worker's tensor parallelism; 4 GPUs only place each prefill worker (CUDA_VISIBLE_DEVICES), so the graph config must use 4",
      },
    ];
    expect(plan.warnings).toEqual(expected);
    expect(planToJson(plan).warnings).toEqual(expected);
    const text = explainPlan(plan);
    for (const w of expected) expect(text).toContain(`  warning: ${w.key}: ${w.message}`);
  });

  it("no warning for what was not set, nor for a backend that passes the model", () => {
    expect(planForTest(legacy, {}).warnings).toEqual([]);
    expect(
      planForTest(perNode, {
        model: "org/m",
        roles: { prefill: { workers: 1, gpusPerWorker: 4 }, decode: { workers: 1 } },
      }).warnings,
    ).toEqual([]);
  });
});
