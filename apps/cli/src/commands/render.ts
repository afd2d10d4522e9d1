/**
 * `dyn render`: the sbatch script on stdout, or written atomically with --out. It writes no run
 * directory: with --out it says where the script's run directory (and batch log directory) must be
 * created before sbatch, and a runs directory that cannot exist is refused before anything is written.
 */
import { existsSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { type DeploymentSpec, DynError, type Plan, renderScript } from "@dyn/core";
import type { Io } from "../io.js";
import { checkDirectory, outputDirectory } from "../paths.js";
import { prepare } from "../prepare.js";
import { newRunDirPath, writeFileAtomic } from "../run-dir.js";
import { loadSweep, notSweepFlags, selectPoint } from "../sweep.js";

export const GENERATOR = "dyn (@dyn/cli)";

export async function run(flags: Record<string, unknown>, _args: string[], io: Io): Promise<number> {
  // A sweep renders one point at a time (--point n); the script of each is what deploy would submit.
  const sweep = await loadSweep(flags, io);
  notSweepFlags(flags, sweep !== undefined);
  if (sweep && flags.point === undefined)
    throw new DynError(
      "DYN_USAGE",
      `--point: ${sweep.config.display} is a sweep of ${sweep.points.length} points (matrix:); render one of them with --point <n>`,
      { key: "--point", hint: `dyn plan -f ${sweep.config.display} lists the points` },
    );
  const point = sweep ? selectPoint(sweep, flags.point) : undefined;
  const { plan, runsDir, runsDirLabel, spec } = await prepare(flags, io, point ? { point } : {});
  const given = flags.runDir as string | undefined;
  if (given !== undefined && !isAbsolute(given)) {
    throw new DynError(
      "DYN_USAGE",
      `--run-dir: must be an absolute path (the nodes read it), got ${JSON.stringify(given)}`,
      {
        key: "--run-dir",
        hint: `e.g. --run-dir ${resolve(io.cwd, given)}`,
      },
    );
  }
  const label = given !== undefined ? "--run-dir" : runsDirLabel;
  checkDirectory(given ?? runsDir, label);
  const runDir = given ?? newRunDirPath(runsDir, spec.slurm.jobName, io.now());
  const script = renderLabelled(plan, runDir, label);
  const out = flags.out as string | undefined;
  if (out === undefined) {
    io.stdout(script);
    return 0;
  }
  const path = resolve(io.cwd, out);
  writeFileAtomic(path, script, 0o755);
  io.stderr(`wrote ${path} (run directory in the script: ${runDir})\n`);
  const missing = toCreate(runDir, spec);
  if (missing.length > 0)
    io.stderr(
      `sbatch needs ${missing.join(" and ")}, which do${missing.length > 1 ? "" : "es"} not exist yet: mkdir -p ${missing.join(" ")} before sbatch ${path}\n`,
    );
  return 0;
}

/** renderScript, with a run directory it refuses named by the flag or key that chose it. */
export function renderLabelled(plan: Plan, runDir: string, label: string): string {
  try {
    return renderScript(plan, { runDir, generator: GENERATOR });
  } catch (err) {
    if (DynError.is(err) && err.message.startsWith("run directory"))
      throw new DynError(err.code, `${label}: ${err.message}`, { key: label, hint: err.hint, cause: err });
    throw err;
  }
}

/**
 * The directories sbatch needs before it starts the script (the run directory it changes into, the
 * batch log's), each missing one named once: a log directory inside the run directory stands for both.
 */
function toCreate(runDir: string, spec: DeploymentSpec): string[] {
  const logDir = outputDirectory(spec.slurm.output, runDir);
  const inside = `${logDir}/`.startsWith(`${runDir}/`);
  const dirs = inside ? [logDir] : [runDir, logDir];
  return dirs.filter((d) => !existsSync(d));
}
