/**
 * Plan → sbatch script text. The script is self-contained: `sbatch script.sh` runs the deployment,
 * records progress in <runDir>/status.jsonl, fails fast naming the component, and cleans up on
 * scancel or time limit. Sections: header, settings, runtime helpers, allocation check, node setup,
 * infra, services, readiness, supervision.
 */
import { DynError } from "../errors.js";
import { etcdEndpoint, natsServer } from "../infra.js";
import { isInfraStep, type Plan, type PlannedStep } from "../plan.js";
import { portBaseExpression } from "../ports.js";
import { shellQuote } from "../quote.js";
import { hostVar, nodeIpVar } from "../runtime-vars.js";
import { join, type PortRef, port, renderArg, renderPort } from "../word.js";
import { isDirectiveSafe, sbatchHeader } from "./header.js";
import {
  hetjobAllocation,
  hetjobContainerArrays,
  hetjobNodeWide,
  hetjobPreload,
  hetjobRuntime,
} from "./hetjob-script.js";
import { keepAliveLibrary, keepAliveReady, keepAliveSettings, keepAliveTick } from "./keepalive.js";
import { RUNTIME_LIBRARY } from "./runtime.js";
import {
  CONTAINER_ARRAY,
  CONTAINER_HF_HOME,
  type ContainerRole,
  containerFlags,
  EXEC_CHECK,
  stepText,
} from "./steps.js";
import { NO_SHARED_ENV, plainBlock, type StepEntry, sharedEnv, startLines } from "./templates.js";

export interface RenderOptions {
  /** Absolute run directory on a filesystem shared by the nodes: logs, status file, nats.conf. */
  readonly runDir: string;
  /** Shown in the script's banner comment. */
  readonly generator?: string;
  /** Seconds between TERM and KILL when stopping steps. */
  readonly graceSeconds?: number;
  /** Seconds to wait for etcd/NATS ports. */
  readonly infraTimeoutSeconds?: number;
  /**
   * The largest script the cluster accepts, in bytes (default SLURM's 4 MB, MAX_SCRIPT_BYTES). A
   * larger one throws DYN_PLAN_INVALID here instead of being refused by sbatch.
   */
  readonly maxScriptBytes?: number;
}

/**
 * SLURM's default limit on a batch script: slurm.conf(5), SchedulerParameters `max_script_size=#`:
 * "Specify the maximum size of a batch script, in bytes. The default value is 4 megabytes."
 * (Slurm 22.05 man page; slurmctld refuses a larger script at submission.)
 */
export const MAX_SCRIPT_BYTES = 4 * 1024 * 1024;

/** UTF-8 length without encoding the script: most of it is ASCII. */
function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c < 0xdc00) {
      bytes += 2; // a surrogate pair: 4 bytes for its 2 UTF-16 units
      i++;
    } else bytes += 2;
  }
  return bytes;
}

const mb = (bytes: number) => `${(bytes / (1024 * 1024)).toFixed(1)} MB`;

/** Refuse a script sbatch would refuse: naming its size, the limit and what to do. */
function checkScriptSize(script: string, plan: Plan, limit: number): void {
  // Each UTF-16 unit is 1 to 3 bytes: only a script between the bounds needs counting.
  if (script.length * 3 <= limit) return;
  const bytes = script.length > limit ? script.length : utf8Length(script);
  if (bytes <= limit) return;
  throw new DynError(
    "DYN_PLAN_INVALID",
    `the batch script for ${plan.steps.length} processes on ${plan.nodes} nodes would be ${mb(bytes)} (${bytes} bytes), over the ${mb(limit)} (${limit} bytes) limit on batch scripts (SLURM's SchedulerParameters=max_script_size)`,
    {
      key: "maxScriptBytes",
      hint: "split the deployment into several smaller jobs, or, if the cluster's slurm.conf sets a larger max_script_size, render with that limit (maxScriptBytes)",
    },
  );
}

