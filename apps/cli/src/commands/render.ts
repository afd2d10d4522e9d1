/** `dyn render`: the sbatch script on stdout, or written atomically with --out. */
import { isAbsolute, resolve } from "node:path";
import { DynError, renderScript } from "@dyn/core";
import type { Io } from "../io.js";
import { prepare } from "../prepare.js";
import { newRunDirPath, writeFileAtomic } from "../run-dir.js";

export const GENERATOR = "dyn (@dyn/cli)";

export async function run(flags: Record<string, unknown>, _args: string[], io: Io): Promise<number> {
  const { plan, runsDir, spec } = await prepare(flags, io);
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
  const runDir = given ?? newRunDirPath(runsDir, spec.slurm.jobName, io.now());
  const script = renderScript(plan, { runDir, generator: GENERATOR });
  const out = flags.out as string | undefined;
  if (out === undefined) {
    io.stdout(script);
    return 0;
  }
  const path = resolve(io.cwd, out);
  writeFileAtomic(path, script, 0o755);
  io.stderr(`wrote ${path} (run directory in the script: ${runDir})\n`);
  return 0;
}
