// Time-to-ready on the real testbed (testbed/up.sh first): `dyn deploy` of one prefill and one decode
// SGLang stand-in worker, against a minimal hand-written sbatch script that launches the same steps
// (etcd, NATS, frontend, two workers) at once with no checks, in the same run, interleaved. The
// difference is dyn's own orchestration overhead (node setup, ordered infra start, readiness
// detection); the stand-in components' start time is in both. dyn's breakdown comes from the
// millisecond timestamps of its status file.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseStatusLines } from "@dyn/core";
import { ms, standinEnv, summarize } from "./stats.mjs";

const repo = join(import.meta.dirname, "..");
const env = standinEnv(repo);
const small = [
  "--num-prefill-workers",
  "1",
  "--num-decode-workers",
  "1",
  "--gpus-per-prefill",
  "1",
  "--gpus-per-decode",
  "1",
];

const sleep = (t) => new Promise((r) => setTimeout(r, t));
async function until(what, check, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}
const inQueue = (id) =>
  execFileSync("squeue", ["-h", "-j", id, "-o", "%i"], { encoding: "utf8" }).trim() !== "";
async function cancel(id) {
  spawnSync("scancel", [id]);
  await until(`job ${id} to leave the queue`, () => (inQueue(id) ? undefined : true));
}

/** A registry-free image of the stand-in (testbed/image/build.sh), for the containerised runs. */
function buildImage() {
  return execFileSync(
    "bash",
    [join(repo, "testbed/image/build.sh"), "--backend", "sglang", "--release", "1.5.1"],
    {
      encoding: "utf8",
    },
  )
    .trim()
    .split("\n")
    .pop();
}
const { PYTHONPATH: _p, ...bareEnv } = process.env;

async function viaDyn(runs, image) {
  const t0 = Date.now();
  const r = spawnSync(
    process.execPath,
    [
      join(repo, "apps/cli/bin/dyn.js"),
      "deploy",
      "--backend",
      "sglang",
      ...small,
      ...(image ? ["--container", image] : []),
      "--runs-dir",
      runs,
      "--json",
    ],
    {
      // In containers the stand-in comes from the image, not from the host's PATH.
      env: image ? { ...bareEnv, NO_COLOR: "1" } : env,
      encoding: "utf8",
    },
  );
  if (r.status !== 0) throw new Error(r.stderr);
  const { jobId, runDir } = JSON.parse(r.stdout);
  const status = join(runDir, "status.jsonl");
  const events = await until("ready", () => {
    if (!existsSync(status)) return undefined;
    const ev = parseStatusLines(readFileSync(status, "utf8"));
    if (ev.some((e) => e.event === "failed"))
      throw new Error(`deployment failed: ${JSON.stringify(ev.at(-1))}`);
    return ev.some((e) => e.event === "ready") ? ev : undefined;
  });
  await cancel(jobId);
  const at = (pred) => events.filter(pred).at(-1).t * 1000 - t0;
  return {
    total: at((e) => e.event === "ready"),
    jobStart: at((e) => e.event === "job-started"),
    nodesReady: at((e) => e.event === "node"),
    containersReady: image ? at((e) => e.event === "container-ready") : undefined,
    infraUp: at((e) => e.event === "infra-up"),
    started: at((e) => e.event === "started"),
  };
}

