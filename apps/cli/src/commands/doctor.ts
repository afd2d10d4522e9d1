/**
 * `dyn doctor`: probe the cluster before a first deploy. sbatch/srun/squeue/scancel present, SLURM
 * version (srun --overlap needs ≥ 20.11), partitions with their nodes and GPUs (typed or untyped
 * GRES), pyxis (srun --help lists --container-image), the runs directory writable. Exit 1 when
 * something critical fails.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../config-file.js";
import { type Io, printJson, style } from "../io.js";
import { resolveRunsDir } from "../run-dir.js";
import type { Slurm } from "../slurm.js";

export interface Check {
  readonly name: string;
  readonly status: "ok" | "warn" | "fail";
  readonly critical: boolean;
  readonly detail: string;
}

export interface Partition {
  name: string;
  default: boolean;
  available: string;
  nodes: number;
  gpusPerNode: number;
  gpuTypes: string[];
  timeLimit: string;
}

/** `sinfo -h -o "%P|%a|%D|%G|%l"` rows → partitions (rows of one partition merged). */
export function parsePartitions(stdout: string): Partition[] {
  const byName = new Map<string, Partition>();
  for (const line of stdout.split("\n")) {
    if (line.trim() === "") continue;
    const [rawName = "", available = "", nodes = "0", gres = "", timeLimit = ""] = line.trim().split("|");
    const name = rawName.replace(/\*$/, "");
    const p =
      byName.get(name) ??
      ({
        name,
        default: rawName.endsWith("*"),
        available,
        nodes: 0,
        gpusPerNode: 0,
        gpuTypes: [],
        timeLimit,
      } as Partition);
    p.nodes += Number(nodes) || 0;
    for (const m of gres.matchAll(/gpu(?::([A-Za-z][\w.-]*))?:(\d+)/g)) {
      p.gpusPerNode = Math.max(p.gpusPerNode, Number(m[2]));
      if (m[1] && !p.gpuTypes.includes(m[1])) p.gpuTypes.push(m[1]);
    }
    byName.set(name, p);
  }
  return [...byName.values()];
}

export function versionAtLeast(version: string, major: number, minor: number): boolean {
  const m = /(\d+)\.(\d+)/.exec(version);
  if (!m) return true;
  const a = Number(m[1]);
  const b = Number(m[2]);
  return a > major || (a === major && b >= minor);
}

async function tool(slurm: Slurm, cmd: string, critical: boolean, why: string): Promise<Check> {
  const r = await slurm.probe(cmd, ["--version"]);
  if (!r.found)
    return { name: cmd, status: critical ? "fail" : "warn", critical, detail: `not found on PATH: ${why}` };
  return {
    name: cmd,
    status: "ok",
    critical,
    detail: (r.stdout.trim() || r.stderr.trim()).split("\n")[0] ?? "",
  };
}

export async function run(flags: Record<string, unknown>, _args: string[], io: Io): Promise<number> {
  const slurm = await io.slurm();
  const config = await loadConfig(io.cwd, flags.config as string | undefined);
  const wantsPyxis = (config?.spec.container as { kind?: string } | undefined)?.kind === "pyxis";
  const checks: Check[] = [];
  checks.push(await tool(slurm, "sbatch", true, "dyn deploy cannot submit (run dyn on a login node)"));
  checks.push(await tool(slurm, "srun", true, "the job script starts every process with srun"));
  checks.push(await tool(slurm, "squeue", false, "dyn status, list and --wait cannot see the queue"));
  checks.push(await tool(slurm, "scancel", false, "dyn stop cannot cancel jobs"));

  const sinfoVersion = await slurm.probe("sinfo", ["--version"]);
  if (!sinfoVersion.found) {
    checks.push({
      name: "slurm version",
      status: "warn",
      critical: false,
      detail: "sinfo not found: cannot read the SLURM version or partitions",
    });
  } else {
    const v = sinfoVersion.stdout.trim();
    const ok = versionAtLeast(v, 20, 11);
    checks.push({
      name: "slurm version",
      status: ok ? "ok" : "fail",
      critical: true,
      detail: ok ? v : `${v}: the script uses srun --overlap, which needs SLURM ≥ 20.11`,
    });
  }

  let partitions: Partition[] = [];
  if (sinfoVersion.found) {
    const r = await slurm.probe("sinfo", ["-h", "-o", "%P|%a|%D|%G|%l"]);
    partitions = r.code === 0 ? parsePartitions(r.stdout) : [];
    const gpu = partitions.filter((p) => p.gpusPerNode > 0);
    if (r.code !== 0)
      checks.push({
        name: "partitions",
        status: "warn",
        critical: false,
        detail: `sinfo failed: ${r.stderr.trim().split("\n")[0]}`,
      });
    else if (gpu.length === 0)
      checks.push({
        name: "partitions",
        status: "warn",
        critical: false,
        detail: `${partitions.length} partition(s), none with GPUs in GRES: use --gpu-request none (and --gpus-per-node for the real count)`,
      });
    else {
      const typed = gpu.some((p) => p.gpuTypes.length > 0);
      checks.push({
        name: "partitions",
        status: "ok",
        critical: false,
        detail: `${gpu.map((p) => `${p.name}${p.default ? "*" : ""} (${p.nodes} nodes × ${p.gpusPerNode} GPUs${p.gpuTypes.length ? ` ${p.gpuTypes.join("/")}` : ""})`).join(", ")}${typed ? "; typed GRES: --gpu-type may be required" : ""}`,
      });
    }
  }

  const help = await slurm.probe("srun", ["--help"]);
  const pyxis = help.found && /--container-image/.test(help.stdout + help.stderr);
  checks.push({
    name: "pyxis",
    status: pyxis ? "ok" : wantsPyxis ? "fail" : "warn",
    critical: wantsPyxis,
    detail: pyxis
      ? "srun --container-image is available"
      : "srun has no --container-image: --container will not work (use bare metal with --setup)",
  });

  const runsDir = resolveRunsDir(flags.runsDir as string | undefined, io.env, config?.runsDir, io.cwd);
  try {
    mkdirSync(runsDir, { recursive: true });
    const probe = join(runsDir, `.dyn-doctor-${process.pid}`);
    writeFileSync(probe, "ok");
    rmSync(probe);
    checks.push({
      name: "runs directory",
      status: "ok",
      critical: true,
      detail: `${runsDir} is writable (it must also be shared with the compute nodes)`,
    });
  } catch (err) {
    checks.push({
      name: "runs directory",
      status: "fail",
      critical: true,
      detail: `${runsDir}: ${(err as Error).message}`,
    });
  }

  const ok = !checks.some((c) => c.critical && c.status === "fail");
  if (flags.json) {
    printJson(io, { format: "dyn.doctor/v1", ok, checks, partitions });
  } else {
    const s = style(io);
    for (const c of checks) {
      const mark =
        c.status === "ok" ? s.green("ok  ") : c.status === "warn" ? s.yellow("warn") : s.red("FAIL");
      io.stdout(`${mark}  ${c.name.padEnd(15)} ${c.detail}\n`);
    }
    io.stdout(ok ? "ready for dyn deploy\n" : "some critical checks failed: dyn deploy will not work here\n");
  }
  return ok ? 0 : 1;
}
