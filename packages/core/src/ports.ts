/**
 * Port plan. Every process gets ports unique on its node, expressed as offsets into a per-job window:
 *
 *   DYN_PORT_BASE = ports.base + (SLURM_JOB_ID mod ports.slots) × ports.slot
 *
 * so two jobs that share a node (packed workers, --overlap, or jobs on shared nodes) use disjoint
 * windows unless their ids are congruent modulo `slots`. The window defaults (10000 + 227 × 100) stay
 * below Linux's ephemeral range (32768+). A user-pinned port (frontend.httpPort) is used as is.
 */
import { DynError } from "./errors.js";
import type { PortRef } from "./word.js";

export class PortAllocator {
  readonly #next = new Map<number, number>();
  readonly #slot: number;
  /** One PortRef per offset: a plan has thousands of processes but at most `slot` offsets. */
  readonly #refs: PortRef[] = [];

  constructor(slot: number) {
    this.#slot = slot;
  }

  /**
   * Reserve `names.length` consecutive offsets free on every node in `nodes` (a multi-node worker gets
   * the same offsets on all its nodes, so rank r can reach the leader's port by name).
   */
  take(nodes: readonly number[], names: readonly string[]): Record<string, PortRef> {
    let start = 0;
    for (const n of nodes) start = Math.max(start, this.#next.get(n) ?? 0);
    const end = start + names.length;
    if (end > this.#slot) {
      throw new DynError(
        "DYN_PLAN_INVALID",
        `ports.slot: node ${nodes[0]} needs more than ${this.#slot} ports for this job's processes`,
        {
          key: "ports.slot",
          hint: `raise ports.slot (e.g. ${this.#slot * 2}) or spread workers over more nodes`,
        },
      );
    }
    for (const n of nodes) this.#next.set(n, end);
    const ports: Record<string, PortRef> = {};
    names.forEach((name, i) => {
      ports[name] = this.#ref(start + i);
    });
    return ports;
  }

  #ref(offset: number): PortRef {
    let ref = this.#refs[offset];
    if (!ref) {
      ref = Object.freeze({ kind: "job", offset });
      this.#refs[offset] = ref;
    }
    return ref;
  }

  /** Highest number of ports used on any node. */
  get used(): number {
    return Math.max(0, ...this.#next.values());
  }
}

/** Shell arithmetic for the job's port base (used by the renderer). */
export function portBaseExpression(base: number, slot: number, slots: number): string {
  return `$(( ${base} + (SLURM_JOB_ID % ${slots}) * ${slot} ))`;
}