export function renderScript(plan: Plan, options: RenderOptions): string {
  if (!options.runDir.startsWith("/") || !isDirectiveSafe(options.runDir)) {
    throw new DynError(
      "DYN_SPEC_INVALID",
      `run directory must be an absolute path without spaces or quotes: ${JSON.stringify(options.runDir)}`,
      {
        key: "--run-dir",
      },
    );
  }
  const spec = plan.spec;
  checkMounts(plan, options.runDir);
  const out: string[] = ["#!/usr/bin/env bash", ...sbatchHeader(plan, options.runDir)];
  const sections = [
    `# Dynamo ${plan.release.version} on SLURM, backend ${plan.backend}: ${summary(plan)}.`,
    `# Rendered by ${options.generator ?? "@dyn/core"}; the plan is plan.json in the run directory.`,
    "set -euo pipefail",
    "",
    "# ---- settings from the plan ----",
    `DYN_RUN_DIR=${shellQuote(options.runDir)}`,
    ...keepAliveSettings(spec),
    'DYN_STATUS="$DYN_RUN_DIR/status.jsonl"',
    `DYN_PORT_BASE=${portBaseExpression(spec.ports.base, spec.ports.slot, spec.ports.slots)}`,
    // Node-local scratch (etcd and NATS data) unique to this run: job ids repeat when a cluster's
    // state is reset, and etcd would restore a stale data dir's registrations.
    'DYN_SCRATCH="${TMPDIR:-/tmp}/dyn-${SLURM_JOB_ID}-${RANDOM}${RANDOM}"',
    `DYN_HF_CACHE=${spec.hfCache ? shellQuote(spec.hfCache) : '"$HOME/.cache/huggingface"'}`,
    `DYN_GRACE=${options.graceSeconds ?? 10}`,
    `DYN_IFACE=${shellQuote(spec.network.interface ?? "")}`,
    "export DYN_RUN_DIR DYN_PORT_BASE DYN_SCRATCH DYN_HF_CACHE",
    ...containerArray(plan, "services"),
    ...containerArray(plan, "infra"),
    ...hetjobContainerArrays(plan),
    ...(spec.container.kind === "none" && spec.container.setup && !plan.components
      ? [] // each step's setup wrapper carries the check itself
      : [
          "# shellcheck disable=SC2016 # expanded by the bash that starts each process",
          `DYN_EXEC=${shellQuote(EXEC_CHECK)}`,
        ]),
    // This run's etcd/NATS identity (exported: the identity check and the steps may read it).
    'DYN_INFRA_ID="dyn-${SLURM_JOB_ID}-${RANDOM}${RANDOM}"',
    "export DYN_INFRA_ID",
    // Secrets by name: the helpers and etcd/NATS start with these removed from their environment.
    `DYN_UNSET=(${spec.secrets.map((n) => `-u ${n}`).join(" ")})`,
    'mkdir -p "$DYN_RUN_DIR/logs"',
    // A requeued attempt appends to the step logs (srun would truncate them) and says where it starts.
    ...(spec.slurm.requeue
      ? [
          '[ "${SLURM_RESTART_COUNT:-0}" = 0 ] || for f in "$DYN_RUN_DIR"/logs/*.log; do [ ! -e "$f" ] || printf \'\\n==== dyn: attempt %s ====\\n\' "$((SLURM_RESTART_COUNT + 1))" >>"$f"; done',
        ]
      : []),
    // The infra node's scratch is mounted into the etcd/NATS container: it must exist first.
    '(umask 077 && mkdir -p "$DYN_SCRATCH")',
    "",
    RUNTIME_LIBRARY,
    ...keepAliveLibrary(spec),
    ...hetjobRuntime(plan),
  ];
  // One join over all lines (concat, not push(...section): a section with thousands of steps would
  // pass them all as call arguments). The final "" gives the trailing newline inside the join, so
  // the result is one flat string rather than a multi-megabyte copy plus "\n".
  const lines = out.concat(
    sections,
    allocationCheck(plan),
    nodeSetup(plan),
    preflight(plan),
    infra(plan, options.infraTimeoutSeconds ?? 120),
    services(plan),
    readiness(plan),
    [""],
  );
  const script = lines.join("\n");
  checkScriptSize(script, plan, options.maxScriptBytes ?? MAX_SCRIPT_BYTES);
  return script;
}

/** The pyxis flags of each container, once (steps use "${DYN_CONTAINER[@]}" or "${DYN_CONTAINER_INFRA[@]}"). */
function containerArray(plan: Plan, role: ContainerRole): string[] {
  if (role === "infra" && !plan.steps.some(isInfraStep)) return [];
  const flags = containerFlags(plan, role);
  if (flags.length === 0) return [];
  const name = CONTAINER_ARRAY[role];
  // SC2054: the commas are inside one --container-mounts word, not separating array elements.
  return ["# shellcheck disable=SC2054", `${name}=(${flags.map(renderArg).join(" ")})`];
}

/**
 * dyn mounts the run directory and the model cache into the services' container; a user mount at
 * or inside one of them would shadow what the steps read and write there.
 */
