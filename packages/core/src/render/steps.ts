/** srun command lines: one per planned step, each with explicit nodes, tasks, nodelist and log. */
import { isInfraStep, type Plan, type PlannedStep } from "../plan.js";
import { shellQuote } from "../quote.js";
import { hostVar } from "../runtime-vars.js";
import type { ContainerSpec } from "../spec.js";
import { type Arg, join, renderArg, variable } from "../word.js";
import { componentOf, containerAt, hetGroupFlag } from "./hetjob.js";

/** Where the container keeps the model cache (HF_HOME inside pyxis containers). */
export const CONTAINER_HF_HOME = "/root/.cache/huggingface";

/**
 * The two containers of a pyxis deployment (shared/reference/real-pyxis.md for the behaviour):
 *  - `services`: frontends and workers, on every node: user mounts, the model cache and the run
 *    directory at its own path;
 *  - `infra`: etcd and NATS on the infra node: user mounts, the run directory (nats.conf) and the
 *    node-local scratch (their data) at its own path.
 * dyn's mounts come after the user's, so a user mount (say /tmp:/tmp:ro) can never hide them. With
 * preload each is a named container (job-scoped name, created once per node before any service
 * starts, which later steps join); the two names keep steps that need different mounts from
 * joining a container without them (a joining step's own mounts are ignored). Without preload the
 * steps are unnamed: each imports the image itself, so no two steps race to create one container.
 */
export type ContainerRole = "services" | "infra";

/** The shell array each container's pyxis flags are rendered into, once. */
export const CONTAINER_ARRAY: Readonly<Record<ContainerRole, string>> = {
  services: "DYN_CONTAINER",
  infra: "DYN_CONTAINER_INFRA",
};

/** The shell array of component k's services container (k > 0 in a heterogeneous job). */
export const hetContainerArray = (k: number) => `DYN_CONTAINER_HET${k}`;

/**
 * The pyxis flags of one container; `component` > 0: a later component's services container, from
 * its own container settings, named apart from component 0's.
 */
export function containerFlags(
  plan: Plan,
  role: ContainerRole,
  component?: { readonly index: number; readonly container: ContainerSpec },
): Arg[] {
  const c = component?.container ?? plan.spec.container;
  if (c.kind !== "pyxis") return [];
  if (role === "infra" && c.infra === "host") return [];
  const runDir = variable("DYN_RUN_DIR");
  const own =
    role === "services"
      ? [join(variable("DYN_HF_CACHE"), `:${CONTAINER_HF_HOME}`), join(runDir, ":", runDir)]
      : [join(runDir, ":", runDir), join(variable("DYN_SCRATCH"), ":", variable("DYN_SCRATCH"))];
  const mounts = [...c.mounts, ...own];
  const mountArg: Arg[] = ["--container-mounts="];
  for (const [i, m] of mounts.entries()) mountArg.push(...(i > 0 ? [",", m] : [m]));
  const flags: Arg[] = [join("--container-image=", c.image)];
  // Scoped by job id: a name shared across jobs would reuse a stale container (pyxis#28).
  if (c.preload)
    flags.push(
      join(
        "--container-name=dyn-",
        variable("SLURM_JOB_ID"),
        role === "infra" ? "-infra" : component && component.index > 0 ? `-het${component.index}` : "",
      ),
    );
  flags.push(join(...mountArg));
  if (!c.mountHome) flags.push("--no-container-mount-home");
  if (!c.entrypoint) flags.push("--no-container-entrypoint");
  if (c.writable) flags.push("--container-writable");
  if (c.remapRoot) flags.push("--container-remap-root");
  return flags;
}

