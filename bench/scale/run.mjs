// Scale on the testbed (issue 15 item 1): for TB_NODES in 4, 16, 32 the testbed is brought up
// (`TB_NODES=N bash testbed/up.sh`, root) and a `dyn deploy` of 8 one-GPU stand-in workers per node
// (split prefill/decode) is run interleaved with a hand-written baseline sbatch script that starts
// exactly the same processes (etcd, NATS, the frontend, the same worker commands, taken from the
// dyn-rendered plan.json) at once with no checks. Both are observed the same way from outside: the
// frontend's /health polled until every expected worker is listed. dyn's overhead is the pairwise
// difference of that time measured from the job's start. Also: dyn's in-job timeline (status.jsonl),
// the peak memory of all processes on the batch host (the node1 network namespace, srun clients
// included), and the number of srun step launches (sacct).
//
// node bench/scale/run.mjs [--nodes 4,16,32] [--pairs 3,2,2] [--shape a|b] [--no-up] [--json FILE]
//   [--compare-launch]: also dyn with --launch per-process (one srun step per process) in each round
// The testbed is left up with the last size; run `bash testbed/down.sh` afterwards.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseStatusLines } from "@dyn/core";
import { standinEnv, summarize } from "../stats.mjs";

const repo = join(import.meta.dirname, "../..");
const env = standinEnv(repo);

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const sizes = arg("nodes", "4,16,32").split(",").map(Number);
const pairsFor = arg("pairs", "3,2,2").split(",").map(Number);
const shape = arg("shape", "a");
const noUp = process.argv.includes("--no-up");
const jsonOut = arg("json", "");
const compareLaunch = process.argv.includes("--compare-launch");
const baselineTimeoutMs = Number(arg("baseline-timeout", "180")) * 1000;

/** One sample, retried once: a failed attempt is counted and reported, not silently dropped. */
async function attempt(what, fn, failures) {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (e) {
      failures.push(`${what}: ${e.message.split("\n")[0]}`);
      console.error(`[scale]   ${what} failed: ${e.message.split("\n")[0]}`);
      if (i >= 1) throw e;
    }
  }
}

/** Shape (a): 8 one-GPU workers per node, half prefill, half decode. (b): 2-node TP workers. */
const shapeArgs = (n) =>
  shape === "a"
    ? ["--nodes", `${n}`, "--gpus-per-node", "8", "--gpus-per-prefill", "1", "--gpus-per-decode", "1"]
    : ["--nodes", `${n}`, "--gpus-per-node", "8", "--gpus-per-prefill", "16", "--gpus-per-decode", "16"];

const sleep = (t) => new Promise((r) => setTimeout(r, t));
async function until(what, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}
const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
/** Whether a job is still in the queue; an squeue that fails (slurmctld busy) counts as yes. */
function inQueue(id) {
  const r = spawnSync("squeue", ["-h", "-j", id, "-o", "%i"], { encoding: "utf8", timeout: 20_000 });
  if (r.status !== 0) return !/Invalid job id/.test(r.stderr ?? "");
  return r.stdout.trim() !== "";
}
async function cancel(id) {
  spawnSync("scancel", [id]);
  // 256 stand-ins stopping on 2 cores can take a minute; slurmd drains a node whose step outlives
  // UnkillableStepTimeout ("Kill task failed": `scontrol update nodename=… state=resume`).
  await until(`job ${id} to leave the queue`, () => (inQueue(id) ? undefined : true), 180_000);
  const drained = spawnSync("sinfo", ["-h", "-R", "-o", "%E|%N"], { encoding: "utf8" }).stdout;
  for (const line of drained.split("\n").filter((l) => l.startsWith("Kill task failed|"))) {
    const nodes = line.split("|")[1];
    console.error(`[scale]   resuming ${nodes} (drained: Kill task failed)`);
    spawnSync("scontrol", ["update", `nodename=${nodes}`, "state=resume"]);
  }
}

/** Numbered steps of a finished job (not batch/extern), from SLURM accounting. */
async function stepLaunches(id) {
  let last = -1;
  for (let i = 0; i < 20; i++) {
    const out = spawnSync("sacct", ["-n", "-P", "-j", id, "-o", "JobID"], { encoding: "utf8" }).stdout;
    const n = out.split("\n").filter((l) => /^\d+\.\d+$/.test(l.trim())).length;
    if (n > 0 && n === last) return n;
    last = n;
    await sleep(300);
  }
  return last;
}

