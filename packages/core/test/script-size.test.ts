/**
 * The batch script's size limit (SLURM's SchedulerParameters max_script_size, 4 MB by default) and
 * the step templates that keep large plans under it: every step still gets its own argv.
 */
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { DynError } from "../src/errors.js";
import { MAX_SCRIPT_BYTES, renderScript } from "../src/render/script.js";
import { planForTest, thrownBy } from "../src/testing.js";
import { perNode } from "./fixtures/backends.js";

const spec = (workers: number) => ({ model: "org/m", roles: { aggregated: { workers, gpusPerWorker: 1 } } });

describe("script size", () => {
  it("is SLURM's default max_script_size unless told otherwise", () => {
    expect(MAX_SCRIPT_BYTES).toBe(4 * 1024 * 1024);
  });

  it("a script over the limit is refused naming its size, the limit and what to do", () => {
    const plan = planForTest(perNode, spec(64));
    const size = Buffer.byteLength(renderScript(plan, { runDir: "/shared/runs/x" }));
    const e = thrownBy(() => renderScript(plan, { runDir: "/shared/runs/x", maxScriptBytes: size - 1 }));
    expect(e).toBeInstanceOf(DynError);
    const err = e as DynError;
    expect(err.code).toBe("DYN_PLAN_INVALID");
    expect(err.message).toContain(`(${size} bytes), over the`);
    expect(err.message).toContain(`(${size - 1} bytes) limit`);
    expect(err.message).toContain("max_script_size");
    expect(err.hint).toMatch(/split the deployment/);
    // At the limit exactly it is accepted.
    expect(Buffer.byteLength(renderScript(plan, { runDir: "/shared/runs/x", maxScriptBytes: size }))).toBe(
      size,
    );
  });

  it("counts bytes, not characters: a model name outside ASCII counts 2 to 4 bytes a character", () => {
    const plan = planForTest(perNode, { ...spec(2), model: "org/modèle-🚀" });
    const script = renderScript(plan, { runDir: "/shared/runs/x" });
    const bytes = Buffer.byteLength(script);
    expect(bytes).toBeGreaterThan(script.length);
    expect(() => renderScript(plan, { runDir: "/shared/runs/x", maxScriptBytes: bytes - 1 })).toThrow(
      /max_script_size/,
    );
    expect(renderScript(plan, { runDir: "/shared/runs/x", maxScriptBytes: bytes })).toBe(script);
  });
});

describe("step templates", () => {
  it("each templated step runs the argv and env its plan says", () => {
    const plan = planForTest(perNode, spec(12));
    const script = renderScript(plan, { runDir: "/shared/runs/x" });
    expect(script).toMatch(/^dyn_t0\(\) \{$/m);
    // The services section under bash, with dyn_step printing what it was given and the node
    // variables set the way node setup sets them.
    const services = script.slice(script.indexOf("# ---- services"), script.indexOf("# ---- readiness"));
    const nodes = plan.nodes;
    const setup = [
      "set -euo pipefail",
      `DYN_NODES=(${Array.from({ length: nodes }, (_, k) => `node${k}`).join(" ")})`,
      "declare -A DYN_IP_OF=()",
      `for k in $(seq 0 ${nodes - 1}); do DYN_IP_OF[node$k]=10.0.0.$k; printf -v "DYN_HOST_$k" %s "node$k"; printf -v "DYN_NODE_IP_$k" %s "10.0.0.$k"; done`,
      "DYN_PORT_BASE=20000 DYN_HF_CACHE=/cache DYN_ETCD_ENDPOINTS=e DYN_NATS_SERVER=n DYN_EXEC=x",
      `dyn_step() { printf '%s\\0' "$@"; printf '\\n'; }`,
      // per-node launch: the queued steps were what dyn_step was given (printed above)
      "dyn_launch_batched() { :; }",
    ].join("\n");
    const out = execFileSync("bash", ["-c", `${setup}\n${services}`], { encoding: "utf8" });
    const runs = out.split("\n").filter(Boolean);
    const serviceSteps = plan.steps.filter((s) => s.role !== "etcd" && s.role !== "nats");
    expect(runs).toHaveLength(serviceSteps.length);
    for (const [i, step] of serviceSteps.entries()) {
      const words = (runs[i] as string).split("\0").slice(0, -1);
      expect(words[0]).toBe(step.id);
      expect(words).toContain(`--nodelist=node${step.nodes[0]}`);
      // The process argv: after `bash -c <program> <id>`.
      const at = words.indexOf(step.id, 1);
      const argv = words.slice(at + 1);
      expect(argv).toHaveLength(step.argv.length);
      for (const [j, a] of step.argv.entries()) {
        if (typeof a === "string") expect(argv[j]).toBe(a);
        else expect(argv[j]).not.toMatch(/\$|^$/); // runtime parts expanded
      }
      const port = step.env.DYN_SYSTEM_PORT;
      if (port && typeof port !== "string") {
        const ref = port.parts[0] as { port: { kind: string; offset: number } };
        expect(words).toContain(`DYN_SYSTEM_PORT=${20000 + ref.port.offset}`);
      }
    }
  });
});
