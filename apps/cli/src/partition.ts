/**
 * Before submission: a plan needing more nodes than its partition has would wait in the queue
 * forever (sbatch accepts it; the pending reason is PartitionNodeLimit or Resources). When sinfo
 * answers within a few seconds, that is an error naming the partition and both counts; when it does
 * not (no sinfo, no controller, too slow), nothing is checked and sbatch has the last word.
 */
import { DynError } from "@dyn/core";
import type { Slurm } from "./slurm.js";

/** Bound on the sinfo call: a deploy never waits on an unreachable controller longer than this. */
export const SINFO_TIMEOUT_MS = 5000;

export interface PartitionNodes {
  /** Partition name → its nodes (every state: a drained node is still part of its size). */
  readonly nodes: ReadonlyMap<string, number>;
  /** The partition sinfo marks as the default (`gpu*`), if any. */
  readonly defaultPartition: string | undefined;
}

/** `sinfo -h -a -o %P|%D` lines (a partition may appear once per node state): nodes per partition. */
export function parsePartitionNodes(stdout: string): PartitionNodes {
  const nodes = new Map<string, number>();
  let defaultPartition: string | undefined;
  for (const line of stdout.split("\n")) {
    const m = /^\s*([^|\s]+?)(\*?)\|(\d+)\s*$/.exec(line);
    if (!m) continue;
    const name = m[1] as string;
    if (m[2]) defaultPartition = name;
    nodes.set(name, (nodes.get(name) ?? 0) + Number(m[3]));
  }
  return { nodes, defaultPartition };
}

/** Nodes per partition from sinfo, or undefined when sinfo is missing, fails or is too slow. */
export async function partitionNodes(slurm: Slurm): Promise<PartitionNodes | undefined> {
  const r = await slurm.probe("sinfo", ["-h", "-a", "-o", "%P|%D"], { timeoutMs: SINFO_TIMEOUT_MS });
  if (!r.found || r.timedOut || r.code !== 0) return undefined;
  const parsed = parsePartitionNodes(r.stdout);
  return parsed.nodes.size > 0 ? parsed : undefined;
}

/**
 * Refuse a plan larger than its partition (the given one, else SLURM's default), or a partition
 * sinfo does not list. `labels` name the keys as the user set them (`--nodes`, `dyn.yaml:4:10
 * slurm.nodes`, or the key itself when the plan chose the node count).
 */
export async function checkPartition(
  slurm: Slurm,
  partition: string | undefined,
  planNodes: number,
  labels: { readonly nodes: string; readonly partition: string },
): Promise<void> {
  const info = await partitionNodes(slurm);
  if (!info) return;
  const name = partition ?? info.defaultPartition;
  if (name === undefined) return;
  const size = info.nodes.get(name);
  if (size === undefined) {
    if (partition === undefined) return;
    throw new DynError(
      "DYN_SPEC_INVALID",
      `${labels.partition}: sinfo lists no partition ${JSON.stringify(partition)} (it has ${[...info.nodes.keys()].join(", ")})`,
      { key: "slurm.partition", hint: "pick one of them with --partition (dyn doctor lists them)" },
    );
  }
  if (planNodes <= size) return;
  throw new DynError(
    "DYN_PLAN_INVALID",
    `${labels.nodes}: the plan needs ${planNodes} nodes, and partition ${name} has ${size} (sinfo); the job would never start`,
    {
      key: "slurm.nodes",
      hint: `use at most ${size} nodes (fewer or smaller workers), or a larger partition with --partition`,
    },
  );
}