function checkMounts(plan: Plan, runDir: string): void {
  const c = plan.spec.container;
  if (c.kind !== "pyxis") return;
  const inside = (dst: string, dir: string) => dst === dir || dst.startsWith(`${dir.replace(/\/$/, "")}/`);
  for (const m of c.mounts) {
    const dst = m.split(":")[1] as string;
    const hit = inside(dst, runDir)
      ? `the run directory ${runDir}`
      : inside(dst, CONTAINER_HF_HOME)
        ? `the model cache ${CONTAINER_HF_HOME}`
        : undefined;
    if (hit)
      throw new DynError(
        "DYN_SPEC_INVALID",
        `container.mounts: ${m} would hide ${hit}, which dyn mounts itself`,
        {
          key: "container.mounts",
          hint: "mount elsewhere; the run directory and hfCache are mounted for you",
        },
      );
  }
}

function summary(plan: Plan): string {
  const groups = plan.groups.map((g) => `${g.workers} ${g.role} x ${g.gpusPerWorker} GPU`).join(", ");
  return `${plan.nodes} node${plan.nodes > 1 ? "s" : ""}, ${groups}`;
}

function allocationCheck(plan: Plan): string[] {
  const lines = [
    "",
    "# ---- allocation: must match the plan ----",
    // SLURM_RESTART_COUNT counts requeues: each attempt starts a new section of the status file.
    ...(plan.components
      ? hetjobAllocation(plan.components)
      : [
          'dyn_emit job-started job "$(dyn_json "$SLURM_JOB_ID")" nodelist "$(dyn_json "$SLURM_JOB_NODELIST")" attempt "$((${SLURM_RESTART_COUNT:-0} + 1))"',
          'mapfile -t DYN_NODES < <(scontrol show hostnames "$SLURM_JOB_NODELIST")',
          `if [ "\${#DYN_NODES[@]}" -ne ${plan.nodes} ]; then`,
          `  dyn_fail allocation "the job has \${#DYN_NODES[@]} nodes but the plan needs ${plan.nodes}; submit with the script's own #SBATCH --nodes"`,
          "fi",
        ]),
  ];
  if (plan.spec.slurm.gpuRequest !== "none") {
    lines.push(
      `if [ -n "\${SLURM_GPUS_ON_NODE:-}" ] && [ "$SLURM_GPUS_ON_NODE" -lt ${plan.gpusPerNode} ]; then`,
      `  dyn_fail allocation "the job has $SLURM_GPUS_ON_NODE GPUs per node but the plan needs ${plan.gpusPerNode}"`,
      "fi",
    );
  }
  for (const name of plan.spec.secrets) {
    // Checked by name only: the value is never printed.
    lines.push(
      `[ -n "\${${name}:-}" ] || dyn_fail secrets ${shellQuote(`secret ${name} is not set in the job's environment (export it before dyn deploy)`)}`,
    );
  }
  return lines;
}

/**
 * The ports the plan uses, as the run-time window check needs them: how many offsets of the window
 * (the highest used on any node, so one number serves every node), and the pinned ports by node
 * index ("k:port ...").
 */
function portsUsed(plan: Plan): { offsets: number; pinned: string } {
  let offsets = 0;
  const pinned = new Set<string>();
  // Indexed loops over the steps here and below: thousands of steps, and a for-of iterator allocates
  // until the loop is optimized.
  const steps = plan.steps;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i] as PlannedStep;
    for (const name in step.ports) {
      if (!Object.hasOwn(step.ports, name)) continue;
      const ref = step.ports[name] as PortRef;
      if (ref.kind === "job") offsets = Math.max(offsets, ref.offset + 1);
      else for (const k of step.nodes) pinned.add(`${k}:${ref.port}`);
    }
  }
  return { offsets, pinned: [...pinned].join(" ") };
}

