// Controller load: how many squeue/sacct calls `dyn status --watch` makes over a period, for 1 and
// for 20 jobs. SLURM's commands are replaced by shims on PATH that count their calls: sbatch hands
// out job ids (so `dyn deploy` records real run directories), squeue reports every asked job as
// RUNNING, sacct knows nothing. Target: one squeue call per poll, whatever the number of jobs.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const repo = join(import.meta.dirname, "..");
const bin = join(repo, "apps/cli/bin/dyn.js");

function shims(dir) {
  const write = (name, body) => {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, name), 0o755);
  };
  write(
    "sbatch",
    `n=$(cat "${dir}/next" 2>/dev/null || echo 1000); echo $((n + 1)) >"${dir}/next"; echo "$n"`,
  );
  // squeue -h -j a,b,c -o FORMAT (or --states=all -O FORMAT, which adds the exit code and ends each
  // field with "|"): one RUNNING line per asked job id, and one line in the call log
  write(
    "squeue",
    `echo "$*" >>"${dir}/squeue.calls"
tail=""
while [ $# -gt 0 ]; do [ "$1" = -j ] && ids=$2; [ "$1" = -O ] && tail="|0|"; shift; done
echo "$ids" | tr , '\\n' | while read -r id; do echo "$id|RUNNING|None|node1|dynamo|0:05$tail"; done`,
  );
  write("sacct", `echo "$*" >>"${dir}/sacct.calls"`);
}

async function watchFor(jobs, seconds) {
  const dir = mkdtempSync(join(tmpdir(), "dyn-bench-ctl-"));
  shims(dir);
  // Its own registry (XDG_STATE_HOME): the user's other deployments must not join the watch.
  const env = {
    ...process.env,
    PATH: `${dir}:${process.env.PATH}`,
    NO_COLOR: "1",
    XDG_STATE_HOME: join(dir, "state"),
  };
  const runs = join(dir, "runs");
  for (let i = 0; i < jobs; i++) {
    const r = spawnSync(process.execPath, [bin, "deploy", "--backend", "sglang", "--runs-dir", runs], {
      env,
    });
    if (r.status !== 0) throw new Error(`deploy failed: ${r.stderr}`);
  }
  const count = (f) => {
    try {
      return readFileSync(join(dir, f), "utf8").split("\n").filter(Boolean);
    } catch {
      return [];
    }
  };
  const before = count("squeue.calls").length; // deploy itself does not poll; keep the check honest
  const child = spawn(process.execPath, [bin, "status", "--watch", "--runs-dir", runs], {
    env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  // Listening from the start: a watch that ends by itself before the period is reported, not awaited forever.
  const closed = new Promise((r) => child.on("close", (code) => r(code)));
  let timer;
  const early = await Promise.race([
    closed,
    new Promise((r) => {
      timer = setTimeout(() => r(undefined), seconds * 1000);
    }),
  ]);
  clearTimeout(timer);
  if (early !== undefined)
    throw new Error(
      `dyn status --watch ended after less than ${seconds} s (exit ${early}): ${stderr.trim()}`,
    );
  child.kill("SIGINT");
  await closed;
  const squeue = count("squeue.calls").slice(before);
  const maxIds = Math.max(0, ...squeue.map((l) => (/-j (\S+)/.exec(l)?.[1] ?? "").split(",").length));
  return { jobs, seconds, squeue: squeue.length, sacct: count("sacct.calls").length, idsPerCall: maxIds };
}

export async function controllerLoad(seconds = 60) {
  return Promise.all([watchFor(1, seconds), watchFor(20, seconds)]);
}

export function formatControllerLoad(rows) {
  const lines = [
    "| jobs watched | period | squeue calls | sacct calls | job ids per squeue call |",
    "|---:|---:|---:|---:|---:|",
  ];
  for (const r of rows)
    lines.push(`| ${r.jobs} | ${r.seconds} s | ${r.squeue} | ${r.sacct} | ${r.idsPerCall} |`);
  return lines.join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`)
  console.log(formatControllerLoad(await controllerLoad(Number(process.argv[2] ?? 60))));
