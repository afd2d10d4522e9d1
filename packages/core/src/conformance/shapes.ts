/**
 * The standard deployment shapes the kit plans for every release a backend declares. Each one says
 * what it needs from the backend: when the backend claims those roles (and, for a worker spanning
 * nodes, a multi-node launch), the shape must render; otherwise it must be refused clearly.
 */
import type { DeploymentSpecInput, WorkerRole } from "../spec.js";

/** What one release of the backend claims: the roles `components()` lists, how big workers launch. */
export interface Claims {
  readonly roles: ReadonlySet<WorkerRole>;
  readonly multiNode: (role: WorkerRole) => boolean;
  /** GPUs per worker of the default split: the backend's default, else a whole node. */
  readonly defaultGpus: (role: WorkerRole, gpusPerNode: number) => number;
}

export type ShapeName =
  | "default split"
  | "default split on one node"
  | "disaggregated"
  | "aggregated"
  | "multi-node worker"
  | "packed workers"
  | "two frontends";

export interface Shape {
  readonly name: ShapeName;
  /** The spec (without backend and options); undefined when the release claims no role this shape uses. */
  spec(claims: Claims, probe: Probe): Omit<DeploymentSpecInput, "backend"> | undefined;
  /** True when the backend's claims promise that this shape renders. */
  mustRender(claims: Claims): boolean;
}

/** User input with shell metacharacters, a quote and a newline: it must reach argv as literal text. */
export interface Probe {
  readonly servedName: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

/** The probe's marker: the kit looks for it in the rendered script, where it must be single-quoted. */
export const PROBE_MARKER = "$(dyn-probe)";

export const PROBE: Probe = Object.freeze({
  servedName: `probe's "model"\n${PROBE_MARKER} \`dyn-probe\``,
  args: Object.freeze(["--dyn-probe", `it's ${PROBE_MARKER}; a b`]),
  env: Object.freeze({ DYN_PROBE: `x'${PROBE_MARKER}"\ny` }),
});

const disagg = (c: Claims) => c.roles.has("prefill") && c.roles.has("decode");
const agg = (c: Claims) => c.roles.has("aggregated");
const group = (workers: number, p: Probe, gpusPerWorker?: number) => ({
  workers,
  ...(gpusPerWorker === undefined ? {} : { gpusPerWorker }),
  args: [...p.args],
  env: { ...p.env },
});
/** Disaggregated when the release can, else aggregated; undefined when it can do neither. */
const roles = (c: Claims, p: Probe, workers: number, gpus?: number) =>
  disagg(c)
    ? { prefill: group(workers, p, gpus), decode: group(workers, p, gpus) }
    : agg(c)
      ? { aggregated: group(workers, p, gpus) }
      : undefined;

export const SHAPES: readonly Shape[] = Object.freeze([
  {
    // Only a node count: the original guide's split, with the backend's own GPUs per worker.
    name: "default split",
    spec: (c) => (disagg(c) ? {} : undefined),
    mustRender: disagg,
  },
  {
    // One node, nothing about workers: prefill and decode workers of the backend's size share it.
    name: "default split on one node",
    spec: (c) => (disagg(c) ? { slurm: { nodes: 1, gpusPerNode: 8 } } : undefined),
    mustRender: (c) => disagg(c) && c.defaultGpus("prefill", 8) + c.defaultGpus("decode", 8) <= 8,
  },
  {
    name: "disaggregated",
    spec: (c, p) =>
      disagg(c)
        ? {
            model: { servedName: p.servedName },
            roles: { prefill: group(2, p), decode: group(1, p), frontend: { args: [...p.args] } },
          }
        : undefined,
    mustRender: disagg,
  },
  {
    name: "aggregated",
    spec: (c, p) =>
      agg(c)
        ? {
            model: { servedName: p.servedName },
            roles: { aggregated: group(2, p), frontend: { args: [...p.args] } },
          }
        : undefined,
    mustRender: agg,
  },
  {
    // 4-GPU nodes: the prefill (or aggregated) worker spans two of them.
    name: "multi-node worker",
    spec: (c, p) => {
      const r = disagg(c)
        ? { prefill: group(1, p, 8), decode: group(1, p, 4) }
        : agg(c)
          ? { aggregated: group(1, p, 8) }
          : undefined;
      return r && { slurm: { gpusPerNode: 4 }, model: { servedName: p.servedName }, roles: r };
    },
    mustRender: (c) => (disagg(c) ? c.multiNode("prefill") : agg(c) && c.multiNode("aggregated")),
  },
  {
    // Four 2-GPU workers per role on 8-GPU nodes: several workers share a node.
    name: "packed workers",
    spec: (c, p) => {
      const r = roles(c, p, 4, 2);
      return r && { slurm: { gpusPerNode: 8 }, model: { servedName: p.servedName }, roles: r };
    },
    mustRender: (c) => disagg(c) || agg(c),
  },
  {
    // Two frontends on the first node: the frontend's own index and ports.
    name: "two frontends",
    spec: (c, p) => {
      const r = roles(c, p, 1);
      return r && { roles: { ...r, frontend: { count: 2, args: [...p.args] } } };
    },
    mustRender: (c) => disagg(c) || agg(c),
  },
]);