function nodeSetup(plan: Plan): string[] {
  const n = plan.nodes;
  const { base, slot, slots } = plan.spec.ports;
  const used = portsUsed(plan);
  const tries = Math.min(slots, 8);
  const step = (what: string) =>
    `  srun --overlap --nodes=${n} --ntasks=${n} --ntasks-per-node=1 --job-name=${what} \\`;
  // One srun over all nodes; in a heterogeneous job one per component (hetjob-script.ts).
  const nodeWide = (what: string, indent: string, program: string, args: string): string[] =>
    plan.components
      ? hetjobNodeWide(plan.components, what, indent, program, args)
      : [step(what), `${indent}env "\${DYN_UNSET[@]}" bash -c '${program}' ${what} ${args}`];
  const lines = [
    "",
    "# ---- node setup: stale leftovers removed, routable IPs, the model cache and the port window ----",
    // Which jobs SLURM still runs, once for all nodes: a lock or scratch of any other job is stale.
    'DYN_LIVE="$DYN_RUN_DIR/.live-jobs"',
    `squeue -h -o %A >"$DYN_LIVE.tmp" 2>/dev/null && grep -qx -- "$SLURM_JOB_ID" "$DYN_LIVE.tmp" || echo '?' >"$DYN_LIVE.tmp"`,
    'mv -f -- "$DYN_LIVE.tmp" "$DYN_LIVE"',
    `DYN_LOCKS=\${DYN_PORT_LOCK_DIR:-${shellQuote(plan.spec.ports.lockDir)}}`,
    // The job-scoped window first; the next ones when a node has it taken (see dyn_claim_window).
    `DYN_WINDOW=$((SLURM_JOB_ID % ${slots}))`,
    `DYN_PINNED=${shellQuote(used.pinned)}`,
    "declare -A DYN_IP_OF=() DYN_CLAIM=() DYN_SETUP_T=()",
    'while read -r name ip claim t0 t1; do DYN_IP_OF[$name]=$ip; DYN_CLAIM[$name]=$claim; DYN_SETUP_T[$name]="$t0 $t1"; done < <(',
    ...nodeWide(
      "node-setup",
      "    ",
      'dyn_node_setup "$@"',
      `"$DYN_IFACE" "$DYN_HF_CACHE" "$DYN_LOCKS" "$DYN_WINDOW" "$((${base} + DYN_WINDOW * ${slot}))" ${used.offsets} "$DYN_PINNED" "$DYN_LIVE"`,
    ),
    ")",
    'DYN_WINDOWS_SEEN=""',
    "for ((try = 1; ; try++)); do",
    '  taken=""',
    '  for node in "${DYN_NODES[@]}"; do',
    '    case "${DYN_CLAIM[$node]:-}" in',
    "      ok) ;;",
    `      pinned:*) dyn_fail node-setup "port \${DYN_CLAIM[$node]#pinned:} (pinned in the spec) is in use on $node" ;;`,
    '      "") taken+="${taken:+, }$node (no answer)" ;;',
    '      held:*) taken+="${taken:+, }$node (held by job ${DYN_CLAIM[$node]#held:})" ;;',
    '      busy:*) taken+="${taken:+, }$node (port ${DYN_CLAIM[$node]#busy:} in use)" ;;',
    "    esac",
    "  done",
    '  [ -n "$taken" ] || break',
    '  DYN_WINDOWS_SEEN+="${DYN_WINDOWS_SEEN:+; }window $DYN_WINDOW: $taken"',
    '  dyn_emit port-window-taken window "$DYN_WINDOW" nodes "$(dyn_json "$taken")"',
    `  ((try < ${tries})) || dyn_fail node-setup "no free port window after ${tries} tries ($DYN_WINDOWS_SEEN); raise ports.slots or free the ports"`,
    `  prev=$DYN_WINDOW DYN_WINDOW=$(((DYN_WINDOW + 1) % ${slots}))`,
    "  DYN_CLAIM=()",
    "  # shellcheck disable=SC2016 # expanded by the step's bash",
    "  while read -r name claim; do DYN_CLAIM[$name]=$claim; done < <(",
    ...nodeWide(
      "port-window",
      "      ",
      'printf "%s %s\\n" "${SLURMD_NODENAME:-$(hostname -s)}" "$(dyn_claim_window "$@")"',
      `"$DYN_LOCKS" "$DYN_WINDOW" "$((${base} + DYN_WINDOW * ${slot}))" ${used.offsets} "$DYN_PINNED" "$DYN_LIVE" "$prev"`,
    ),
    "  )",
    "done",
    `DYN_PORT_BASE=$((${base} + DYN_WINDOW * ${slot}))`,
    "export DYN_PORT_BASE",
    `dyn_emit ports window "$DYN_WINDOW" base "$DYN_PORT_BASE" end "$((DYN_PORT_BASE + ${Math.max(used.offsets, 1) - 1}))" preferred "$((SLURM_JOB_ID % ${slots}))"`,
    `for k in $(seq 0 ${n - 1}); do`,
    "  node=${DYN_NODES[$k]}",
    "  ip=${DYN_IP_OF[$node]:-}",
    '  case "$ip" in',
    `    "") dyn_fail node-setup "node $node did not report (is it reachable with srun?)" ;;`,
    `    -) dyn_fail node-setup "no routable IPv4 address on $node${plan.spec.network.interface ? " for network.interface $DYN_IFACE" : " (set network.interface)"}" ;;`,
    `    '!cache') dyn_fail node-setup "cannot create the model cache $DYN_HF_CACHE on $node" ;;`,
    "  esac",
    '  printf -v "DYN_HOST_$k" "%s" "$node"',
    '  printf -v "DYN_NODE_IP_$k" "%s" "$ip"',
    '  read -r t0 t1 <<<"${DYN_SETUP_T[$node]:-}"',
    // Epoch microseconds → seconds with six decimals (JSON numbers), null when the node gave none.
    '  if [[ "${t0:-}" =~ ^[0-9]{7,}$ && "${t1:-}" =~ ^[0-9]{7,}$ ]]; then t0="${t0:0:-6}.${t0: -6}" t1="${t1:0:-6}.${t1: -6}"; else t0=null t1=null; fi',
    '  dyn_emit node index "$k" name "$(dyn_json "$node")" ip "$(dyn_json "$ip")" setup_start "$t0" setup_end "$t1"',
    "done",
  ];
  const c = plan.spec.container;
  if (plan.components) {
    for (const line of hetjobPreload(plan, plan.components)) lines.push(line);
  } else if (c.kind === "pyxis" && c.preload) {
    // Import the image once per node into the job-scoped named containers before anything joins them.
    const infraNode = plan.steps.find(isInfraStep)?.nodes[0];
    // Both containers at once (each srun in the background): the infra node imports two names.
    const preload = (i: number, array: string, nodes: string) =>
      `srun --overlap ${nodes} --ntasks-per-node=1 --job-name=container-preload --output="$DYN_RUN_DIR/logs/container-preload.log" --open-mode=append "\${${array}[@]}" true </dev/null & DYN_PRELOAD_${i}=$!`;
    const check = (i: number, what: string, where: string) =>
      `wait "$DYN_PRELOAD_${i}" || dyn_fail container-preload "importing the container image for ${what} failed on ${where} (log: logs/container-preload.log)"`;
    lines.push("", "# ---- containers: the image imported once per node, before the services start ----");
    lines.push(preload(0, CONTAINER_ARRAY.services, `--nodes=${n} --ntasks=${n}`));
    const infraToo = infraNode !== undefined && c.infra === "image";
    if (infraToo)
      lines.push(
        preload(
          1,
          CONTAINER_ARRAY.infra,
          `--nodes=1 --ntasks=1 ${renderArg(join("--nodelist=", hostVar(infraNode)))}`,
        ),
      );
    lines.push(check(0, "the services", "${DYN_NODES[*]}"));
    if (infraToo) lines.push(check(1, "etcd/NATS", `$DYN_HOST_${infraNode}`));
    lines.push("dyn_emit container-ready");
  }
  return lines;
}

