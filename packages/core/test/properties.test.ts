/**
 * Planner properties over random valid specs: ports unique on every node a process runs on,
 * multi-node ranks sharing the leader's offsets, GPUs never double-booked, prefill/decode apart
 * unless colocated, no idle nodes, and the node count a plan reports is exactly what it accepts.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Backend, DynError, type Plan, showArg } from "../src/index.js";
import { planForTest, type TestSpec, thrownBy } from "../src/testing.js";
import { legacy, mpi, perNode } from "./fixtures/backends.js";

const BACKENDS: Record<string, Backend> = { pernode: perNode, mpi, legacy };

type Group = { workers: number; gpusPerWorker: number };

const validSpec = fc
  .record({
    backend: fc.constantFrom("pernode", "mpi", "legacy"),
    gpn: fc.constantFrom(1, 2, 4, 8),
    aggregated: fc.boolean(),
    colocate: fc.boolean(),
    frontends: fc.integer({ min: 1, max: 3 }),
    dedicated: fc.boolean(),
    etcd: fc.constantFrom("managed", "off"),
    nats: fc.constantFrom("managed", "off"),
    pinned: fc.option(fc.integer({ min: 1024, max: 9000 }), { nil: undefined }),
    groups: fc.array(
      fc.record({
        workers: fc.integer({ min: 1, max: 4 }),
        // At most a node (packed, holes allowed) or whole multiples of a node.
        size: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 2, max: 3 })),
      }),
      { minLength: 2, maxLength: 2 },
    ),
  })
  .map((r): { backend: string; spec: TestSpec } => {
    const legacyGraph = r.backend === "legacy";
    const gpus = (size: number) =>
      size <= 1 || legacyGraph ? Math.max(1, Math.ceil(Math.min(size, 1) * r.gpn)) : size * r.gpn;
    const [a, b] = r.groups.map((g) => ({ workers: g.workers, gpusPerWorker: gpus(g.size) })) as [
      Group,
      Group,
    ];
    return {
      backend: r.backend,
      spec: {
        model: { path: "m" },
        slurm: { gpusPerNode: r.gpn },
        infra: { etcd: { mode: r.etcd as "managed" }, nats: { mode: r.nats as "managed" } },
        // Without etcd every component needs another discovery backend; file is the one that works
        // on SLURM, and only on one machine (the planner refuses it across nodes: see planOf).
        ...(r.etcd === "off" ? { env: { DYN_DISCOVERY_BACKEND: "file" } } : {}),
        roles: {
          ...(r.aggregated && !legacyGraph ? { aggregated: a } : { prefill: a, decode: b }),
          colocate: r.colocate,
          frontend: {
            count: r.frontends,
            placement: r.dedicated && !legacyGraph ? "dedicated" : "shared",
            ...(r.pinned === undefined ? {} : { httpPort: r.pinned }),
          },
        },
      },
    };
  });

/**
 * The plan of a valid spec. Without etcd (file discovery), the planner accepts exactly the one-node
 * plans and refuses the rest on infra.etcd.mode: then the properties check the same shape with etcd.
 */
function planOf({ backend, spec }: { backend: string; spec: TestSpec }): Plan {
  const b = BACKENDS[backend] as Backend;
  if (spec.infra?.etcd?.mode !== "off") return planForTest(b, spec);
  const withEtcd = planForTest(b, { ...spec, infra: { ...spec.infra, etcd: { mode: "managed" } } });
  if (withEtcd.nodes === 1) {
    const plan = planForTest(b, spec);
    expect(plan.nodes).toBe(1);
    expect(plan.steps.map((s) => s.role)).not.toContain("etcd");
    return plan;
  }
  expect(thrownBy(() => planForTest(b, spec))).toMatchObject({
    code: "DYN_UNSUPPORTED",
    key: "infra.etcd.mode",
  });
  return withEtcd;
}

/** Every (node, port) a step binds: job offsets as "+N", pinned ports as numbers. */
function bindings(plan: Plan): Map<number, string[]> {
  const byNode = new Map<number, string[]>();
  for (const step of plan.steps) {
    for (const node of step.nodes) {
      // Ranks of a per-node worker are separate steps, each on its own node.
      const list = byNode.get(node) ?? [];
      for (const ref of Object.values(step.ports))
        list.push(ref.kind === "job" ? `+${ref.offset}` : String(ref.port));
      byNode.set(node, list);
    }
  }
  return byNode;
}

