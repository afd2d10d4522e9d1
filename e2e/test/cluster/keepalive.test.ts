/**
 * Keep-alive on the testbed (#17 item 1): a deployment with a 2-minute time limit served by a chain
 * of jobs. Overlap mode: at SLURM's warning (--signal=B:USR1@50, up to 60 s early) the job submits
 * its successor, serves until the successor is READY, then drains and exits 0. Two hand-overs, the
 * URL in current-url answering a chat request after each; `dyn status` shows the chain; `dyn logs
 * --attempt`; `dyn stop` ends the whole chain with nothing of it left in squeue.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { chat, deploy, dyn, json, stopDeployed, waitFor } from "./harness.js";

const chainIds: string[] = [];
afterAll(async () => {
  // Whatever happened, no attempt of the chain may stay queued.
  if (chainIds.length > 0) execFileSync("scancel", chainIds);
  expect(await stopDeployed()).toEqual([]);
});

interface ChainRecord {
  attempt: number;
  job: string;
  event: string;
  url?: string;
  to?: string;
}
const records = (runDir: string): ChainRecord[] => {
  const file = join(runDir, "chain.jsonl");
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as ChainRecord];
      } catch {
        return [];
      }
    });
};
const queued = (ids: readonly string[]) =>
  execFileSync("squeue", ["-h", "-j", ids.join(","), "-o", "%i"], { encoding: "utf8" })
    .split("\n")
    .filter(Boolean);

it("overlap: two hand-overs past a 2-minute limit, the current URL answering after each; dyn stop ends the chain", async () => {
  const t0 = Date.now();
  const { run, d, runs } = await deploy("keepalive", [
    "--backend",
    "vllm",
    "--aggregated-workers",
    "1",
    "--gpus-per-aggregated",
    "1",
    "--time",
    "2",
    "--keep-alive",
    "--handover",
    "overlap",
    "--warn-seconds",
    "50",
  ]);
  expect(d.wait, run.stderr).toMatchObject({ outcome: "ready" });
  chainIds.push(d.jobId);
  const model = d.plan.spec.model.path;
  const script = readFileSync(join(d.runDir, "job.sbatch"), "utf8");
  expect(script).toContain("#SBATCH --signal=B:USR1@50\n");
  const currentUrl = () => readFileSync(join(d.runDir, "current-url"), "utf8").trim();
  expect(currentUrl()).toBe(d.wait.url);
  expect((await chat(currentUrl(), model)).status).toBe(200);

  const handovers: Array<{ from: string; to: string; url: string; atSeconds: number }> = [];
  for (let attempt = 1; attempt <= 2; attempt++) {
    // The successor is READY and this attempt handed over (its own record, written as it drains).
    const next = await waitFor(
      `attempt ${attempt} handing over`,
      () => {
        const r = records(d.runDir);
        const over = r.find((x) => x.attempt === attempt && x.event === "handed-over");
        const ready = r.find((x) => x.attempt === attempt + 1 && x.event === "ready");
        return over && ready ? { job: over.to as string, url: ready.url as string } : undefined;
      },
      180_000,
    );
    chainIds.push(next.job);
    const from = chainIds[attempt - 1] as string;
    // The predecessor leaves the queue by itself (drained, exit 0), the successor serves.
    await waitFor(`job ${from} gone`, () => (queued([from]).length === 0 ? true : undefined), 60_000);
    const acct = execFileSync("sacct", ["-n", "-X", "-P", "-j", from, "-o", "State,ExitCode"], {
      encoding: "utf8",
    }).trim();
    expect(acct).toBe("COMPLETED|0:0");
    expect(currentUrl()).toBe(next.url);
    const answer = await chat(currentUrl(), model, `after hand-over ${attempt}`);
    expect(answer.status).toBe(200);
    handovers.push({ from, to: next.job, url: next.url, atSeconds: Math.round((Date.now() - t0) / 1000) });
  }
  // Two attempts ran side by side on the testbed's nodes at each hand-over, each with its own URL.
  expect(new Set(handovers.map((h) => h.url)).size).toBe(2);

  // dyn status: the current attempt (3) as the deployment, every attempt in the chain.
  const status = json<{
    deployments: Array<{
      jobId: string;
      state: string;
      url: string | null;
      chain: Array<{ attempt: number; jobId: string; state: string; handedOver: boolean }>;
    }>;
  }>(await dyn(["status", d.jobId, "--runs-dir", runs, "--json"]));
  const s = status.deployments[0];
  expect(s?.jobId).toBe(chainIds[2]);
  expect(s?.state).toBe("ready");
  expect(s?.url).toBe(currentUrl());
  expect(s?.chain.slice(0, 3)).toMatchObject([
    { attempt: 1, jobId: chainIds[0], state: "handed_over", handedOver: true },
    { attempt: 2, jobId: chainIds[1], state: "handed_over", handedOver: true },
    { attempt: 3, jobId: chainIds[2], state: "ready" },
  ]);
  // A successor's job id finds the deployment too, and its logs are attempt 3's.
  const byNew = await dyn(["status", chainIds[2] as string, "--runs-dir", runs]);
  expect(byNew.stdout).toContain("chain attempt 2:");
  const logs = await dyn(["logs", chainIds[2] as string, "--runs-dir", runs, "--role", "frontend"]);
  expect(logs.code, logs.stderr).toBe(0);
  expect(existsSync(join(d.runDir, "attempts", "3", "logs", "frontend-0.log"))).toBe(true);

  // dyn stop: the whole chain, also an attempt 4 the job may be submitting right now.
  const stop = await dyn(["stop", d.jobId, "--runs-dir", runs, "--json"]);
  expect(stop.code, stop.stderr).toBe(0);
  expect(existsSync(join(d.runDir, "chain.stop"))).toBe(true);
  const all = records(d.runDir)
    .map((r) => r.job)
    .filter((id, i, a) => a.indexOf(id) === i);
  expect(queued(all)).toEqual([]);
  chainIds.splice(0, chainIds.length, ...all);
  console.log(
    `keep-alive e2e: ${JSON.stringify(handovers)}; chain ${all.join(" → ")}; wall ${Math.round((Date.now() - t0) / 1000)} s`,
  );
}, 600_000);