/**
 * The connections the deployment will need across nodes, as dyn_preflight checks
 * ("<listener>:<ip>:<port>:<label>:<first>-<last>"): every node to etcd and NATS on the infra node,
 * and every rank of a multi-node worker to its leader's ports.
 */
function preflightChecks(plan: Plan): string[] {
  const checks: string[] = [];
  // Rendered as renderArg renders join(`${k}:`, nodeIpVar(k), ":", port(ref), `:${label}:${lo}-${hi}`),
  // part by part, without building a Word for each of thousands of checks.
  const check = (k: number, ref: PortRef, label: string, lo: number, hi: number) =>
    checks.push(`${k}:${renderArg(nodeIpVar(k))}:${renderPort(ref)}${shellQuote(`:${label}:${lo}-${hi}`)}`);
  for (const step of plan.steps) {
    if (!isInfraStep(step)) continue;
    const main = step.ports[step.role] as PortRef;
    check(step.nodes[0] as number, main, step.role, 0, plan.nodes - 1);
  }
  // Per-node ranks of one worker: rank 0 is the leader the others connect to. A worker's steps are
  // listed together, so one pass over the steps finds each worker's leader and node range.
  // By role, then by worker index (a key string per step would be most of this pass's cost).
  type Worker = { leader?: PlannedStep; count: number; lo: number; hi: number };
  const workers: Worker[] = [];
  const byRole = new Map<string, Map<number, Worker>>();
  let last: { role: string; worker: number; w: Worker } | undefined;
  const steps = plan.steps;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i] as PlannedStep;
    if (isInfraStep(step) || (step.rank === 0 && step.nodes.length > 1)) continue;
    let w: Worker | undefined =
      last && last.role === step.role && last.worker === step.worker ? last.w : undefined;
    if (!w) {
      let ofRole = byRole.get(step.role);
      if (!ofRole) {
        ofRole = new Map();
        byRole.set(step.role, ofRole);
      }
      w = ofRole.get(step.worker);
      if (!w) {
        w = { count: 0, lo: Number.POSITIVE_INFINITY, hi: Number.NEGATIVE_INFINITY };
        ofRole.set(step.worker, w);
        workers.push(w);
      }
      last = { role: step.role, worker: step.worker, w };
    }
    w.count++;
    if (step.rank === 0 && !w.leader) w.leader = step;
    const nodes = step.nodes;
    for (let j = 0; j < nodes.length; j++) {
      const k = nodes[j] as number;
      if (k < w.lo) w.lo = k;
      if (k > w.hi) w.hi = k;
    }
  }
  for (const { leader, count, lo, hi } of workers) {
    if (!leader || count < 2) continue;
    for (const [name, ref] of Object.entries(leader.ports))
      if (ref.kind === "job") check(leader.nodes[0] as number, ref, `${leader.id} (${name})`, lo, hi);
  }
  return checks;
}

