/**
 * The parts of the script that differ for a heterogeneous job (facts: hetjob.ts). A plan without
 * components renders none of this; the rest of the script is the same for both, with each step's
 * srun given `--het-group=k` for a node of component k (steps.ts).
 *
 *  - allocation: DYN_NODES is every component's node list in order (SLURM_JOB_NODELIST is only
 *    component 0's), each checked against the plan, and no node may be in two components;
 *  - node-wide steps (node setup, port window, preflight, port release, image preload): one srun per
 *    component, started together; in component k > 0 SLURM_NODEID counts from 0 again, so the
 *    helpers that compare it with a global node index are given SLURM_NODEID + the component's
 *    first node index;
 *  - containers: component k > 0 with a pyxis container has its own array DYN_CONTAINER_HET<k> and
 *    named container dyn-<job>-het<k>.
 */
import type { PlanComponent } from "../components.js";
import type { Plan } from "../plan.js";
import { shellQuote } from "../quote.js";
import { renderArg } from "../word.js";
import { containerFlags, hetContainerArray } from "./steps.js";

/** `DYN_CONTAINER_HET<k>=(…)` for every later component that runs in a pyxis container. */
export function hetjobContainerArrays(plan: Plan): string[] {
  const lines: string[] = [];
  for (const c of plan.components ?? []) {
    if (c.index === 0 || c.container.kind !== "pyxis") continue;
    const flags = containerFlags(plan, "services", c);
    lines.push(
      "# shellcheck disable=SC2054",
      `${hetContainerArray(c.index)}=(${flags.map(renderArg).join(" ")})`,
    );
  }
  return lines;
}

const describe = (c: PlanComponent) =>
  `component ${c.index}${c.partition ? ` (partition ${c.partition})` : ""}`;

/** The allocation check: every component's nodes, in order, as DYN_NODES. */
export function hetjobAllocation(components: readonly PlanComponent[]): string[] {
  const lists = components.map((c) => `\${SLURM_JOB_NODELIST_HET_GROUP_${c.index}:-}`).join(",");
  const lines = [
    `DYN_NODELIST="${lists}"`,
    'dyn_emit job-started job "$(dyn_json "$SLURM_JOB_ID")" nodelist "$(dyn_json "$DYN_NODELIST")" attempt "$((${SLURM_RESTART_COUNT:-0} + 1))"',
    `if [ "\${SLURM_HET_SIZE:-1}" -ne ${components.length} ]; then`,
    `  dyn_fail allocation "the job has \${SLURM_HET_SIZE:-1} components but the plan has ${components.length}; submit the script as it is (its #SBATCH hetjob blocks)"`,
    "fi",
    "DYN_NODES=()",
  ];
  for (const c of components) {
    const v = `DYN_NODES_HET${c.index}`;
    lines.push(
      `mapfile -t ${v} < <(scontrol show hostnames "$SLURM_JOB_NODELIST_HET_GROUP_${c.index}")`,
      `if [ "\${#${v}[@]}" -ne ${c.nodes} ]; then`,
      `  dyn_fail allocation ${shellQuote(`${describe(c)} has `)}"\${#${v}[@]}"${shellQuote(` nodes but the plan needs ${c.nodes}; submit with the script's own #SBATCH blocks`)}`,
      "fi",
      `DYN_NODES+=("\${${v}[@]}")`,
    );
  }
  lines.push(
    // The plan gives each component nodes of its own (ports, GPUs and the node-wide steps count on it).
    "declare -A DYN_SEEN=()",
    'for node in "${DYN_NODES[@]}"; do',
    '  [ -z "${DYN_SEEN[$node]:-}" ] || dyn_fail allocation "node $node is in two components of the job; dyn plans each component on nodes of its own (partitions without common nodes, or slurm.exclusive)"',
    "  DYN_SEEN[$node]=1",
    "done",
  );
  return lines;
}

/**
 * One node-wide srun per component, in the background, then `wait` (inside the `< <(…)` that reads
 * their lines). `program` is the single-quoted bash program; `args` its arguments as rendered.
 */
