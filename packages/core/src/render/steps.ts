/** srun command lines: one per planned step, each with explicit nodes, tasks, nodelist and log. */
import type { Plan, PlannedStep } from "../plan.js";
import { shellQuote } from "../quote.js";
import { type Arg, join, renderArg, variable } from "../word.js";

const nodeName = (k: number) => variable(`DYN_HOST_${k}`);

/** Where the container keeps the model cache (HF_HOME inside pyxis containers). */
export const CONTAINER_HF_HOME = "/root/.cache/huggingface";

/** --nodelist value: the step's node names joined by commas. */
export function nodelist(nodes: readonly number[]): Arg {
  const pieces: Arg[] = [];
  nodes.forEach((n, i) => {
    if (i > 0) pieces.push(",");
    pieces.push(nodeName(n));
  });
  return join(...pieces);
}

/** pyxis flags shared by every containerised step; empty without a container. */
export function containerFlags(plan: Plan, cwd?: string): Arg[] {
  const c = plan.spec.container;
  if (c.kind !== "pyxis") return [];
  const mounts = [join(variable("DYN_HF_CACHE"), `:${CONTAINER_HF_HOME}`), ...c.mounts];
  const mountArg: Arg[] = ["--container-mounts="];
  for (const [i, m] of mounts.entries()) mountArg.push(...(i > 0 ? [",", m] : [m]));
  const flags: Arg[] = [
    join("--container-image=", c.image),
    // Scoped by job id: a name shared across jobs would reuse a stale container (pyxis#28).
    join("--container-name=dyn-", variable("SLURM_JOB_ID")),
    join(...mountArg),
  ];
  if (!c.mountHome) flags.push("--no-container-mount-home");
  if (!c.entrypoint) flags.push("--no-container-entrypoint");
  const workdir = cwd ?? c.workdir;
  if (workdir) flags.push(join("--container-workdir=", workdir));
  const forced = [...new Set([...plan.spec.secrets, ...c.env])];
  if (forced.length > 0) flags.push(`--container-env=${forced.join(",")}`);
  return flags;
}

function gpuFlags(plan: Plan, step: PlannedStep): Arg[] {
  if (step.gpus.length === 0) return [];
  const s = plan.spec.slurm;
  const type = s.gpuType ? `${s.gpuType}:` : "";
  // --overlap steps share GRES; each GPU step asks for the node's GPUs and narrows with
  // CUDA_VISIBLE_DEVICES (set in the plan when it uses part of the node).
  if (s.gpuRequest === "gpus-per-node") return [`--gpus-per-node=${type}${plan.gpusPerNode}`];
  if (s.gpuRequest === "gres") return [`--gres=gpu:${type}${plan.gpusPerNode}`];
  return [];
}

/** One step's command as quoted shell words, grouped for layout: srun options, env, the process. */
export interface StepWords {
  readonly srun: string[];
  readonly env: string[];
  readonly argv: string[];
}

export function stepWords(plan: Plan, step: PlannedStep): StepWords {
  const tasks = step.nodes.length * step.tasksPerNode;
  const words: Arg[] = [
    "srun",
    "--overlap",
    `--nodes=${step.nodes.length}`,
    `--ntasks=${tasks}`,
    `--ntasks-per-node=${step.tasksPerNode}`,
    join("--nodelist=", nodelist(step.nodes)),
    `--job-name=${step.id}`,
    join("--output=", variable("DYN_RUN_DIR"), `/${step.log}`),
  ];
  if (tasks > 1) words.push("--label", "--kill-on-bad-exit=1");
  if (step.mpi && plan.spec.slurm.mpi) words.push(`--mpi=${plan.spec.slurm.mpi}`);
  words.push(...gpuFlags(plan, step));
  const container = plan.spec.container;
  words.push(...containerFlags(plan, step.cwd));
  if (container.kind === "none" && step.cwd) words.push(join("--chdir=", step.cwd));
  const proc = processWords(plan, step);
  return { srun: words.map(renderArg), env: proc.env.map(renderArg), argv: proc.argv.map(renderArg) };
}

/** `env K=V ... [bash -c setup] argv...`: the env prefix sets values inside the container too. */
function processWords(plan: Plan, step: PlannedStep): { env: Arg[]; argv: Arg[] } {
  const env: Record<string, Arg> = { ...step.env };
  if (step.role !== "etcd" && step.role !== "nats") {
    env.HF_HOME = plan.spec.container.kind === "pyxis" ? CONTAINER_HF_HOME : variable("DYN_HF_CACHE");
  }
  const argv: Arg[] = [];
  const setup = plan.spec.container.kind === "none" ? plan.spec.container.setup : undefined;
  if (setup) argv.push("bash", "-c", `${setup}\nexec "$@"`, step.id);
  argv.push(...step.argv);
  return { env: ["env", ...Object.entries(env).map(([k, v]) => join(`${k}=`, v))], argv };
}

/** Lines that write a step's files (e.g. nats.conf) into the run directory before it starts. */
export function fileLines(step: PlannedStep): string[] {
  return Object.entries(step.files ?? {}).map(
    ([path, content]) => `printf '%s' ${shellQuote(content)} >"$DYN_RUN_DIR"/${shellQuote(path)}`,
  );
}
