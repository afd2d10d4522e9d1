/** `dyn status` shows the port window the job claimed at run time (issue #13 item 1). */
import { appendFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { FakeSlurm, queued, run, tmp } from "./helpers.js";

async function deployedWith(events: object[]) {
  const cwd = tmp();
  const slurm = new FakeSlurm();
  slurm.nextJobId = "77";
  expect((await run(["deploy", "--backend", "sglang"], { cwd, slurm })).code).toBe(0);
  const dir = realpathSync(join(cwd, "dyn-runs", "by-job", "77"));
  appendFileSync(
    join(dir, "status.jsonl"),
    events.map((e) => `${JSON.stringify({ t: 1, ...e })}\n`).join(""),
  );
  slurm.jobs.set("77", queued("77", "RUNNING"));
  return { cwd, slurm };
}

it("--json carries the window; the table names it only when the job's own window was taken", async () => {
  const moved = await deployedWith([
    { event: "port-window-taken", window: 4, nodes: "node3 (held by job 12)" },
    { event: "ports", window: 5, base: 10500, end: 10511, preferred: 4 },
  ]);
  const j = await run(["status", "77", "--json"], moved);
  expect(JSON.parse(j.stdout).deployments[0].ports).toEqual({
    window: 5,
    base: 10500,
    end: 10511,
    preferred: 4,
  });
  const t = await run(["status", "77"], moved);
  expect(t.stdout).toContain("77: ports 10500-10511 (window 5; its own window 4 was taken on a node)");

  const own = await deployedWith([{ event: "ports", window: 4, base: 10400, end: 10411, preferred: 4 }]);
  expect((await run(["status", "77"], own)).stdout).not.toContain("ports");
  const none = await deployedWith([]);
  expect(JSON.parse((await run(["status", "77", "--json"], none)).stdout).deployments[0].ports).toBeNull();
});
