/**
 * Keep-alive (spec.lifetime): validation, what the renderer adds (and that it adds nothing without
 * it), and the chain functions run in the whole script under bash with stub sbatch/scancel: the
 * successor submitted with the next attempt number and none of the job's SLURM_* variables, overlap's
 * drain once the successor is READY, queue's dependency, dyn stop's marker (also when it arrives while
 * sbatch runs), maxAttempts and maxFailures.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  DeploymentSpec,
  type DeploymentSpecInput,
  parseChain,
  renderScript,
  slurmTimeSeconds,
} from "../src/index.js";
import { planForTest, type TestSpec } from "../src/testing.js";
import { perNode } from "./fixtures/backends.js";
import { JOB_ID, nodeIp, ScriptRun } from "./helpers/harness.js";

const base: TestSpec = {
  model: { path: "org/model" },
  roles: { aggregated: { workers: 1 } },
  slurm: { time: "2" },
};
const issues = (input: Omit<DeploymentSpecInput, "backend">) => {
  const r = DeploymentSpec.safeParse({ backend: { name: "x" }, ...input });
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
};

describe("lifetime in the spec", () => {
  it("reads SLURM's time forms as seconds", () => {
    const cases: Array<[string, number | undefined]> = [
      ["2", 120],
      ["2:30", 150],
      ["01:00:00", 3600],
      ["1-0", 86400],
      ["1-02:03", 86400 + 7200 + 180],
      ["1-02:03:04", 86400 + 7200 + 184],
      ["x", undefined],
    ];
    for (const [text, s] of cases) expect(slurmTimeSeconds(text), text).toBe(s);
  });

  it("keep-alive needs a time limit, and the warning must come before it", () => {
    expect(issues({ lifetime: { keepAlive: true } })).toEqual([
      "lifetime.keepAlive: needs a time limit (slurm.time, --time): a chain hands over before the limit",
    ]);
    expect(issues({ slurm: { time: "2" }, lifetime: { keepAlive: true, warnSeconds: 120 } })).toEqual([
      "lifetime.warnSeconds: must be less than the time limit (2 = 120 s)",
    ]);
    expect(issues({ slurm: { time: "2" }, lifetime: { keepAlive: true, warnSeconds: 119 } })).toEqual([]);
    expect(issues({ lifetime: { keepAlive: false } })).toEqual([]);
    // keep-alive writes #SBATCH --signal itself: a user's (or an abbreviation of it) would replace it.
    const time = { time: "30" };
    expect(
      issues({
        slurm: { ...time, extraSbatch: ["--mail-type=END", "--signal=B:TERM@60", "--sign=USR2"] },
        lifetime: { keepAlive: true },
      }),
    ).toEqual([
      'slurm.extraSbatch.1: "--signal=B:TERM@60" repeats #SBATCH --signal, which dyn writes for keep-alive from lifetime.warnSeconds (--warn-seconds)',
      'slurm.extraSbatch.2: "--sign=USR2" repeats #SBATCH --signal, which dyn writes for keep-alive from lifetime.warnSeconds (--warn-seconds)',
    ]);
    expect(issues({ slurm: { ...time, extraSbatch: ["--signal=USR2@30"] } })).toEqual([]);
    expect(issues({ lifetime: { keepAlive: false, handover: "overlap" } })).toEqual([
      "lifetime.handover: has no effect without keep-alive (lifetime.keepAlive, --keep-alive)",
    ]);
    expect(
      issues({ slurm: { time: "9" }, lifetime: { keepAlive: true, handover: "swap" as "queue" } })[0],
    ).toMatch(/^lifetime\.handover: /);
    expect(issues({ slurm: { time: "9" }, lifetime: { keepAlive: true, warnSeconds: 70000 } })[0]).toMatch(
      /^lifetime\.warnSeconds: /,
    );
  });
});

describe("rendering", () => {
  const render = (spec: TestSpec) => renderScript(planForTest(perNode, spec), { runDir: "/shared/runs/x" });

  it("without keep-alive the script is the same as before (lifetime absent or keepAlive false)", () => {
    const plain = render(base);
    expect(render({ ...base, lifetime: { keepAlive: false } })).toBe(plain);
    expect(plain).not.toMatch(/#SBATCH --signal|DYN_CHAIN|dyn_keepalive/);
  });

  it("with keep-alive: the warning signal to the batch shell, the chain settings and hooks", () => {
    const text = render({ ...base, lifetime: { keepAlive: true, handover: "overlap", warnSeconds: 45 } });
    expect(text).toContain("#SBATCH --time=2\n#SBATCH --signal=B:USR1@45\n");
    expect(text).toContain("DYN_HANDOVER=overlap\n");
    expect(text).toMatch(/dyn_emit ready url [^\n]*\n[^\n]*\ndyn_keepalive_ready\n/);
    expect(text).toMatch(/while :; do\n {2}dyn_check_steps\n {2}dyn_keepalive_tick\n/);
  });
});

describe("the chain under bash", () => {
  const runs: ScriptRun[] = [];
  afterEach(() => {
    for (const r of runs.splice(0)) r.dispose();
  });

  const start = (
    lifetime: NonNullable<TestSpec["lifetime"]>,
    env: Record<string, string> = {},
    before?: (run: ScriptRun) => void,
  ) => {
    const run = new ScriptRun();
    runs.push(run);
    const plan = planForTest(perNode, {
      ...base,
      lifetime: { keepAlive: true, warnSeconds: 30, ...lifetime },
    });
    const script = renderScript(plan, { runDir: run.runDir, graceSeconds: 2, infraTimeoutSeconds: 5 });
    before?.(run);
    run.start(script, { nodes: plan.nodes, env });
    return { run, plan };
  };
  const chain = (run: ScriptRun) => parseChain(read(join(run.runDir, "chain.jsonl")) ?? "");
  const read = (path: string) => (existsSync(path) ? readFileSync(path, "utf8") : undefined);
  const recorded = (run: ScriptRun, name: string) => run.recorded(name);
  const sbatchArgv = (run: ScriptRun) => (recorded(run, "sbatch.argv") ?? "").split("\0").slice(0, -1);
  const url = `http://${nodeIp(0)}:`;

  it("overlap: at USR1 the successor is submitted; once it is READY this attempt drains and exits 0", async () => {
    const { run } = start({ handover: "overlap" }, { SLURM_CPUS_ON_NODE: "4" });
    await run.untilEvent("ready");
    // current-url is written right after the ready event: wait for it, as for the chain's record
    const current = await run.until("current-url", () => read(join(run.runDir, "current-url")));
    expect(current).toMatch(new RegExp(`^${url}\\d+\\n$`));
    await run.until("the chain's ready record", () => chain(run)[0]?.url ?? undefined);
    expect(chain(run)).toMatchObject([
      { attempt: 1, jobId: String(JOB_ID), url: expect.stringContaining(url) },
    ]);
    expect(recorded(run, "sbatch.argv")).toBeUndefined(); // overlap submits at the warning only
    run.signal("SIGUSR1");
    await run.untilEvent("successor");
    expect(sbatchArgv(run)).toEqual([
      "--parsable",
      "--export=ALL,DYN_ATTEMPT=2",
      join(run.runDir, "job.sbatch"),
    ]);
    // The same script, kept in the run directory; the job's SLURM_* variables are not passed on.
    expect(existsSync(join(run.runDir, "job.sbatch"))).toBe(true);
    expect(recorded(run, "sbatch.env")).toBe(`SLURM=\nCWD=${run.runDir}\n`);
    expect(chain(run)[1]).toMatchObject({ attempt: 2, jobId: "5000", submittedBy: String(JOB_ID) });
    // Still serving while the successor starts.
    expect(run.exit).toBeUndefined();
    expect(run.alive("frontend-0")).toBe(true);
    // The successor's status file says READY: this attempt drains.
    mkdirSync(join(run.runDir, "attempts", "2"), { recursive: true });
    writeFileSync(
      join(run.runDir, "attempts", "2", "status.jsonl"),
      '{"t":1,"event":"ready","url":"http://x:1"}\n',
    );
    const exit = await run.waitExit();
    expect(exit.code).toBe(0);
    const events = run.events().map((e) => e.event);
    expect(events.slice(-2)).toEqual(["handed-over", "stopped"]);
    expect(run.events().at(-1)).toMatchObject({ signal: "HANDOVER" });
    expect(events).not.toContain("failed");
    expect(chain(run)[0]).toMatchObject({ handedOver: true });
    expect(run.alive("frontend-0")).toBe(false);
  });

  it("queue: the successor is queued at READY, after this job (afterany)", async () => {
    const { run } = start({ handover: "queue" });
    await run.untilEvent("successor");
    expect(sbatchArgv(run)).toEqual([
      "--parsable",
      "--export=ALL,DYN_ATTEMPT=2",
      `--dependency=afterany:${JOB_ID}`,
      join(run.runDir, "job.sbatch"),
    ]);
    // The warning changes nothing more: the job serves to its limit.
    run.signal("SIGUSR1");
    await run.untilEvent("time-limit-near");
    run.signal("SIGTERM");
    expect((await run.waitExit()).code).toBe(143);
  });

  it("attempt 2 keeps its files in attempts/2 and writes current-url at READY", async () => {
    const { run } = start({ handover: "queue" }, { DYN_ATTEMPT: "2", STUB_SBATCH_ID: "5001" }, (r) => {
      mkdirSync(r.runDir, { recursive: true });
      writeFileSync(join(r.runDir, "status.jsonl"), '{"t":1,"event":"stopped","signal":"TERM"}\n');
    });
    const status = join(run.runDir, "attempts", "2", "status.jsonl");
    await run.until("attempt 2's ready event", () =>
      read(status)?.includes('"event":"ready"') ? true : undefined,
    );
    await run.until("the successor", () => (chain(run).length === 2 ? true : undefined));
    expect(chain(run).map((a) => [a.attempt, a.jobId])).toEqual([
      [2, String(JOB_ID)],
      [3, "5001"],
    ]);
    expect(await run.until("current-url", () => read(join(run.runDir, "current-url")))).toMatch(
      new RegExp(`^${url}`),
    );
    // Attempt 1's status file is left as it was: attempt 2 writes only its own.
    expect(read(join(run.runDir, "status.jsonl"))).toBe('{"t":1,"event":"stopped","signal":"TERM"}\n');
    expect(sbatchArgv(run)).toContain("--export=ALL,DYN_ATTEMPT=3");
  });

  it("a stopped chain (chain.stop) starts nothing and submits nothing", async () => {
    const { run } = start({ handover: "queue" }, { DYN_ATTEMPT: "2" }, (r) => {
      mkdirSync(r.runDir, { recursive: true });
      writeFileSync(join(r.runDir, "chain.stop"), "");
    });
    expect((await run.waitExit()).code).toBe(0);
    expect(run.argv("frontend-0")).toBeUndefined();
    expect(recorded(run, "sbatch.argv")).toBeUndefined();
    expect(read(join(run.runDir, "attempts", "2", "status.jsonl"))).toContain('"signal":"CHAIN_STOP"');
  });

  it("dyn stop's marker written while sbatch runs: the job cancels the successor it just submitted", async () => {
    const run = new ScriptRun();
    runs.push(run);
    const plan = planForTest(perNode, { ...base, lifetime: { keepAlive: true, warnSeconds: 30 } });
    const script = renderScript(plan, { runDir: run.runDir, graceSeconds: 2, infraTimeoutSeconds: 5 });
    run.start(script, { nodes: plan.nodes, env: { STUB_SBATCH_TOUCH: join(run.runDir, "chain.stop") } });
    await run.untilEvent("successor");
    expect(recorded(run, "scancel.log")).toBe("5000\n");
    expect(chain(run)[0]).toMatchObject({ refused: "stopped" });
  });

  it("maxAttempts: the last attempt submits no successor", async () => {
    const { run } = start({ handover: "queue", maxAttempts: 2 }, { DYN_ATTEMPT: "2" });
    await run.until("the refusal", () => chain(run).find((a) => a.refused));
    expect(chain(run).find((a) => a.attempt === 2)?.refused).toBe("maxAttempts 2 reached");
    expect(recorded(run, "sbatch.argv")).toBeUndefined();
  });

  it("maxFailures: after that many failed attempts in a row, the next one does not start", async () => {
    const failed = '{"t":1,"event":"failed","component":"frontend-0","message":"exited with code 3"}\n';
    const { run } = start({ handover: "queue", maxFailures: 2 }, { DYN_ATTEMPT: "3" }, (r) => {
      mkdirSync(join(r.runDir, "attempts", "2"), { recursive: true });
      writeFileSync(join(r.runDir, "status.jsonl"), failed);
      writeFileSync(join(r.runDir, "attempts", "2", "status.jsonl"), failed);
    });
    expect((await run.waitExit()).code).toBe(1);
    const status = read(join(run.runDir, "attempts", "3", "status.jsonl")) ?? "";
    expect(status).toContain('"component":"keep-alive"');
    expect(status).toContain("the last 2 attempts failed");
    expect(run.argv("frontend-0")).toBeUndefined();
  });
});