/** Sum of RSS of every process in the batch host's network namespace, sampled until stopped. */
function memorySampler(ns = "stb-node1", everyMs = 200) {
  const page = 4096;
  let stop = false;
  const peak = { total: 0, srun: 0, processes: 0, sruns: 0 };
  const sample = () => {
    const r = spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" });
    let total = 0;
    let srun = 0;
    let processes = 0;
    let sruns = 0;
    for (const pid of r.stdout.split("\n").filter(Boolean)) {
      try {
        const rss = Number(readFileSync(`/proc/${pid}/statm`, "utf8").split(" ")[1]) * page;
        const comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
        total += rss;
        processes++;
        if (comm === "srun") {
          srun += rss;
          sruns++;
        }
      } catch {
        // the process ended between the listing and the read
      }
    }
    if (total > peak.total) Object.assign(peak, { total, srun, processes, sruns });
  };
  const done = (async () => {
    while (!stop) {
      sample();
      await sleep(everyMs);
    }
  })();
  return {
    async stop() {
      stop = true;
      await done;
      return peak;
    },
  };
}

/** Poll a frontend's /health until every expected component lists its count; returns Date.now(). */
async function healthListed(url, expected, timeoutMs, abort = () => {}) {
  let checked = 0;
  return until(
    `${url} to list ${JSON.stringify(expected)}`,
    async () => {
      if (Date.now() - checked > 500) {
        abort(); // throws when the deployment failed: no point polling on
        checked = Date.now();
      }
      try {
        const h = await (await fetch(url, { signal: AbortSignal.timeout(1000) })).json();
        const have = {};
        for (const i of h.instances ?? [])
          if (i.endpoint === "generate") have[i.component] = (have[i.component] ?? 0) + 1;
        return Object.entries(expected).every(([c, n]) => (have[c] ?? 0) >= n) ? Date.now() : undefined;
      } catch {
        return undefined;
      }
    },
    timeoutMs,
  );
}

function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"], ...opts });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 300_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const dynBin = join(repo, "apps/cli/bin/dyn.js");
/** The one run directory in a fresh runs dir (next to it the CLI keeps a by-job/ index). */
const runDirIn = (runs) => readdirSync(runs).find((d) => d.startsWith("dynamo-"));

/** The plan dyn renders for this size (the baseline takes its processes from it). */
function renderPlan(n, dir) {
  const runs = join(dir, "render");
  execFileSync(
    process.execPath,
    [dynBin, "deploy", "--backend", "vllm", ...shapeArgs(n), "--dry-run", "--runs-dir", runs],
    { env, encoding: "utf8" },
  );
  const runDir = join(runs, runDirIn(runs));
  return JSON.parse(readFileSync(join(runDir, "plan.json"), "utf8"));
}

/** The frontend's port as an offset in the job's window (plan.json: {kind: "offset", offset}). */
function frontendOffset(plan) {
  const p = plan.frontend.port;
  if (p.kind !== "offset")
    throw new Error(`the frontend's port is ${JSON.stringify(p)}, not in the port window`);
  return p.offset;
}

// ---- the hand-written baseline ----