describe("planner properties", () => {
  it("ports are unique on each node a process runs on", () => {
    fc.assert(
      fc.property(validSpec, (input) => {
        const plan = planOf(input);
        for (const [node, ports] of bindings(plan)) {
          expect(new Set(ports).size, `node ${node}: ${ports.join(" ")}`).toBe(ports.length);
          for (const p of ports)
            if (p.startsWith("+")) expect(Number(p.slice(1))).toBeLessThan(plan.spec.ports.slot);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("the ranks of a multi-node worker share the leader's port offsets and point at the leader", () => {
    fc.assert(
      fc.property(validSpec, (input) => {
        const plan = planOf(input);
        const byWorker = new Map<string, Plan["steps"][number][]>();
        for (const s of plan.steps) {
          if (s.role === "etcd" || s.role === "nats" || s.role === "frontend") continue;
          const key = `${s.role}-${s.worker}`;
          byWorker.set(key, [...(byWorker.get(key) ?? []), s]);
        }
        for (const ranks of byWorker.values()) {
          const leader = ranks[0] as Plan["steps"][number];
          for (const [r, step] of ranks.entries()) {
            expect(step.rank).toBe(r);
            expect(step.ports).toEqual(leader.ports);
            const argv = step.argv.map(showArg);
            const at = argv.indexOf("--dist-init-addr");
            if (ranks.length > 1)
              expect(argv[at + 1]).toMatch(new RegExp(`^\\$\\{DYN_NODE_IP_${leader.nodes[0]}\\}:`));
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it("GPUs are never double-booked and CUDA_VISIBLE_DEVICES matches partial-node use", () => {
    fc.assert(
      fc.property(validSpec, (input) => {
        const plan = planOf(input);
        const used = new Map<number, number[]>();
        for (const step of plan.steps) {
          for (const node of step.nodes) used.set(node, [...(used.get(node) ?? []), ...step.gpus]);
          const cvd = step.env.CUDA_VISIBLE_DEVICES;
          const partial = step.gpus.length > 0 && step.gpus.length < plan.gpusPerNode;
          expect(cvd === undefined ? undefined : showArg(cvd)).toBe(
            partial ? step.gpus.join(",") : undefined,
          );
          if (step.nodes.length > 1 || step.rank > 0) expect(step.gpus.length).toBe(plan.gpusPerNode);
        }
        for (const gpus of used.values()) {
          expect(new Set(gpus).size).toBe(gpus.length);
          for (const g of gpus) expect(g >= 0 && g < plan.gpusPerNode).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("prefill and decode share a node only with roles.colocate; no node sits idle", () => {
    fc.assert(
      fc.property(validSpec, (input) => {
        const plan = planOf(input);
        const roles = new Map<number, Set<string>>();
        for (const step of plan.steps) {
          for (const n of step.nodes) {
            expect(n).toBeLessThan(plan.nodes);
            const set = roles.get(n) ?? new Set();
            set.add(step.role);
            roles.set(n, set);
          }
        }
        expect(roles.size).toBe(plan.nodes);
        const hosted = plan.steps.find((s) => s.role === "frontend" && s.registers);
        for (const [node, set] of roles) {
          if (node === hosted?.nodes[0]) continue; // the hosted worker's role is not a step role
          if (set.has("prefill") && set.has("decode")) expect(plan.spec.roles.colocate).toBe(true);
        }
        // Multi-node workers take consecutive whole nodes.
        for (const s of plan.steps.filter((s) => s.nodes.length > 1)) {
          expect(s.nodes).toEqual(s.nodes.map((_, i) => (s.nodes[0] as number) + i));
        }
      }),
      { numRuns: 200 },
    );
  });

  it("the plan's node count is exactly the one it accepts", () => {
    fc.assert(
      fc.property(validSpec, (input) => {
        const plan = planOf(input);
        const withNodes = (nodes: number) =>
          planOf({ ...input, spec: { ...input.spec, slurm: { ...input.spec.slurm, nodes } } });
        expect(withNodes(plan.nodes).steps).toEqual(plan.steps);
        for (const wrong of [plan.nodes - 1, plan.nodes + 1].filter((n) => n >= 1)) {
          try {
            withNodes(wrong);
            expect.unreachable(`accepted ${wrong} nodes for a ${plan.nodes}-node plan`);
          } catch (e) {
            expect(DynError.is(e) && e.key).toBe("slurm.nodes");
          }
        }
        const workers = plan.groups.reduce((sum, g) => sum + g.workers, 0);
        expect(Object.values(plan.expected).reduce((a, b) => a + b, 0)).toBe(workers);
      }),
      { numRuns: 100 },
    );
  });
});
