/** `--no-smoke` and readiness.smoke: the first-request gate before READY is on unless turned off. */
import { expect, it } from "vitest";
import { run, tmp, writeConfig } from "./helpers.js";

const smokeOf = async (args: string[], cwd?: string) => {
  const r = await run(["plan", "--backend", "sglang", ...args, "--json"], cwd ? { cwd } : {});
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout).spec.readiness.smoke;
};

it("on by default, off with --no-smoke or readiness.smoke: false, and the flag's absence keeps the file's", async () => {
  expect(await smokeOf([])).toBe(true);
  expect(await smokeOf(["--no-smoke"])).toBe(false);
  const cwd = tmp();
  writeConfig(cwd, "backend: sglang\nreadiness:\n  smoke: false\n");
  expect(await smokeOf([], cwd)).toBe(false);
  const r = await run(["render", "--backend", "sglang"], {});
  expect(r.stdout).toContain("dyn_smoke ");
  const off = await run(["render", "--backend", "sglang", "--no-smoke"], {});
  expect(off.stdout).not.toMatch(/^dyn_smoke /m);
});

it("--no-smoke-counters or readiness.smokeCounters: false turns the per-role counter check off, said in the plan", async () => {
  const countersOf = async (args: string[], cwd?: string) => {
    const r = await run(["plan", "--backend", "sglang", ...args, "--json"], cwd ? { cwd } : {});
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout);
    return [plan.spec.readiness.smokeCounters, plan.smokeCounters];
  };
  expect(await countersOf([])).toEqual([
    true,
    { metric: "dynamo_component_requests_total", endpointLabel: "dynamo_endpoint", endpoint: "generate" },
  ]);
  const off = [false, { skipped: "readiness.smokeCounters is off" }];
  expect(await countersOf(["--no-smoke-counters"])).toEqual(off);
  const cwd = tmp();
  writeConfig(cwd, "backend: sglang\nreadiness:\n  smokeCounters: false\n");
  expect(await countersOf([], cwd)).toEqual(off);
  const r = await run(["render", "--backend", "sglang", "--no-smoke-counters"], {});
  expect(r.stdout).toMatch(/^dyn_smoke .* skip 'readiness.smokeCounters is off'$/m);
});

it("--no-preflight turns the network preflight off; it is on by default", async () => {
  const plan = async (args: string[]) => {
    const r = await run(["plan", "--backend", "sglang", ...args, "--json"], {});
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout).spec.network.preflight;
  };
  expect(await plan([])).toBe(true);
  expect(await plan(["--no-preflight"])).toBe(false);
});
