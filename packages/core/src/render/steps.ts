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

/**
 * pyxis flags every containerised step shares (rendered once, as the DYN_CONTAINER array); empty
 * without a container. The working directory is per step (see stepWords).
 */
export function containerFlags(plan: Plan): Arg[] {
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

/**
 * One step's command as quoted shell words: its own srun options (dyn_step adds --overlap, the job
 * name and the log; "${DYN_CONTAINER[@]}" the shared pyxis flags), its env entries as `K=V` words,
 * and the process argv.
 */
export interface StepWords {
  readonly srun: string[];
  readonly env: string[];
  readonly argv: string[];
}

export function stepWords(plan: Plan, step: PlannedStep): StepWords {
  if (step.log !== `logs/${step.id}.log`) {
    // dyn_step derives the log path from the id; a plan that says otherwise would be misreported.
    throw new TypeError(`step ${step.id} logs to ${step.log}, not logs/${step.id}.log`);
  }
  const tasks = step.nodes.length * step.tasksPerNode;
  const srun: Arg[] = [
    `--nodes=${step.nodes.length}`,
    `--ntasks=${tasks}`,
    `--ntasks-per-node=${step.tasksPerNode}`,
    join("--nodelist=", nodelist(step.nodes)),
  ];
  if (tasks > 1) srun.push("--label", "--kill-on-bad-exit=1");
  if (step.mpi && plan.spec.slurm.mpi) srun.push(`--mpi=${plan.spec.slurm.mpi}`);
  srun.push(...gpuFlags(plan, step));
  const c = plan.spec.container;
  const rendered = srun.map(renderArg);
  if (c.kind === "pyxis") {
    rendered.push('"${DYN_CONTAINER[@]}"');
    const workdir = step.cwd ?? c.workdir;
    if (workdir) rendered.push(renderArg(join("--container-workdir=", workdir)));
  } else if (step.cwd) {
    rendered.push(renderArg(join("--chdir=", step.cwd)));
  }
  const argv: Arg[] = [];
  const setup = c.kind === "none" ? c.setup : undefined;
  if (setup) argv.push("bash", "-c", `${setup}\nexec "$@"`, step.id);
  argv.push(...step.argv);
  return { srun: rendered, env: envWords(plan, step), argv: argv.map(renderArg) };
}

/** `K=V` words for `env`: the env prefix sets values inside the container too. Names are validated
 * identifiers, so only the value needs quoting. */
export function envWords(plan: Plan, step: PlannedStep): string[] {
  const env: Record<string, Arg> = { ...step.env };
  if (step.role !== "etcd" && step.role !== "nats") {
    env.HF_HOME = plan.spec.container.kind === "pyxis" ? CONTAINER_HF_HOME : variable("DYN_HF_CACHE");
  }
  return Object.entries(env).map(([k, v]) => `${k}=${renderArg(v)}`);
}

/** Lines that write a step's files (e.g. nats.conf) into the run directory before it starts. */
export function fileLines(step: PlannedStep): string[] {
  return Object.entries(step.files ?? {}).map(
    ([path, content]) => `printf '%s' ${shellQuote(content)} >"$DYN_RUN_DIR"/${shellQuote(path)}`,
  );
}