function preflight(plan: Plan): string[] {
  const net = plan.spec.network;
  if (!net.preflight) return [];
  const checks = preflightChecks(plan);
  const n = plan.nodes;
  // The spec's value if it sets one, else the job's environment (sbatch exports the submitter's).
  const envArg = (name: string) => {
    const v = plan.spec.env[name];
    return v === undefined ? `"\${${name}:-}"` : renderArg(v);
  };
  return [
    "",
    "# ---- network preflight: every node reaches the infra node and its worker's leader, InfiniBand devices named in the env are up ----",
    "declare -A DYN_PREFLIGHT=()",
    "while read -r name result; do DYN_PREFLIGHT[$name]=$result; done < <(",
    ...(plan.components
      ? hetjobNodeWide(
          plan.components,
          "preflight",
          "    ",
          'dyn_preflight "$@"',
          `"\${DYN_SYSFS_ROOT:-/sys}" ${net.preflightTimeoutSeconds} ${envArg("UCX_NET_DEVICES")} ${envArg("NCCL_IB_HCA")}${checks.length > 0 ? ` ${checks.join(" ")}` : ""}`,
        )
      : [
          `  srun --overlap --nodes=${n} --ntasks=${n} --ntasks-per-node=1 --job-name=preflight \\`,
          `    env "\${DYN_UNSET[@]}" bash -c 'dyn_preflight "$@"' preflight "\${DYN_SYSFS_ROOT:-/sys}" ${net.preflightTimeoutSeconds} ${envArg("UCX_NET_DEVICES")} ${envArg("NCCL_IB_HCA")}${checks.length > 0 ? ` ${checks.join(" ")}` : ""}`,
        ]),
    ")",
    'for node in "${DYN_NODES[@]}"; do',
    '  case "${DYN_PREFLIGHT[$node]-missing}" in',
    "    '') ;;",
    '    missing) dyn_fail preflight "node $node did not report (see the job output file)" ;;',
    '    "fail "*) dyn_fail preflight "$node: ${DYN_PREFLIGHT[$node]#fail }" ;;',
    "  esac",
    "done",
    "dyn_emit preflight-ok",
  ];
}

function infra(plan: Plan, timeout: number): string[] {
  const lines = ["", "# ---- infra: etcd and NATS ----"];
  const { etcd, nats } = plan.spec.infra;
  const infraSteps = plan.steps.filter(isInfraStep);
  for (const step of infraSteps) lines.push(plainBlock({ step, text: stepText(plan, step) }, NO_SHARED_ENV));
  const etcdStep = infraSteps.find((s) => s.role === "etcd");
  const natsStep = infraSteps.find((s) => s.role === "nats");
  // Managed: the URL the infra step itself serves; external: the user's.
  if (etcdStep) lines.push(`DYN_ETCD_ENDPOINTS=${renderArg(etcdEndpoint(etcdStep))}`);
  if (etcd.mode === "external") lines.push(`DYN_ETCD_ENDPOINTS=${shellQuote(etcd.url ?? "")}`);
  if (natsStep) lines.push(`DYN_NATS_SERVER=${renderArg(natsServer(natsStep))}`);
  if (nats.mode === "external") lines.push(`DYN_NATS_SERVER=${shellQuote(nats.url ?? "")}`);
  const waitFor = (name: string, step: PlannedStep, portName: string) =>
    `dyn_wait_tcp ${name} ${renderArg(nodeIpVar(step.nodes[0] as number))} ${renderArg(port(step.ports[portName] as PortRef))} ${timeout}`;
  if (etcdStep) lines.push(waitFor("etcd", etcdStep, "etcd"));
  if (natsStep) lines.push(waitFor("nats", natsStep, "nats"));
  // The port answering is not enough: it must be this run's etcd and NATS (a stranger may listen there).
  const identity = (name: string, step: PlannedStep, portName: string) =>
    `${name} ${renderArg(join("http://", nodeIpVar(step.nodes[0] as number), ":", port(step.ports[portName] as PortRef)))}`;
  const ask = [
    etcdStep ? identity("etcd", etcdStep, "etcd") : "",
    natsStep ? identity("nats", natsStep, "natsMonitor") : "",
  ].filter(Boolean);
  if (ask.length > 0) lines.push(`dyn_check_identity ${timeout} ${ask.join(" ")}`);
  const env = [
    etcd.mode !== "off" ? "DYN_ETCD_ENDPOINTS" : "",
    nats.mode !== "off" ? "DYN_NATS_SERVER" : "",
  ].filter(Boolean);
  if (env.length > 0) lines.push(`export ${env.join(" ")}`);
  lines.push(
    `dyn_emit infra-up${etcd.mode !== "off" ? ' etcd "$(dyn_json "$DYN_ETCD_ENDPOINTS")"' : ""}${nats.mode !== "off" ? ' nats "$(dyn_json "$DYN_NATS_SERVER")"' : ""}`,
  );
  return lines;
}

