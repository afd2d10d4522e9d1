/**
 * Keep-alive on the CLI (#17 item 1): the flags and their exit-2 errors, `dyn status` showing the
 * chain (the current attempt as the deployment, current-url as its URL), a successor's job id
 * finding the run directory, `dyn logs --attempt`, and `dyn stop` ending the whole chain — also a
 * successor that appears while it stops.
 */
import { appendFileSync, existsSync, mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { FakeSlurm, queued, run, tmp } from "./helpers.js";

const line = (o: object) => `${JSON.stringify({ t: 1, ...o })}\n`;

async function chainDeployed() {
  const cwd = tmp();
  const slurm = new FakeSlurm();
  slurm.nextJobId = "77";
  const deployed = await run(
    ["deploy", "--backend", "sglang", "--time", "30", "--keep-alive", "--handover", "overlap"],
    { cwd, slurm },
  );
  expect(deployed.code, deployed.stderr).toBe(0);
  const dir = realpathSync(join(cwd, "dyn-runs", "by-job", "77"));
  // Attempt 1 (job 77) handed over to attempt 2 (job 78), which is serving.
  appendFileSync(
    join(dir, "chain.jsonl"),
    [
      line({ attempt: 1, job: "77", event: "started" }),
      line({ attempt: 1, job: "77", event: "ready", url: "http://10.0.0.1:10100" }),
      line({ attempt: 2, job: "78", event: "submitted", by: "77" }),
      line({ attempt: 2, job: "78", event: "started" }),
      line({ attempt: 2, job: "78", event: "ready", url: "http://10.0.0.3:10200" }),
      line({ attempt: 1, job: "77", event: "handed-over", to: "78" }),
    ].join(""),
  );
  appendFileSync(join(dir, "status.jsonl"), line({ event: "ready", url: "http://10.0.0.1:10100" }));
  mkdirSync(join(dir, "attempts", "2", "logs"), { recursive: true });
  writeFileSync(
    join(dir, "attempts", "2", "status.jsonl"),
    line({ event: "ready", url: "http://10.0.0.3:10200" }),
  );
  writeFileSync(join(dir, "attempts", "2", "logs", "frontend-0.log"), "attempt 2 frontend\n");
  writeFileSync(join(dir, "logs", "frontend-0.log"), "attempt 1 frontend\n");
  writeFileSync(join(dir, "current-url"), "http://10.0.0.3:10200\n");
  slurm.jobs.delete("77");
  slurm.acct.set("77", { jobId: "77", state: "COMPLETED", exitCode: "0:0" });
  slurm.jobs.set("78", queued("78", "RUNNING"));
  return { cwd, slurm, dir };
}

it("the flags: keep-alive needs --time, the warning comes before it, --handover needs --keep-alive (exit 2)", async () => {
  const noTime = await run(["plan", "--backend", "sglang", "--keep-alive"]);
  expect(noTime.code).toBe(2);
  expect(noTime.stderr).toContain("--keep-alive: needs a time limit (slurm.time, --time)");
  const late = await run([
    "plan",
    "--backend",
    "sglang",
    "--keep-alive",
    "--time",
    "2",
    "--warn-seconds",
    "120",
  ]);
  expect(late.code).toBe(2);
  expect(late.stderr).toContain("--warn-seconds: must be less than the time limit (2 = 120 s)");
  const alone = await run(["plan", "--backend", "sglang", "--handover", "overlap"]);
  expect(alone.code).toBe(2);
  expect(alone.stderr).toContain("--handover: has no effect without keep-alive");
  const bad = await run(["plan", "--backend", "sglang", "--keep-alive", "--time", "9", "--handover", "swap"]);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain("--handover");
  const plan = await run(["plan", "--backend", "sglang", "--keep-alive", "--time", "30", "--json"]);
  expect(plan.code, plan.stderr).toBe(0);
  expect(JSON.parse(plan.stdout).spec.lifetime).toEqual({
    keepAlive: true,
    warnSeconds: 600,
    maxAttempts: 0,
    maxFailures: 2,
  });
  // Without keep-alive the spec has no lifetime at all (plan.json as before).
  expect(
    JSON.parse((await run(["plan", "--backend", "sglang", "--json"])).stdout).spec.lifetime,
  ).toBeUndefined();
});

it("dyn status shows the chain: the current attempt, current-url, every attempt; a successor's id finds it", async () => {
  const { cwd, slurm, dir } = await chainDeployed();
  const j = await run(["status", "77", "--json"], { cwd, slurm });
  expect(j.code, j.stderr).toBe(0);
  const d = JSON.parse(j.stdout).deployments[0];
  expect(d).toMatchObject({
    jobId: "78",
    state: "ready",
    live: true,
    url: "http://10.0.0.3:10200",
    runDir: dir,
  });
  expect(d.chain).toEqual([
    {
      attempt: 1,
      jobId: "77",
      state: "handed_over",
      live: false,
      url: "http://10.0.0.1:10100",
      submittedBy: null,
      handedOver: true,
      refused: null,
    },
    {
      attempt: 2,
      jobId: "78",
      state: "ready",
      live: true,
      url: "http://10.0.0.3:10200",
      submittedBy: "77",
      handedOver: false,
      refused: null,
    },
  ]);
  // All attempts in one squeue call.
  expect(slurm.count("squeue")).toBe(1);
  const t = await run(["status", "78"], { cwd, slurm });
  expect(t.code, t.stderr).toBe(0);
  expect(t.stdout).toContain("78: chain attempt 1: job 77 handed_over was http://10.0.0.1:10100");
  expect(t.stdout).toContain("78: chain attempt 2: job 78 ready http://10.0.0.3:10200");
  // A lone deployment's --json has chain: null.
  const lone = tmp();
  const ls = new FakeSlurm();
  await run(["deploy", "--backend", "sglang"], { cwd: lone, slurm: ls });
  expect(
    JSON.parse((await run(["status", "--json"], { cwd: lone, slurm: ls })).stdout).deployments[0].chain,
  ).toBeNull();
});

it("dyn logs: the newest attempt by default, --attempt n for another, a wrong n is exit 2", async () => {
  const { cwd, slurm } = await chainDeployed();
  expect((await run(["logs", "77", "--role", "frontend"], { cwd, slurm })).stdout).toBe(
    "attempt 2 frontend\n",
  );
  expect((await run(["logs", "77", "--role", "frontend", "--attempt", "1"], { cwd, slurm })).stdout).toBe(
    "attempt 1 frontend\n",
  );
  const wrong = await run(["logs", "77", "--attempt", "5"], { cwd, slurm });
  expect(wrong.code).toBe(2);
  expect(wrong.stderr).toContain("--attempt: 5 is not an attempt of this chain (attempts 1–2)");
});

it("dyn stop ends the chain: the stop marker first, every queued attempt cancelled, one that appears meanwhile too", async () => {
  const { cwd, slurm, dir } = await chainDeployed();
  slurm.jobs.set("77", queued("77", "RUNNING")); // still draining
  // While dyn stop polls, attempt 2 (which had not seen the marker yet) submits attempt 3.
  slurm.onQueue = (n) => {
    if (n !== 1) return;
    expect(existsSync(join(dir, "chain.stop"))).toBe(true);
    appendFileSync(join(dir, "chain.jsonl"), line({ attempt: 3, job: "79", event: "submitted", by: "78" }));
    slurm.jobs.set("79", queued("79", "PENDING", "Resources"));
  };
  const r = await run(["stop", "77", "--json"], { cwd, slurm });
  expect(r.code, r.stderr).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(out).toMatchObject({ format: "dyn.stop/v1", jobId: "77", cancelled: true });
  expect(out.chain.map((c: { jobId: string; cancelled: boolean }) => [c.jobId, c.cancelled]).sort()).toEqual([
    ["77", true],
    ["78", true],
    ["79", true],
  ]);
  expect(slurm.jobs.size).toBe(0);
});