/** One word of a plan command as a bash word: literal parts single-quoted, placeholders expanded. */
function bashWord(word) {
  return word
    .split(/(\$\{[A-Z0-9_]+\}|\{port\+\d+\})/)
    .filter((p) => p !== "")
    .map((p) => {
      const port = /^\{port\+(\d+)\}$/.exec(p);
      if (port) return `"$((B+${port[1]}))"`;
      if (/^\$\{[A-Z0-9_]+\}$/.test(p)) return `"${p}"`;
      return `'${p.replaceAll("'", `'\\''`)}'`;
    })
    .join("");
}

/**
 * The same processes as the plan, each its own `srun --overlap` step, all started at once in the
 * background with no checks (no node setup, no port window, no preflight, no waits for etcd/NATS).
 */
export function baselineScript(plan, dir) {
  const lines = plan.processes.map((p) => {
    const hosts = p.nodes.map((k) => `\${H[${k}]}`).join(",");
    const gpus = p.gpus.length > 0 ? ` --gpus-per-node=${plan.gpusPerNode}` : "";
    const envWords = Object.entries(p.env).map(([k, v]) => bashWord(`${k}=${v}`));
    return `srun --overlap -N${p.nodes.length} -n${p.nodes.length} --ntasks-per-node=1 -w "${hosts}"${gpus} --output=$LOGS/${p.id}.log env ${envWords.join(" ")} ${p.command.map(bashWord).join(" ")} </dev/null &`;
  });
  const ips = Array.from({ length: plan.nodes }, (_, k) => `DYN_NODE_IP_${k}=\${IP[${k}]}`).join(" ");
  return `#!/bin/bash
#SBATCH --nodes=${plan.nodes} --ntasks-per-node=1 --gpus-per-node=${plan.gpusPerNode} --output=${dir}/base-%j.out
echo "$EPOCHREALTIME" >${dir}/base-start-$SLURM_JOB_ID
B=$((30000 + SLURM_JOB_ID % 250 * 100))
mapfile -t H < <(scontrol show hostnames "$SLURM_JOB_NODELIST")
mapfile -t IP < <(getent ahostsv4 "\${H[@]}" | awk '$2 == "STREAM" {print $1}')
${ips}
DYN_INFRA_ID=base-$SLURM_JOB_ID DYN_SCRATCH=/tmp/base-$SLURM_JOB_ID DYN_RUN_DIR=${dir}/base-$SLURM_JOB_ID
LOGS=$DYN_RUN_DIR/logs
mkdir -p $LOGS $DYN_SCRATCH
printf 'max_payload: 16777216\\n' >$DYN_RUN_DIR/nats.conf
DYN_ETCD_ENDPOINTS=http://$DYN_NODE_IP_0:$B DYN_NATS_SERVER=nats://$DYN_NODE_IP_0:$((B+2))
${lines.join("\n")}
echo "$EPOCHREALTIME" >${dir}/base-launched-$SLURM_JOB_ID
wait
`;
}

async function viaBaseline(plan, dir, script) {
  const sampler = memorySampler();
  const id = execFileSync("sbatch", ["--parsable", script], { env, encoding: "utf8" }).trim();
  try {
    const startFile = join(dir, `base-start-${id}`);
    const start = await until(
      "baseline job start",
      () => (existsSync(startFile) ? Number(readFileSync(startFile, "utf8")) * 1000 || undefined : undefined),
      60_000,
    );
    const ip = execFileSync("getent", ["hosts", "node1"], { encoding: "utf8" }).split(/\s+/)[0];
    const port = 30000 + (Number(id) % 250) * 100 + frontendOffset(plan);
    // A stand-in that gives up (e.g. etcd timing out on 2 overloaded cores) ends its step: the
    // baseline then never lists every worker, and nothing in it says so. A bounded wait.
    const listed = await healthListed(`http://${ip}:${port}/health`, plan.expected, baselineTimeoutMs, () => {
      if (!inQueue(id)) throw new Error(`baseline job ${id} ended before ready`);
    });
    const mem = await sampler.stop();
    const launched = Number(readFileSync(join(dir, `base-launched-${id}`), "utf8")) * 1000 - start;
    await cancel(id);
    return { job: id, listed: listed - start, launched, mem, steps: await stepLaunches(id) };
  } catch (e) {
    await sampler.stop();
    await cancel(id);
    throw e;
  }
}

// ---- dyn ----

const readEvents = (status) => (existsSync(status) ? parseStatusLines(readFileSync(status, "utf8")) : []);

async function viaDyn(plan, n, dir, extra = []) {
  const runs = mkdtempSync(join(dir, "dyn-"));
  const sampler = memorySampler();
  const cli = run(
    process.execPath,
    [
      dynBin,
      "deploy",
      "--backend",
      "vllm",
      ...shapeArgs(n),
      ...extra,
      "--wait",
      "--timeout",
      "600",
      "--json",
      "--runs-dir",
      runs,
    ],
    { timeoutMs: 660_000 },
  );
  let jobId;
  try {
    const status = await until(
      "the run directory",
      () => {
        const d = runDirIn(runs);
        return d ? join(runs, d, "status.jsonl") : undefined;
      },
      60_000,
    );
    // The frontend's address from the status file (node 0's IP, the port window chosen in the job).
    const url = await until(
      "dyn's ports and node events",
      () => {
        const ev = readEvents(status);
        if (ev.some((e) => e.event === "failed")) throw new Error(`dyn failed: ${JSON.stringify(ev.at(-1))}`);
        jobId ??= ev.find((e) => e.event === "job-started")?.job;
        const ports = ev.find((e) => e.event === "ports");
        const node0 = ev.find((e) => e.event === "node" && e.index === 0);
        return ports && node0 ? `http://${node0.ip}:${ports.base + frontendOffset(plan)}/health` : undefined;
      },
      120_000,
    );
    const listed = await healthListed(url, plan.expected, 600_000, () => {
      const failed = readEvents(status).find((e) => e.event === "failed");
      if (failed) throw new Error(`dyn failed: ${failed.component}: ${failed.message}`);
    });
    const mem = await sampler.stop();
    const r = await cli;
    if (r.code !== 0) throw new Error(`dyn deploy exited ${r.code}: ${r.stderr}`);
    jobId = JSON.parse(r.stdout).jobId ?? jobId;
    const ev = readEvents(status);
    await cancel(String(jobId));
    return { job: String(jobId), ...timeline(ev, listed), mem, steps: await stepLaunches(String(jobId)) };
  } catch (e) {
    await sampler.stop();
    if (jobId) await cancel(String(jobId));
    throw e;
  }
}