/** The shell array a step's pyxis flags live in (rendered once each), or undefined without a container. */
export function containerArrayName(
  plan: Plan,
  step: { readonly role: string; readonly nodes: readonly number[] },
): string | undefined {
  const k = componentOf(plan, step.nodes[0] as number)?.index ?? 0;
  if (k > 0)
    return containerAt(plan, step.nodes[0] as number).kind === "pyxis" ? hetContainerArray(k) : undefined;
  const c = plan.spec.container;
  if (c.kind !== "pyxis") return undefined;
  if (!isInfraStep(step)) return CONTAINER_ARRAY.services;
  return c.infra === "host" ? undefined : CONTAINER_ARRAY.infra;
}

/**
 * `--container-env` for the Dynamo processes: the secrets and the user's forced names. Not given to
 * etcd and NATS, which need none of them (least privilege: a secret reaches only what uses it).
 */
function containerEnvFlag(plan: Plan, step: PlannedStep): string | undefined {
  const c = containerAt(plan, step.nodes[0] as number);
  if (c.kind !== "pyxis" || isInfraStep(step)) return undefined;
  const forced = [...new Set([...plan.spec.secrets, ...c.env])];
  return forced.length > 0 ? `--container-env=${forced.join(",")}` : undefined;
}

function gpuFlags(
  plan: Plan,
  step: { readonly gpus: readonly number[]; readonly nodes?: readonly number[] },
): Arg[] {
  if (step.gpus.length === 0) return [];
  const s = plan.spec.slurm;
  // A heterogeneous job's component has its own GPUs per node and type.
  const own = step.nodes ? componentOf(plan, step.nodes[0] as number) : undefined;
  const gpuType = own ? own.gpuType : s.gpuType;
  const gpn = own ? own.gpusPerNode : plan.gpusPerNode;
  const type = gpuType ? `${gpuType}:` : "";
  // --overlap steps share GRES; each GPU step asks for the node's GPUs and narrows with
  // CUDA_VISIBLE_DEVICES (set in the plan when it uses part of the node).
  if (s.gpuRequest === "gpus-per-node") return [`--gpus-per-node=${type}${gpn}`];
  if (s.gpuRequest === "gres") return [`--gres=gpu:${type}${gpn}`];
  return [];
}

/**
 * One step's command after `dyn_step <id>`, as shell words: its own srun options (dyn_step adds
 * --overlap, the job name and the log; "${DYN_CONTAINER[@]}" the shared pyxis flags), then `env` and
 * its entries, then the wrapper; then the process argv. Head word i is `pres[i] + rests[i]`: a literal
 * prefix the shell reads as it is (`--nodes=`, `K=`; often empty) and the rest, itself a whole shell
 * word, so a step template can keep the prefix and take the rest as an argument. The argv stays as
 * the plan's Args: a template renders the words all its steps share once. `entriesAt` is the first
 * `K=` entry, `argvAt` the wrapper's `bash`, `idAt` the wrapper's step id ($0).
 */
export interface StepText {
  readonly pres: string[];
  readonly rests: string[];
  readonly envAt: number;
  readonly entriesAt: number;
  readonly argvAt: number;
  readonly idAt: number;
  readonly argv: readonly Arg[];
}

// Prefixes recur in every step: each is one string, so comparing and joining them allocates nothing.
const envPrefixes = new Map<string, string>();
function envPrefix(name: string): string {
  let text = envPrefixes.get(name);
  if (text === undefined) {
    text = `${name}=`;
    envPrefixes.set(name, text);
  }
  return text;
}

