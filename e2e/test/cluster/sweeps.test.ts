/**
 * Sweeps on the testbed (#17 item 4): a 2-point sweep (roles.decode.workers: [1, 2]) with the
 * stand-in, both points READY with the decode workers their values say, `dyn list` grouping them,
 * `dyn bench --sweep` writing one table with rows for both points, `dyn stop --sweep` leaving nothing
 * in the queue nor on the nodes.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { dyn, health, inQueue, json, leftoverProcesses, newRunsDir, standinEnv, waitFor } from "./harness.js";

const jobs: string[] = [];

afterAll(async () => {
  // a failed assertion must not leave the sweep's jobs queued for the next test file
  for (const id of jobs) if (inQueue(id)) await dyn(["stop", id]);
  expect(
    await waitFor("clean nodes", () => (leftoverProcesses().length === 0 ? [] : undefined), 30_000).catch(
      () => leftoverProcesses(),
    ),
  ).toEqual([]);
});

interface ListRow {
  jobId: string | null;
  state: string;
  sweep: { id: string; index: number; label: string; values: Record<string, unknown> } | null;
}

it("deploys a 2-point sweep, both READY, lists them as one sweep, benches both into one table, stops both", async () => {
  const env = standinEnv({ DYN_STANDIN_TOKEN_DELAY_MS: "5" });
  const runs = newRunsDir("sweeps");
  const config = join(runs, "sweep.yaml");
  writeFileSync(
    config,
    [
      "backend: vllm",
      "roles:",
      "  prefill:",
      "    workers: 1",
      "    gpusPerWorker: 1",
      "  decode:",
      "    gpusPerWorker: 1",
      "matrix:",
      "  roles.decode.workers: [1, 2]",
      "",
    ].join("\n"),
  );
  const deployed = await dyn(["deploy", "-f", config, "--runs-dir", runs, "--json"], { env, cwd: runs });
  expect(deployed.code, deployed.stderr).toBe(0);
  const doc = json<{
    sweep: { id: string; dir: string };
    points: Array<{ index: number; label: string; jobId: string; runDir: string }>;
  }>(deployed);
  jobs.push(...doc.points.map((p) => p.jobId));
  expect(doc.points.map((p) => p.label)).toEqual(["decode.workers=1", "decode.workers=2"]);
  const id = doc.sweep.id;

  // both points READY (each its own job), seen through dyn list
  const list = async () => {
    const l = await dyn(["list", "--runs-dir", runs, "--json"], { env, cwd: runs });
    expect(l.code, l.stderr).toBe(0);
    return json<{ deployments: ListRow[]; sweeps: Array<{ id: string; dir: string; jobIds: string[] }> }>(l);
  };
  const ready = await waitFor(
    "both sweep points READY",
    async () => {
      const l = await list();
      const rows = l.deployments.filter((r) => r.sweep?.id === id);
      return rows.length === 2 && rows.every((r) => r.state === "ready") ? l : undefined;
    },
    180_000,
  );
  // grouped: the sweep's points in point order, with their labels and values
  const rows = ready.deployments.filter((r) => r.sweep?.id === id);
  expect(rows.map((r) => [r.jobId, r.sweep?.index, r.sweep?.label])).toEqual([
    [doc.points[0]?.jobId, 0, "decode.workers=1"],
    [doc.points[1]?.jobId, 1, "decode.workers=2"],
  ]);
  expect(rows[1]?.sweep?.values).toEqual({ "roles.decode.workers": 2 });
  // (the per-user registry may list other sweeps of earlier runs too)
  expect(ready.sweeps.filter((s) => s.id === id)).toEqual([
    expect.objectContaining({ id, dir: doc.sweep.dir, jobIds: doc.points.map((p) => p.jobId) }),
  ]);
  const text = await dyn(["list", "--runs-dir", runs], { env, cwd: runs });
  expect(text.stdout.split("\n")[0]).toMatch(/^SWEEP +POINT +NAME +JOB +STATE/);
  expect(text.stdout.split("\n").filter((l) => l.startsWith(id))).toHaveLength(2);

  // each point runs the decode workers its value says
  const status = await dyn(["status", "--sweep", id, "--runs-dir", runs, "--json"], { env, cwd: runs });
  const statuses = json<{ deployments: Array<{ jobId: string; url: string }> }>(status).deployments;
  expect(statuses.map((d) => d.jobId)).toEqual(doc.points.map((p) => p.jobId));
  const urls = statuses.map((d) => d.url);
  for (const [i, url] of urls.entries()) {
    const decode = (await health(url)).instances.filter((x) => x.component === "backend");
    expect(decode, `point ${i}`).toHaveLength(i + 1);
  }

  // one combined table: a row per point × concurrency step
  const b = await dyn(
    [
      "bench",
      "--sweep",
      id,
      "--runs-dir",
      runs,
      "--concurrency",
      "1,2",
      "--requests",
      "4",
      "--input-tokens",
      "16",
      "--output-tokens",
      "8",
      "--json",
    ],
    { env, cwd: runs, timeoutMs: 120_000 },
  );
  expect(b.code, b.stderr).toBe(0);
  const bench = json<{
    points: Array<{ index: number; status: string; steps: Array<{ concurrency: number; answered: number }> }>;
    files: { dir: string; json: string; csv: string };
  }>(b);
  expect(
    bench.points.map((p) => [p.index, p.status, p.steps.map((s) => [s.concurrency, s.answered])]),
  ).toEqual([
    [
      0,
      "benched",
      [
        [1, 4],
        [2, 4],
      ],
    ],
    [
      1,
      "benched",
      [
        [1, 4],
        [2, 4],
      ],
    ],
  ]);
  expect(bench.files.dir.startsWith(join(doc.sweep.dir, "bench"))).toBe(true);
  const csv = readFileSync(bench.files.csv, "utf8").trimEnd().split("\r\n");
  expect(csv[0]?.startsWith("point,label,roles.decode.workers,job_id,concurrency,")).toBe(true);
  expect(csv.slice(1).map((l) => l.split(",").slice(0, 5).join(","))).toEqual([
    `0,decode.workers=1,1,${doc.points[0]?.jobId},1`,
    `0,decode.workers=1,1,${doc.points[0]?.jobId},2`,
    `1,decode.workers=2,2,${doc.points[1]?.jobId},1`,
    `1,decode.workers=2,2,${doc.points[1]?.jobId},2`,
  ]);

  // dyn stop --sweep: nothing of it left in the queue
  const stop = await dyn(["stop", "--sweep", id, "--runs-dir", runs], { env, cwd: runs });
  expect(stop.code, stop.stderr).toBe(0);
  expect(stop.stdout).toMatch(new RegExp(`^sweep ${id} stopped: job .* cancelled, none left in the queue`));
  for (const p of doc.points) expect(inQueue(p.jobId), p.jobId).toBe(false);
});

it("--sweep-concurrency 1: the second point waits on the first (SLURM dependency) and starts once it ends", async () => {
  const env = standinEnv();
  const runs = newRunsDir("sweeps-cap");
  const config = join(runs, "sweep.yaml");
  writeFileSync(
    config,
    "backend: vllm\nroles:\n  prefill:\n    workers: 1\n    gpusPerWorker: 1\n  decode:\n    gpusPerWorker: 1\nmatrix:\n  roles.decode.workers: [1, 2]\n",
  );
  const deployed = await dyn(
    ["deploy", "-f", config, "--runs-dir", runs, "--sweep-concurrency", "1", "--json"],
    {
      env,
      cwd: runs,
    },
  );
  expect(deployed.code, deployed.stderr).toBe(0);
  const doc = json<{ sweep: { id: string }; points: Array<{ jobId: string; after: number | null }> }>(
    deployed,
  );
  jobs.push(...doc.points.map((p) => p.jobId));
  const [first, second] = doc.points.map((p) => p.jobId) as [string, string];
  expect(doc.points.map((p) => p.after)).toEqual([null, 0]);
  const states = async () => {
    const l = await dyn(["list", "--runs-dir", runs, "--json"], { env, cwd: runs });
    const rows = json<{ deployments: Array<ListRow & { slurmState: string | null }> }>(l).deployments;
    // this sweep's rows only: the registry may name jobs of earlier testbed runs with the same ids
    return new Map(rows.filter((r) => r.sweep?.id === doc.sweep.id).map((r) => [r.jobId, r]));
  };
  // the first READY while the second is held by its dependency
  await waitFor(
    "point 0 READY",
    async () => ((await states()).get(first)?.state === "ready" ? true : undefined),
    120_000,
  );
  const reason = execFileSync("squeue", ["-h", "-j", second, "-o", "%T %r"], { encoding: "utf8" }).trim();
  expect(reason).toBe("PENDING Dependency");
  // the first ends: SLURM starts the second, no client involved
  const stop = await dyn(["stop", first, "--runs-dir", runs], { env, cwd: runs });
  expect(stop.code, stop.stderr).toBe(0);
  await waitFor(
    "point 1 READY",
    async () => ((await states()).get(second)?.state === "ready" ? true : undefined),
    120_000,
  );
  const all = await dyn(["stop", "--sweep", doc.sweep.id, "--runs-dir", runs], { env, cwd: runs });
  expect(all.code, all.stderr).toBe(0);
  for (const id of [first, second]) expect(inQueue(id), id).toBe(false);
});