export function hetjobNodeWide(
  components: readonly PlanComponent[],
  what: string,
  indent: string,
  program: string,
  args: string,
): string[] {
  const lines: string[] = [];
  for (const c of components) {
    const own = c.firstNode > 0 ? `SLURM_NODEID=$((SLURM_NODEID + ${c.firstNode})); ${program}` : program;
    lines.push(
      "  # shellcheck disable=SC2016 # expanded by the step's bash",
      `  srun --overlap --het-group=${c.index} --nodes=${c.nodes} --ntasks=${c.nodes} --ntasks-per-node=1 --job-name=${what} \\`,
      `${indent}env "\${DYN_UNSET[@]}" bash -c '${own}' ${what} ${args} </dev/null &`,
    );
  }
  lines.push("  wait");
  return lines;
}

/** The image preload of every component with a pyxis container (and the infra container's). */
export function hetjobPreload(plan: Plan, components: readonly PlanComponent[]): string[] {
  const lines: string[] = [];
  const waits: string[] = [];
  const preload = (id: string, array: string, where: string) =>
    `srun --overlap ${where} --ntasks-per-node=1 --job-name=container-preload --output="$DYN_RUN_DIR/logs/container-preload.log" --open-mode=append "\${${array}[@]}" true </dev/null & DYN_PRELOAD_${id}=$!`;
  const check = (id: string, what: string, where: string) =>
    `wait "$DYN_PRELOAD_${id}" || dyn_fail container-preload "importing the container image for ${what} failed on ${where} (log: logs/container-preload.log)"`;
  for (const c of components) {
    if (c.container.kind !== "pyxis" || !c.container.preload) continue;
    const array = c.index === 0 ? "DYN_CONTAINER" : hetContainerArray(c.index);
    lines.push(
      preload(`HET${c.index}`, array, `--het-group=${c.index} --nodes=${c.nodes} --ntasks=${c.nodes}`),
    );
    waits.push(check(`HET${c.index}`, `${describe(c)}`, `\${DYN_NODES_HET${c.index}[*]}`));
  }
  const c0 = plan.spec.container;
  const infraNode = plan.steps.find((s) => s.role === "etcd" || s.role === "nats")?.nodes[0];
  if (c0.kind === "pyxis" && c0.preload && c0.infra === "image" && infraNode !== undefined) {
    lines.push(
      preload(
        "INFRA",
        "DYN_CONTAINER_INFRA",
        `--het-group=0 --nodes=1 --ntasks=1 --nodelist="\${DYN_HOST_${infraNode}}"`,
      ),
    );
    waits.push(check("INFRA", "etcd/NATS", `$DYN_HOST_${infraNode}`));
  }
  if (lines.length === 0) return [];
  return [
    "",
    "# ---- containers: each component's image imported once per node, before the services start ----",
    ...lines,
    ...waits,
    "dyn_emit container-ready",
  ];
}

/**
 * After the static helpers: the exit trap releases the port-window locks once per component (the
 * static dyn_release_windows runs a single srun over all nodes, which component 0 alone cannot hold).
 */
export function hetjobRuntime(plan: Plan): string[] {
  const components = plan.components;
  if (!components) return [];
  const lines = [
    "# Heterogeneous job: the other nodes' port-window locks are released component by component.",
    "dyn_release_het_windows() {",
    '  [ -n "${DYN_LOCKS:-}" ] || return 0',
    '  dyn_release_lock "$DYN_LOCKS"',
    '  [ "$DYN_ENDING" = 0 ] || return 0',
    "  local pids=()",
  ];
  for (const c of components) {
    lines.push(
      "  # shellcheck disable=SC2016 # expanded by the step's bash",
      `  timeout 10 srun --overlap --het-group=${c.index} --nodes=${c.nodes} --ntasks=${c.nodes} --ntasks-per-node=1 \\`,
      `    --job-name=port-release env "\${DYN_UNSET[@]}" bash -c 'dyn_release_lock "$1"' port-release "$DYN_LOCKS" </dev/null >/dev/null 2>&1 &`,
      "  pids+=($!)",
    );
  }
  lines.push(
    '  wait "${pids[@]}" 2>/dev/null || true',
    "}",
    `trap 'dyn_stop_steps; dyn_release_het_windows; rm -rf -- "$DYN_SCRATCH"' EXIT`,
    "",
  );
  return lines;
}