export function stepText(plan: Plan, step: PlannedStep): StepText {
  if (!logsToId(step)) {
    // dyn_step derives the log path from the id; a plan that says otherwise would be misreported.
    throw new TypeError(`step ${step.id} logs to ${step.log}, not logs/${step.id}.log`);
  }
  const pres: string[] = [];
  const rests: string[] = [];
  const add = (prefix: string, rest: string) => {
    pres.push(prefix);
    rests.push(rest);
  };
  const tasks = step.nodes.length * step.tasksPerNode;
  const het = hetGroupFlag(plan, step.nodes[0] as number);
  if (het) add("", het);
  // Numbers render as themselves (renderArg would return them unchanged).
  add("--nodes=", String(step.nodes.length));
  add("--ntasks=", String(tasks));
  add("--ntasks-per-node=", String(step.tasksPerNode));
  add("--nodelist=", renderNodelist(step.nodes));
  if (tasks > 1) {
    add("", "--label");
    add("", "--kill-on-bad-exit=1");
  }
  if (step.mpi && plan.spec.slurm.mpi) add("", renderArg(`--mpi=${plan.spec.slurm.mpi}`));
  if (step.gpus.length > 0) {
    // A heterogeneous job's component has its own GPUs per node and type: not the cached flag.
    const flag = plan.components ? gpuFlags(plan, step).map(renderArg)[0] : renderedGpuFlag(plan);
    if (flag !== undefined) add("", flag);
  }
  const c = containerAt(plan, step.nodes[0] as number);
  const array = containerArrayName(plan, step);
  if (c.kind === "pyxis" && array) {
    add("", `"\${${array}[@]}"`);
    const forced = containerEnvFlag(plan, step);
    if (forced) add("", renderArg(forced));
    const workdir = step.cwd ?? c.workdir;
    if (workdir) add("", renderArg(join("--container-workdir=", workdir)));
  } else if (step.cwd) {
    add("", renderArg(join("--chdir=", step.cwd)));
  }
  const envAt = pres.length;
  add("", "env");
  // etcd and NATS use no secret: they start without any (the job environment has them all).
  if (isInfraStep(step)) add("", '"${DYN_UNSET[@]}"');
  const entriesAt = pres.length;
  // Names are validated identifiers: `K=` is a literal prefix, the value a whole word.
  addEnv(plan, step, pres, rests);
  const argvAt = pres.length;
  // Every process starts through bash: a command missing on the node or in the image exits 127
  // with a line naming it, the step and the node, instead of slurmstepd's bare execve error.
  const setup = c.kind === "none" ? c.setup : undefined;
  add("", "bash");
  add("", "-c");
  add("", setup ? shellQuote(`${setup}\n${EXEC_CHECK}`) : '"$DYN_EXEC"');
  const idAt = pres.length;
  add("", shellQuote(step.id));
  return { pres, rests, envAt, entriesAt, argvAt, idAt, argv: step.argv };
}

/**
 * What `bash -c … <step-id> <argv…>` runs ($0 is the step id), on the node, inside the container:
 *  1. GPUs: the plan numbers a process's GPUs 0..n-1 on its node (DYN_GPU_SLOTS); SLURM gave the job
 *     physical GPUs that need not start at 0 (a second job on the node gets 2,3 in the step's
 *     CUDA_VISIBLE_DEVICES where devices are not constrained by cgroups). Slot i becomes the i-th GPU
 *     of SLURM's list, so two jobs sharing a node never drive the same GPU; without a list from SLURM
 *     the slots are used as they are.
 *  2. The command must exist: otherwise exit 127 with a line naming it, the step and the node.
 */
export const EXEC_CHECK =
  'if [ -n "${DYN_GPU_SLOTS:-}" ]; then IFS=, read -ra g <<<"${CUDA_VISIBLE_DEVICES:-}"; IFS=, read -ra s <<<"$DYN_GPU_SLOTS"; v=""; for i in "${s[@]}"; do if [ "${#g[@]}" -eq 0 ]; then d=$i; else d=${g[$i]:-}; fi; [ -n "$d" ] || { printf "dyn: %s: GPU slot %s is not in the allocation (CUDA_VISIBLE_DEVICES=%s) on %s\\n" "$0" "$i" "${CUDA_VISIBLE_DEVICES:-}" "${HOSTNAME:-?}" >&2; exit 1; }; v+=${v:+,}$d; done; export CUDA_VISIBLE_DEVICES=$v; unset DYN_GPU_SLOTS; fi; ' +
  'command -v -- "$1" >/dev/null 2>&1 || { printf "dyn: %s: %s: command not found on %s (PATH=%s)\\n" "$0" "$1" "${HOSTNAME:-?}" "$PATH" >&2; exit 127; }; exec "$@"';

