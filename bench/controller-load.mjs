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
  // squeue -h -j a,b,c -o FORMAT: one RUNNING line per asked job id, and one line in the call log
  write(
    "squeue",
    `echo "$*" >>"${dir}/squeue.calls"
while [ $# -gt 0 ]; do [ "$1" = -j ] && ids=$2; shift; done
echo "$ids" | tr , '\\n' | while read -r id; do echo "$id|RUNNING|None|node1|dynamo|0:05"; done`,
  );
  write("sacct", `echo "$*" >>"${dir}/sacct.calls"`);
}

async function watchFor(jobs, seconds) {
  const dir = mkdtempSync(join(tmpdir(), "dyn-bench-ctl-"));
  shims(dir);
  const env = { ...process.env, PATH: `${dir}:${process.env.PATH}`, NO_COLOR: "1" };
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
    stdio: "ignore",
  });
  await new Promise((r) => setTimeout(r, seconds * 1000));
  child.kill("SIGINT");
  await new Promise((r) => child.on("close", r));
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
