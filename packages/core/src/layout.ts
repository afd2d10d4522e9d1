/**
 * Node and GPU layout: which node indices and GPU indices each worker gets. Pure arithmetic, no
 * knowledge of commands. Rules (docs/ARCHITECTURE.md § Planner):
 *  - a worker needing more GPUs than a node has takes gpus/gpusPerNode whole consecutive nodes;
 *  - smaller workers are packed onto a node with disjoint GPU index ranges;
 *  - roles are laid out prefill → decode → aggregated; a new role starts on a fresh node unless
 *    `colocate` allows prefill and decode to share one;
 *  - frontend and infra sit on node 0 (shared) or on nodes of their own (dedicated).
 */
import { DynError } from "./errors.js";
import type { WorkerRole } from "./spec.js";

export interface GroupRequest {
  readonly role: WorkerRole;
  readonly workers: number;
  readonly gpusPerWorker: number;
}

export interface PlacedWorker {
  readonly role: WorkerRole;
  readonly worker: number;
  readonly nodes: readonly number[];
  readonly gpus: readonly number[];
  /** Runs inside the frontend process (legacy graphs). */
  readonly hostedByFrontend: boolean;
}

export interface Layout {
  readonly nodes: number;
  readonly workers: readonly PlacedWorker[];
  /** Node of each frontend instance. */
  readonly frontends: readonly number[];
}

export interface LayoutRequest {
  readonly groups: readonly GroupRequest[];
  readonly gpusPerNode: number;
  readonly frontendCount: number;
  readonly frontendPlacement: "shared" | "dedicated";
  readonly colocate: boolean;
  /** Legacy graphs: first worker of this role runs in the frontend process on node 0. */
  readonly hosted: WorkerRole | undefined;
}

export function nodesPerWorker(gpusPerWorker: number, gpusPerNode: number, role: WorkerRole): number {
  if (gpusPerWorker <= gpusPerNode) return 1;
  if (gpusPerWorker % gpusPerNode !== 0) {
    throw new DynError(
      "DYN_PLAN_INVALID",
      `roles.${role}.gpusPerWorker: ${gpusPerWorker} GPUs do not tile ${gpusPerNode}-GPU nodes`,
      {
        key: `roles.${role}.gpusPerWorker`,
        hint: `use at most ${gpusPerNode} or a multiple of ${gpusPerNode} (e.g. ${Math.ceil(gpusPerWorker / gpusPerNode) * gpusPerNode})`,
      },
    );
  }
  return gpusPerWorker / gpusPerNode;
}

interface NodeState {
  used: number;
  roles: Set<WorkerRole>;
}

export function layOut(req: LayoutRequest): Layout {
  const nodes: NodeState[] = [];
  const node = (i: number): NodeState => {
    while (nodes.length <= i) nodes.push({ used: 0, roles: new Set() });
    return nodes[i] as NodeState;
  };
  const frontends: number[] = [];
  if (req.frontendPlacement === "dedicated") {
    for (let i = 0; i < req.frontendCount; i++) {
      frontends.push(i);
      node(i).used = req.gpusPerNode; // no workers on a dedicated frontend node
    }
  } else {
    for (let i = 0; i < req.frontendCount; i++) frontends.push(0);
    node(0);
  }

  const workers: PlacedWorker[] = [];
  // The hosted worker is placed before any group: node 0 must hold it whatever role comes first
  // (a legacy graph hosting decode would otherwise find node 0 already filled by prefill).
  const hostedGroup = req.hosted ? req.groups.find((g) => g.role === req.hosted && g.workers > 0) : undefined;
  if (hostedGroup) workers.push(placeHosted(hostedGroup, req, node(0)));

  let cursor = req.frontendPlacement === "dedicated" ? req.frontendCount : 0;
  for (const group of req.groups) {
    const span = nodesPerWorker(group.gpusPerWorker, req.gpusPerNode, group.role);
    for (let w = group === hostedGroup ? 1 : 0; w < group.workers; w++) {
      if (span > 1) {
        // Whole consecutive nodes, starting on an untouched node.
        while (node(cursor).used > 0) cursor++;
        const span_nodes = Array.from({ length: span }, (_, k) => cursor + k);
        for (const n of span_nodes) {
          node(n).used = req.gpusPerNode;
          node(n).roles.add(group.role);
        }
        workers.push(place(group, w, span_nodes, 0, false, req.gpusPerNode));
        cursor += span;
        continue;
      }
      // Packed: first node from the cursor with room and no conflicting role.
      while (!fits(node(cursor), group, req)) cursor++;
      const n = node(cursor);
      workers.push(place(group, w, [cursor], n.used, false));
      n.used += group.gpusPerWorker;
      n.roles.add(group.role);
    }
  }
  // Keep the plan's order: by role as requested, then by worker index.
  // (Each role's index is looked up once: the comparator runs O(workers × log workers) times.)
  const roleOrder = new Map<WorkerRole, number>();
  req.groups.forEach((g, i) => {
    if (!roleOrder.has(g.role)) roleOrder.set(g.role, i);
  });
  const order = (w: PlacedWorker) => roleOrder.get(w.role) ?? -1;
  workers.sort((a, b) => order(a) - order(b) || a.worker - b.worker);
  return { nodes: Math.max(nodes.length, 1), workers, frontends };
}

/** Worker 0 of the hosted role runs inside the frontend process on node 0 (legacy graphs). */
function placeHosted(group: GroupRequest, req: LayoutRequest, n0: NodeState): PlacedWorker {
  if (nodesPerWorker(group.gpusPerWorker, req.gpusPerNode, group.role) > 1) {
    throw new DynError(
      "DYN_UNSUPPORTED",
      `roles.${group.role}.gpusPerWorker: the legacy graph runs one ${group.role} worker inside the frontend process, so it must fit on one node (${req.gpusPerNode} GPUs)`,
      { key: `roles.${group.role}.gpusPerWorker` },
    );
  }
  if (req.frontendPlacement === "dedicated") {
    throw new DynError(
      "DYN_UNSUPPORTED",
      "roles.frontend.placement: the legacy graph runs a worker inside the frontend process, so the frontend cannot have a dedicated GPU-less node",
      { key: "roles.frontend.placement" },
    );
  }
  const placed = place(group, 0, [0], n0.used, true);
  n0.used += group.gpusPerWorker;
  n0.roles.add(group.role);
  return placed;
}

function fits(n: NodeState, group: GroupRequest, req: LayoutRequest): boolean {
  if (n.used + group.gpusPerWorker > req.gpusPerNode) return false;
  for (const other of n.roles) {
    if (other === group.role) continue;
    const pd = (a: WorkerRole, b: WorkerRole) =>
      (a === "prefill" && b === "decode") || (a === "decode" && b === "prefill");
    if (!(req.colocate && pd(other, group.role))) return false;
  }
  return true;
}

function place(
  group: GroupRequest,
  w: number,
  nodes: number[],
  firstGpu: number,
  hostedByFrontend: boolean,
  perNode = group.gpusPerWorker,
): PlacedWorker {
  const count = Math.min(perNode, group.gpusPerWorker);
  const gpus: number[] = [];
  for (let k = 0; k < count; k++) gpus.push(firstGpu + k);
  return { role: group.role, worker: w, nodes, gpus, hostedByFrontend };
}
