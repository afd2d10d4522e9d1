/**
 * Stand-in SLURM commands on PATH: tiny sh scripts in a temporary bin directory, so a command runs
 * the real createSlurm() (real processes, real time limits) against faults a cluster can have.
 */
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { main } from "../src/index.js";
import { tmp } from "./helpers.js";
import { checkJson } from "./json-check.js";

/** A bin directory holding `commands` (name → sh body); returns the directory. */
export function stubBin(
  commands: Readonly<Record<string, string>>,
  dir = join(tmp("dyn-stub-"), "bin"),
): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, body] of Object.entries(commands)) {
    const p = join(dir, name);
    writeFileSync(p, `#!/bin/sh\n${body}\n`);
    chmodSync(p, 0o755);
  }
  return dir;
}

/** `echo` a text (single-quoted for sh). */
export const says = (text: string, code = 0) =>
  `printf '%s\\n' '${text.replace(/'/g, `'\\''`)}'${code === 0 ? "" : `\nexit ${code}`}`;

/** Print a text on stderr and exit 1. */
export const fails = (text: string) => `printf '%s\\n' '${text.replace(/'/g, `'\\''`)}' >&2\nexit 1`;

/** A healthy cluster's commands, as SLURM 22.05 prints them. */
export const HEALTHY: Readonly<Record<string, string>> = {
  sbatch: says("slurm 22.05.8"),
  srun: `case "$1" in --help) ${says("      --container-image=[USER@][REGISTRY#]IMAGE[:TAG]|PATH")} ;; *) ${says("slurm 22.05.8")} ;; esac`,
  squeue: says("slurm 22.05.8"),
  scancel: says("slurm 22.05.8"),
  scontrol: says("Slurmctld(primary) at slurmhead is UP"),
  sinfo: says("debug*|up|4|gpu:8|infinite"),
};

/**
 * Run dyn in-process with the real SLURM client and only `bin` on PATH (stubs run external tools by
 * absolute path, e.g. /bin/sleep), so a command not stubbed is not found.
 */
export async function runWithPath(
  argv: string[],
  bin: string,
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await main(argv, {
    cwd: opts.cwd ?? tmp(),
    env: { PATH: bin, ...opts.env },
    isTTY: false,
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
  });
  await checkJson(argv, { code, stdout });
  return { code, stdout, stderr };
}