/**
 * The step's node names after `--nodelist=`, as renderArg renders nodelist(nodes) (the commas are
 * shell-safe, so they stay unquoted), without building the Word for every step.
 */
function renderNodelist(nodes: readonly number[]): string {
  if (nodes.length === 1) return hostName(nodes[0] as number);
  let text = "";
  for (let i = 0; i < nodes.length; i++) text += (i > 0 ? "," : "") + hostName(nodes[i] as number);
  return text;
}

/** `"${DYN_HOST_k}"`, rendered once per node index: every step names its nodes. */
function hostName(k: number): string {
  let text = hostNames[k];
  if (text === undefined) {
    text = renderArg(hostVar(k));
    hostNames[k] = text;
  }
  return text;
}
const hostNames: string[] = [];

/**
 * A step's `env` entries in order (`K=` prefix, rendered value), with the names `env` sets: the
 * plan's GPU indices are slots on the node, mapped onto SLURM's GPUs at start (EXEC_CHECK), so
 * CUDA_VISIBLE_DEVICES is DYN_GPU_SLOTS. Every service process also gets HF_HOME: in its place if
 * the plan's env sets it, else last (the order of `{ ...step.env, HF_HOME }`), without copying the env.
 */
function addEnv(plan: Plan, step: PlannedStep, pres: string[], rests: string[]): void {
  const hfHome: Arg | undefined = isInfraStep(step)
    ? undefined
    : containerAt(plan, step.nodes[0] as number).kind === "pyxis"
      ? CONTAINER_HF_HOME
      : variable("DYN_HF_CACHE");
  let hfHomeSet = false;
  const env = step.env;
  // for-in in Object.keys order, without a keys array per step (the env's own keys: a plain object).
  for (const k in env) {
    if (!Object.hasOwn(env, k)) continue;
    let name = k;
    let value = env[k] as Arg;
    if (k === "HF_HOME" && hfHome !== undefined) {
      value = hfHome;
      hfHomeSet = true;
    } else if (k === "CUDA_VISIBLE_DEVICES") name = "DYN_GPU_SLOTS";
    pres.push(envPrefix(name));
    rests.push(renderArg(value));
  }
  if (hfHome !== undefined && !hfHomeSet) {
    pres.push(envPrefix("HF_HOME"));
    rests.push(renderArg(hfHome));
  }
}

/** Whether the step logs to logs/<id>.log (compared without building that string). */
function logsToId(step: PlannedStep): boolean {
  const { log, id } = step;
  return (
    log.length === id.length + 9 && log.startsWith("logs/") && log.startsWith(id, 5) && log.endsWith(".log")
  );
}

/**
 * The GPU steps' srun flag (undefined: the plan asks for none), rendered once for as long as what it
 * is made of stays the same: every GPU step of a plan has the same one.
 */
function renderedGpuFlag(plan: Plan): string | undefined {
  const s = plan.spec.slurm;
  const c = gpuFlagCache;
  if (c.request !== s.gpuRequest || c.type !== s.gpuType || c.perNode !== plan.gpusPerNode) {
    const flags = gpuFlags(plan, { gpus: [0] });
    gpuFlagCache = {
      request: s.gpuRequest,
      type: s.gpuType,
      perNode: plan.gpusPerNode,
      text: flags.length > 0 ? renderArg(flags[0] as Arg) : undefined,
    };
  }
  return gpuFlagCache.text;
}
let gpuFlagCache: {
  request?: string;
  type?: string | undefined;
  perNode?: number;
  text?: string | undefined;
} = {};

/** Lines that write a step's files (e.g. nats.conf) into the run directory before it starts. */
export function fileLines(step: PlannedStep): string[] {
  return Object.entries(step.files ?? {}).map(
    ([path, content]) => `printf '%s' ${shellQuote(content)} >"$DYN_RUN_DIR"/${shellQuote(path)}`,
  );
}