/** dyn's in-job timeline in ms from job-started. */
function timeline(ev, listedAt) {
  const t0 = ev.find((e) => e.event === "job-started").t * 1000;
  const at = (pred, pick = "last") => {
    const xs = ev.filter(pred);
    const e = pick === "first" ? xs[0] : xs.at(-1);
    return e ? e.t * 1000 - t0 : undefined;
  };
  const started = ev.filter((e) => e.event === "started");
  const workers = started.filter((e) => !["etcd", "nats"].includes(e.step) && !e.step.startsWith("frontend"));
  const spacing =
    workers.length > 1 ? ((workers.at(-1).t - workers[0].t) * 1000) / (workers.length - 1) : undefined;
  // A role is registered when the progress line shows c=n/n for it.
  const full = (c) => (e) =>
    e.event === "progress" && new RegExp(`\\b${c}=(\\d+)/\\1\\b`).test(e.registered ?? "");
  return {
    nodesDone: at((e) => e.event === "node"),
    ports: at((e) => e.event === "ports"),
    preflight: at((e) => e.event === "preflight-ok"),
    infraUp: at((e) => e.event === "infra-up"),
    firstWorker: workers[0] ? workers[0].t * 1000 - t0 : undefined,
    lastStarted: at((e) => e.event === "started"),
    spacing,
    // The watcher exits on the poll that sees every role complete, without a last progress line:
    // a role that never showed n/n there completed with the outside poll's listing.
    prefillRegistered: at(full("prefill"), "first") ?? listedAt - t0,
    decodeRegistered: at(full("backend"), "first") ?? listedAt - t0,
    smoke: at((e) => e.event === "smoke"),
    ready: at((e) => e.event === "ready"),
    listed: listedAt - t0,
  };
}

// ---- the session ----

async function size(n, pairs) {
  const dir = mkdtempSync(`/tmp/dyn-bench-scale-${n}-`);
  if (!noUp) {
    console.error(`[scale] TB_NODES=${n} bash testbed/up.sh …`);
    const up = spawnSync("bash", [join(repo, "testbed/up.sh")], {
      env: { ...process.env, TB_NODES: `${n}` },
      encoding: "utf8",
      timeout: 600_000,
    });
    writeFileSync(join(dir, "up.log"), up.stdout + up.stderr);
    if (up.status !== 0) throw new Error(`up.sh failed (${join(dir, "up.log")})`);
  }
  const plan = renderPlan(n, dir);
  const script = join(dir, "baseline.sbatch");
  writeFileSync(script, baselineScript(plan, dir));
  const processes = plan.processes.length;
  const dyn = [];
  const base = [];
  const perProcess = [];
  const loads = [];
  const failures = [];
  for (let i = 0; i < pairs; i++) {
    loads.push(loadavg());
    console.error(`[scale] ${n} nodes, pair ${i + 1}/${pairs}: dyn (load ${loads.at(-1)})`);
    dyn.push(await attempt("dyn", () => viaDyn(plan, n, dir), failures));
    console.error(
      `[scale]   dyn listed ${(dyn.at(-1).listed / 1000).toFixed(2)} s; baseline (load ${loadavg()})`,
    );
    base.push(await attempt("baseline", () => viaBaseline(plan, dir, script), failures));
    console.error(`[scale]   baseline listed ${(base.at(-1).listed / 1000).toFixed(2)} s`);
    if (compareLaunch) {
      perProcess.push(
        await attempt("dyn per-process", () => viaDyn(plan, n, dir, ["--launch", "per-process"]), failures),
      );
      console.error(
        `[scale]   dyn --launch per-process listed ${(perProcess.at(-1).listed / 1000).toFixed(2)} s`,
      );
    }
  }
  loads.push(loadavg());
  return {
    nodes: n,
    shape,
    failures,
    processes,
    workers: Object.values(plan.expected).reduce((a, b) => a + b, 0),
    pairs,
    dyn,
    base,
    perProcess,
    loads,
    dir,
  };
}

const sec = (x) => (x === undefined ? "–" : (x / 1000).toFixed(2));
const spread = (xs) => {
  const s = summarize(xs.filter((x) => x !== undefined));
  return s.n > 1 ? `${sec(s.median)} (${sec(s.min)}–${sec(s.max)})` : sec(s.median);
};
const mb = (b) => (b / 2 ** 20).toFixed(0);