function services(plan: Plan): string[] {
  const entries: StepEntry[] = [];
  const steps = plan.steps;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i] as PlannedStep;
    if (!isInfraStep(step)) entries.push({ step, text: stepText(plan, step) });
  }
  // Env entries every step has: rendered once, as DYN_ENV.
  const shared = sharedEnv(entries);
  const perNode = plan.spec.slurm.launch === "per-node";
  const lines = [
    "",
    perNode
      ? "# ---- services: frontend(s) and workers, one launch step per node (multi-node steps their own) ----"
      : "# ---- services: frontend(s) and workers, one srun step each ----",
  ];
  if (shared.size > 0) lines.push(`DYN_ENV=(${[...shared].map(([pre, rest]) => pre + rest).join(" ")})`);
  if (perNode) lines.push("DYN_BATCHING=1");
  // A loop, not push(...): a section of thousands of steps would pass them all as call arguments.
  for (const line of startLines(entries, shared)) lines.push(line);
  if (perNode) lines.push("DYN_BATCHING=0", "dyn_launch_batched");
  return lines;
}

/** `[component@node]="step ids"` for every registering step: which steps a lost instance may be. */
function stepsAt(plan: Plan): string {
  const at = new Map<string, string[]>();
  const steps = plan.steps;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i] as PlannedStep;
    if (!step.registers) continue;
    const key = `${step.registers}@${step.nodes[0]}`;
    const ids = at.get(key);
    if (ids) ids.push(step.id);
    else at.set(key, [step.id]);
  }
  return [...at].map(([k, ids]) => `[${shellQuote(k)}]=${shellQuote(ids.join(" "))}`).join(" ");
}

/**
 * dyn_smoke's counter arguments: `counters <metric> <label>=<endpoint> <segment>…` naming every
 * registering worker's system port, or `skip <reason>` (plan.smokeCounters). A segment is
 * `<role>:<first worker>:<count>:<first node>:<node step>:<system ports>:<id suffix>` (dyn_smoke_targets
 * expands it): worker first+j of the role, step id `<role>-w<first+j><suffix>`, on node
 * first node + ⌊j / P⌋ × node step with system port j mod P of the P listed (`+N` = DYN_PORT_BASE+N).
 * Workers are placed in runs like that, so a plan at the process limit needs a few segments, not a
 * word per worker.
 */
function smokeCounterArgs(plan: Plan): string {
  const c = plan.smokeCounters ?? { skipped: "not planned (a plan from an older dyn)" };
  if ("skipped" in c) return `skip ${shellQuote(c.skipped)}`;
  const segments: string[] = [];
  let seg:
    | {
        role: string;
        first: number;
        count: number;
        node: number;
        step: number;
        ports: string[];
        suffix: string;
        per: number;
      }
    | undefined;
  const close = () => {
    if (seg)
      segments.push(
        shellQuote(
          [seg.role, seg.first, seg.count, seg.node, seg.step, seg.ports.join(","), seg.suffix].join(":"),
        ),
      );
    seg = undefined;
  };
  for (const step of plan.steps) {
    const sys = step.ports.system;
    if (!step.registers || step.role === "frontend" || !sys) continue;
    const node = step.nodes[0] as number;
    const sysPort = sys.kind === "fixed" ? String(sys.port) : `+${sys.offset}`;
    const suffix = step.id.slice(`${step.role}-w${step.worker}`.length);
    const j = seg ? step.worker - seg.first : -1;
    const fits =
      seg !== undefined &&
      step.role === seg.role &&
      suffix === seg.suffix &&
      j === seg.count &&
      (seg.per === 0
        ? node === seg.node || (node > seg.node && sysPort === seg.ports[0])
        : node === seg.node + Math.floor(j / seg.per) * seg.step && sysPort === seg.ports[j % seg.per]);
    if (seg && fits) {
      if (seg.per === 0 && node === seg.node) seg.ports.push(sysPort);
      else if (seg.per === 0) {
        seg.per = seg.ports.length;
        seg.step = node - seg.node;
      }
      seg.count++;
      continue;
    }
    close();
    seg = { role: step.role, first: step.worker, count: 1, node, step: 1, ports: [sysPort], suffix, per: 0 };
  }
  close();
  return ["counters", shellQuote(c.metric), shellQuote(`${c.endpointLabel}=${c.endpoint}`), ...segments].join(
    " ",
  );
}