/** The same processes, launched at once, no waits or checks; readiness observed from outside. */
function manualScript(dir) {
  const path = join(dir, "manual.sbatch");
  writeFileSync(
    path,
    `#!/bin/bash
#SBATCH --nodes=2 --ntasks-per-node=1 --gpus-per-node=8 --output=${dir}/manual-%j.out
B=$((20000 + SLURM_JOB_ID % 100 * 10)); H=node1
export ETCD_ENDPOINTS=http://$H:$B NATS_SERVER=nats://$H:$((B+2))
D=/tmp/manual-etcd-$SLURM_JOB_ID-$RANDOM
srun --overlap -N1 -n1 -w node1 etcd --data-dir $D --listen-client-urls http://0.0.0.0:$B --advertise-client-urls http://$H:$B --listen-peer-urls http://127.0.0.1:$((B+1)) --initial-advertise-peer-urls http://127.0.0.1:$((B+1)) --initial-cluster default=http://127.0.0.1:$((B+1)) &
srun --overlap -N1 -n1 -w node1 nats-server -js -sd $D-nats -p $((B+2)) &
srun --overlap -N1 -n1 -w node1 python3 -m dynamo.frontend --http-port $((B+4)) &
srun --overlap -N1 -n1 -w node1 python3 -m dynamo.sglang --model-path Qwen/Qwen3-0.6B --tp 1 --port $((B+5)) --nccl-port $((B+6)) --disaggregation-mode prefill --disaggregation-bootstrap-port $((B+7)) &
srun --overlap -N1 -n1 -w node2 python3 -m dynamo.sglang --model-path Qwen/Qwen3-0.6B --tp 1 --port $((B+5)) --nccl-port $((B+6)) --disaggregation-mode decode &
wait
`,
  );
  return path;
}

async function manual(dir) {
  const t0 = Date.now();
  const id = execFileSync("sbatch", ["--parsable", manualScript(dir)], { env, encoding: "utf8" }).trim();
  const url = `http://node1:${20000 + (Number(id) % 100) * 10 + 4}/health`;
  await until("manual deployment ready", async () => {
    try {
      const h = await (await fetch(url, { signal: AbortSignal.timeout(1000) })).json();
      const n = (c) =>
        (h.instances ?? []).filter((i) => i.component === c && i.endpoint === "generate").length;
      return n("prefill") >= 1 && n("backend") >= 1 ? true : undefined;
    } catch {
      return undefined;
    }
  });
  const total = Date.now() - t0;
  await cancel(id);
  return { total };
}

export async function timeToReady(runs = 5) {
  const dir = mkdtempSync("/tmp/dyn-bench-ready-");
  const image = buildImage();
  const dyn = [];
  const boxed = [];
  const hand = [];
  for (let i = 0; i < runs; i++) {
    dyn.push(await viaDyn(join(dir, "runs")));
    boxed.push(await viaDyn(join(dir, "runs"), image));
    hand.push(await manual(dir));
  }
  const s = (rows, k) => summarize(rows.map((r) => r[k]));
  const overhead = summarize(dyn.map((d, i) => d.total - hand[i].total));
  return {
    runs,
    dyn: Object.fromEntries(Object.keys(dyn[0]).map((k) => [k, s(dyn, k)])),
    containers: Object.fromEntries(Object.keys(boxed[0]).map((k) => [k, s(boxed, k)])),
    containerCost: summarize(boxed.map((b, i) => b.total - dyn[i].total)),
    containerRatio: summarize(boxed.map((b, i) => b.total / dyn[i].total)),
    hand: s(hand, "total"),
    overhead,
  };
}

export function formatTimeToReady(r) {
  const row = (name, x) => `| ${name} | ${ms(x.median)} | ${ms(x.p10)}–${ms(x.p90)} |`;
  return [
    `| from submit (${r.runs} runs each, interleaved) | median | p10–p90 |`,
    "|---|---:|---:|",
    row("dyn: job started", r.dyn.jobStart),
    row("dyn: node setup done (IPs, cache dirs)", r.dyn.nodesReady),
    row("dyn: etcd and NATS answering", r.dyn.infraUp),
    row("dyn: every process launched", r.dyn.started),
    row("dyn: ready (all instances registered)", r.dyn.total),
    row("hand-written script, no checks: ready", r.hand),
    row("**dyn's overhead** (pairwise difference)", r.overhead),
    row("dyn in real pyxis containers: images imported on every node", r.containers.containersReady),
    row("dyn in real pyxis containers: ready", r.containers.total),
    row("**containers' cost** (pairwise difference to bare dyn)", r.containerCost),
    `| containers / bare (pairwise ratio) | ${r.containerRatio.median.toFixed(2)}× | ${r.containerRatio.p10.toFixed(2)}–${r.containerRatio.p90.toFixed(2)}× |`,
  ].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`)
  console.log(formatTimeToReady(await timeToReady(Number(process.argv[2] ?? 5))));