export function formatScale(results) {
  const head = `| from job start, s: median (min–max) | ${results.map((r) => `${r.nodes} nodes, ${r.workers} workers (${r.pairs}+${r.pairs} runs)`).join(" | ")} |`;
  const rows = [
    ["dyn: node setup done (node events)", (r) => spread(r.dyn.map((d) => d.nodesDone))],
    ["dyn: preflight ok", (r) => spread(r.dyn.map((d) => d.preflight))],
    ["dyn: etcd and NATS up (infra-up)", (r) => spread(r.dyn.map((d) => d.infraUp))],
    ["dyn: first worker step launched", (r) => spread(r.dyn.map((d) => d.firstWorker))],
    ["dyn: last step launched", (r) => spread(r.dyn.map((d) => d.lastStarted))],
    [
      "dyn: ms between worker launches",
      (r) => spread(r.dyn.map((d) => d.spacing * 1000)).replace(/\.\d\d/g, ""),
    ],
    ["dyn: all prefill registered", (r) => spread(r.dyn.map((d) => d.prefillRegistered))],
    ["dyn: all decode registered", (r) => spread(r.dyn.map((d) => d.decodeRegistered))],
    ["dyn: /health lists every worker (outside poll)", (r) => spread(r.dyn.map((d) => d.listed))],
    ["dyn: READY (after the smoke request)", (r) => spread(r.dyn.map((d) => d.ready))],
    ["baseline: last srun forked (all in the background)", (r) => spread(r.base.map((d) => d.launched))],
    ["baseline: /health lists every worker (outside poll)", (r) => spread(r.base.map((d) => d.listed))],
    [
      "**dyn overhead** (pairwise, listed − listed)",
      (r) => spread(r.dyn.map((d, i) => d.listed - r.base[i].listed)),
    ],
    [
      "dyn overhead to READY (pairwise, ready − listed)",
      (r) => spread(r.dyn.map((d, i) => d.ready - r.base[i].listed)),
    ],
    ...(results.some((r) => r.perProcess?.length)
      ? [
          [
            "dyn --launch per-process: /health lists every worker",
            (r) => spread((r.perProcess ?? []).map((d) => d.listed)),
          ],
          [
            "dyn --launch per-process: last step launched",
            (r) => spread((r.perProcess ?? []).map((d) => d.lastStarted)),
          ],
          [
            "**dyn per-process overhead** (pairwise, listed − listed)",
            (r) => spread((r.perProcess ?? []).map((d, i) => d.listed - r.base[i].listed)),
          ],
          [
            "srun launches / batch host peak RSS MB / srun clients MB (count): per-process",
            (r) => {
              const d = r.perProcess?.at(-1);
              return d ? `${d.steps} / ${mb(d.mem.total)} / ${mb(d.mem.srun)} (${d.mem.sruns})` : "–";
            },
          ],
        ]
      : []),
    ["srun step launches: dyn / baseline", (r) => `${r.dyn[0].steps} / ${r.base[0].steps}`],
    [
      "batch host peak RSS, MB: dyn / baseline",
      (r) =>
        `${mb(summarize(r.dyn.map((d) => d.mem.total)).median)} / ${mb(summarize(r.base.map((d) => d.mem.total)).median)}`,
    ],
    [
      "… of it srun clients, MB (count): dyn / baseline",
      (r) => {
        const d = r.dyn.at(-1).mem;
        const b = r.base.at(-1).mem;
        return `${mb(d.srun)} (${d.sruns}) / ${mb(b.srun)} (${b.sruns})`;
      },
    ],
    ["failed attempts (retried)", (r) => `${r.failures.length}`],
    ["load average before each pair (1 min)", (r) => r.loads.map((l) => l.split(" ")[0]).join(", ")],
  ];
  return [
    head,
    `|---|${results.map(() => "---:").join("|")}|`,
    ...rows.map(([name, f]) => `| ${name} | ${results.map(f).join(" | ")} |`),
  ].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const results = [];
  for (const [i, n] of sizes.entries()) {
    try {
      results.push(await size(n, pairsFor[i] ?? pairsFor.at(-1)));
    } catch (e) {
      console.error(`[scale] ${n} nodes failed: ${e.message}`);
    }
    if (jsonOut) {
      mkdirSync(join(jsonOut, ".."), { recursive: true });
      writeFileSync(jsonOut, JSON.stringify(results, null, 2));
    }
  }
  if (results.length > 0) console.log(formatScale(results));
}