function readiness(plan: Plan): string[] {
  const url = renderArg(join("http://", nodeIpVar(plan.frontend.node), ":", port(plan.frontend.port)));
  const expected = Object.entries(plan.expected)
    .map(([c, n]) => shellQuote(`${c}=${n}`))
    .join(" ");
  // Component → the roles registering under it, so a timeout names roles, not only components.
  const rolesOf = new Map<string, string[]>();
  for (const g of plan.groups) rolesOf.set(g.component, [...(rolesOf.get(g.component) ?? []), g.role]);
  const roleEntries = [...rolesOf].map(([c, roles]) => `[${shellQuote(c)}]=${shellQuote(roles.join("+"))}`);
  return [
    "",
    "# ---- readiness: every expected instance registered at the frontend's /health ----",
    `declare -A DYN_ROLES_OF=(${roleEntries.join(" ")})`,
    `DYN_URL=${url}`,
    'DYN_HEALTH_LOG="$DYN_RUN_DIR/logs/readiness.log"',
    'export DYN_INSTANCES_FILE="$DYN_RUN_DIR/logs/instances.json"',
    'export DYN_REGISTRATIONS_FILE="$DYN_RUN_DIR/logs/registrations.json"',
    `dyn_watch_health "$DYN_HEALTH_LOG" 0 "$DYN_URL/health" ${expected}`,
    `deadline=$((SECONDS + ${plan.spec.readiness.timeoutSeconds}))`,
    'counts=""',
    'while kill -0 "$DYN_HEALTH_PID" 2>/dev/null; do',
    "  dyn_check_steps",
    '  dyn_last_line "$DYN_HEALTH_LOG"',
    '  if [ -n "$REPLY" ] && [ "$REPLY" != "$counts" ]; then counts=$REPLY; dyn_emit progress registered "$(dyn_json "$counts")"; fi',
    `  ((SECONDS < deadline)) || dyn_fail readiness "not ready after ${plan.spec.readiness.timeoutSeconds} s; not registered: $(dyn_missing "$counts")"`,
    "  sleep 0.1",
    "done",
    'wait "$DYN_HEALTH_PID" || dyn_fail readiness "the /health watcher failed (log: logs/readiness.log)"',
    'DYN_HEALTH_PID=""',
    'dyn_last_line "$DYN_HEALTH_LOG"',
    "counts=$REPLY",
    ...(plan.spec.readiness.smoke
      ? [
          "# Registered is not serving: one real request must come back with tokens.",
          `dyn_smoke "$DYN_URL" ${shellQuote(plan.spec.model.servedName ?? plan.spec.model.path ?? "")} ${plan.spec.readiness.smokeTimeoutSeconds} ${smokeCounterArgs(plan)}`,
        ]
      : []),
    'dyn_emit ready url "$(dyn_json "$DYN_URL")" registered "$(dyn_json "$counts")"',
    'dyn_log "READY: $DYN_URL ($counts)"',
    ...keepAliveReady(plan.spec),
    "",
    "# ---- supervision: the job lives while every step does and /health lists every instance ----",
    `declare -A DYN_STEPS_AT=(${stepsAt(plan)})`,
    "declare -A DYN_NAME_OF_IP=()",
    'for k in "${!DYN_NODES[@]}"; do DYN_NAME_OF_IP[${DYN_IP_OF[${DYN_NODES[$k]}]}]=${DYN_NODES[$k]}; done',
    'DYN_SUPERVISION_LOG="$DYN_RUN_DIR/logs/supervision.log"',
    `dyn_watch_health "$DYN_SUPERVISION_LOG" ${plan.spec.readiness.lostGraceSeconds} "$DYN_URL/health" ${expected}`,
    "while :; do",
    "  dyn_check_steps",
    ...keepAliveTick(plan.spec),
    '  if ! kill -0 "$DYN_HEALTH_PID" 2>/dev/null; then',
    '    wait "$DYN_HEALTH_PID" && rc=0 || rc=$?',
    '    DYN_HEALTH_PID=""',
    '    dyn_last_line "$DYN_SUPERVISION_LOG"',
    '    case "$REPLY" in',
    '      "LOST frontend"*) dyn_fail frontend-0 "${REPLY#LOST frontend: }" ;;',
    '      LOST*) dyn_lost "$REPLY" && dyn_fail "$DYN_LOST_STEP" "$DYN_LOST_WHY" ;;',
    '      *) dyn_fail supervision "the /health watcher ended with code $rc (log: logs/supervision.log)" ;;',
    "    esac",
    "  fi",
    "  sleep 0.2",
    "done",
  ];
}
