/** Explain a plan: a plain-text table (node → processes, GPUs, ports) and a stable JSON form. */
import type { PlanComponent } from "./components.js";
import type { Plan, PlannedStep } from "./plan.js";
import { shellQuote } from "./quote.js";
import { type PortRef, showArg } from "./word.js";

const showPort = (p: PortRef) => (p.kind === "fixed" ? String(p.port) : `+${p.offset}`);

/** A port as JSON: a fixed number, or an offset in the job's port window (never a string). */
export type PortJson =
  | { readonly kind: "fixed"; readonly port: number }
  | { readonly kind: "offset"; readonly offset: number };

export const portJson = (p: PortRef): PortJson =>
  p.kind === "fixed" ? { kind: "fixed", port: p.port } : { kind: "offset", offset: p.offset };

function gpuRange(gpus: readonly number[]): string {
  if (gpus.length === 0) return "-";
  const first = gpus[0] as number;
  const last = gpus[gpus.length - 1] as number;
  return gpus.length === 1 ? String(first) : `${first}-${last}`;
}

function nodesOf(step: PlannedStep): string {
  const first = step.nodes[0] as number;
  const last = step.nodes[step.nodes.length - 1] as number;
  return step.nodes.length === 1 ? String(first) : `${first}-${last}`;
}

/** `from --dynamo-version 1.5`, `from image tag 1.4.2`, `default (newest)`. */
function releaseWhy(r: Plan["release"]): string {
  if (r.source === "default") return "default: the newest release";
  return `from ${r.origin}${r.source === "explicit" && r.requested ? ` ${r.requested}` : ""}`;
}

/** Engine args as a shell would read them back: `--max-model-len 8192 --chat-template 'a b'`. */
const showWords = (words: readonly string[]) => words.map(shellQuote).join(" ");

/** `profile gpu-site (from --profile): /etc/dyn/profiles.yaml (site), ~/.config/dyn/profiles.yaml (user)`. */
export function profileLine(p: NonNullable<Plan["profile"]>): string {
  const files = [...new Set(p.sources.map((s) => `${s.file} (${s.scope})`))].join(", ");
  const chain = p.chain.length > 1 ? ` extends ${p.chain.slice(1).join(" → ")}` : "";
  const unused = p.unused.length > 0 ? `; not used here: ${p.unused.join(", ")} (no container)` : "";
  return `profile ${p.name}${chain} (${p.from}): ${files}${unused}`;
}

/** A container in a word or two: the image, or `no container` (+ its setup line). */
function showContainer(c: PlanComponent["container"]): string {
  return c.kind === "pyxis"
    ? `image ${c.image}`
    : c.setup
      ? `no container, setup ${shellQuote(c.setup)}`
      : "no container";
}

/** `component 1 (--het-group=1): nodes 1-2 · partition gpu2 · 4 GPUs per node · image … · decode`. */
function componentLine(c: PlanComponent): string {
  const last = c.firstNode + c.nodes - 1;
  const what = c.index === 0 ? ["frontend", "etcd/NATS", ...c.roles] : c.roles;
  return [
    `component ${c.index} (--het-group=${c.index}): node${c.nodes > 1 ? `s ${c.firstNode}-${last}` : ` ${c.firstNode}`}`,
    `partition ${c.partition ?? "(default)"}`,
    ...(c.account ? [`account ${c.account}`] : []),
    ...(c.qos ? [`qos ${c.qos}`] : []),
    `${c.gpusPerNode} ${c.gpuType ? `${c.gpuType} ` : ""}GPUs per node`,
    ...(c.constraint ? [`constraint ${c.constraint}`] : []),
    showContainer(c.container),
    what.join(", "),
  ].join(" · ");
}

export function explainPlan(plan: Plan): string {
  const s = plan.spec;
  const lines: string[] = [];
  const het = plan.components;
  const size = het
    ? `${plan.nodes} node${plan.nodes > 1 ? "s" : ""} in ${het.length} components (heterogeneous job)`
    : `${plan.nodes} node${plan.nodes > 1 ? "s" : ""} × ${plan.gpusPerNode} GPUs`;
  lines.push(
    `backend ${plan.backend} · Dynamo ${plan.release.version} (${releaseWhy(plan.release)}) · ${size} · model ${s.model.path ?? "(backend default)"}`,
  );
  if (plan.profile) lines.push(`  ${profileLine(plan.profile)}`);
  for (const note of plan.release.notes) lines.push(`  note: ${note}`);
  for (const w of plan.warnings ?? []) lines.push(`  warning: ${w.key}: ${w.message}`);
  for (const c of het ?? []) lines.push(`  ${componentLine(c)}`);
  for (const g of plan.groups) {
    lines.push(
      `  ${g.role}: ${g.workers} worker${g.workers === 1 ? "" : "s"} × ${g.gpusPerWorker} GPU${g.gpusPerWorker > 1 ? "s" : ""}` +
        `${g.nodesPerWorker > 1 ? ` (${g.nodesPerWorker} nodes each)` : ""}${g.hetGroup !== undefined ? ` in component ${g.hetGroup}` : ""} — ${g.alias} → ${g.dynamo}, registers as "${g.component}"`,
    );
    const args = s.roles[g.role]?.args ?? [];
    if (args.length > 0) lines.push(`    engine args: ${showWords(args)}`);
  }
  if (s.roles.frontend.args.length > 0) lines.push(`  frontend args: ${showWords(s.roles.frontend.args)}`);
  // A frontend that registers as a worker component hosts that worker (legacy graphs): say so.
  const hostedRole = (step: PlannedStep) =>
    step.role === "frontend" && step.registers
      ? `frontend+${plan.groups.find((g) => g.component === step.registers)?.role ?? step.registers}`
      : step.role;
  const rows = plan.steps.map((step) => [
    nodesOf(step),
    step.id,
    hostedRole(step),
    gpuRange(step.gpus),
    Object.entries(step.ports)
      .map(([name, p]) => `${name}=${showPort(p)}`)
      .join(" ") || "-",
  ]);
  const header = ["NODE", "PROCESS", "ROLE", "GPUS", "PORTS"];
  // A loop, not Math.max(...rows): a plan of tens of thousands of processes overflows the call stack.
  const widths = header.map((h) => h.length);
  for (const r of rows) {
    for (let i = 0; i < r.length; i++) widths[i] = Math.max(widths[i] as number, (r[i] as string).length);
  }
  const fmt = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] as number))
      .join("  ")
      .trimEnd();
  lines.push("", fmt(header), ...rows.map(fmt), "");
  lines.push(
    `ports: +N = offset in the job's window ${s.ports.base} + (SLURM_JOB_ID mod ${s.ports.slots}) × ${s.ports.slot}`,
    `ready when /health lists ${Object.entries(plan.expected)
      .map(([c, n]) => `${n} × ${c}`)
      .join(", ")} (timeout ${s.readiness.timeoutSeconds} s)`,
  );
  return lines.join("\n");
}

/** A heterogeneous job component's SLURM resources as JSON (null where unset): plan.json and dyn status. */
export type ComponentResourcesJson = ReturnType<typeof componentResourcesJson>;

export function componentResourcesJson(c: {
  readonly partition?: string | null | undefined;
  readonly account?: string | null | undefined;
  readonly qos?: string | null | undefined;
  readonly gpusPerNode: number;
  readonly gpuType?: string | null | undefined;
  readonly constraint?: string | null | undefined;
}) {
  return {
    partition: c.partition ?? null,
    account: c.account ?? null,
    qos: c.qos ?? null,
    gpusPerNode: c.gpusPerNode,
    gpuType: c.gpuType ?? null,
    constraint: c.constraint ?? null,
  };
}

/**
 * `dyn plan --json` and plan.json: every field is always present (null where it does not apply);
 * ports are numbers ({kind: "fixed", port} or {kind: "offset", offset} in the job's window).
 */
export interface PlanComponentJson extends ComponentResourcesJson {
  readonly index: number;
  readonly roles: PlanComponent["roles"];
  readonly firstNode: number;
  readonly nodes: number;
  readonly container: PlanComponent["container"];
}

export interface PlanJson {
  readonly schemaVersion: 1;
  readonly format: "dyn.plan/v1";
  readonly backend: string;
  readonly release: Omit<Plan["release"], "requested"> & { readonly requested: string | null };
  readonly warnings: NonNullable<Plan["warnings"]>;
  /** The site profile used, null without one. */
  readonly profile: NonNullable<Plan["profile"]> | null;
  readonly nodes: number;
  readonly gpusPerNode: number;
  readonly groups: ReadonlyArray<
    Omit<Plan["groups"][number], "hetGroup"> & { readonly hetGroup: number | null }
  >;
  /** Heterogeneous jobs only: each component's nodes, resources and roles; null otherwise. */
  readonly components: ReadonlyArray<PlanComponentJson> | null;
  readonly expected: Plan["expected"];
  /** The token gate's per-role counter check, or why it is skipped (null: an older plan). */
  readonly smokeCounters: NonNullable<Plan["smokeCounters"]> | null;
  readonly ports: { readonly base: number; readonly slot: number; readonly slots: number };
  readonly frontend: { readonly node: number; readonly port: PortJson };
  readonly processes: ReadonlyArray<{
    id: string;
    role: string;
    worker: number;
    rank: number;
    nodes: readonly number[];
    gpus: readonly number[];
    ports: Record<string, PortJson>;
    command: string[];
    env: Record<string, string>;
    registers: string | null;
    log: string;
  }>;
  readonly spec: Plan["spec"];
}

export function planToJson(plan: Plan): PlanJson {
  return {
    schemaVersion: 1,
    format: "dyn.plan/v1",
    backend: plan.backend,
    release: { ...plan.release, requested: plan.release.requested ?? null },
    warnings: plan.warnings ?? [],
    profile: plan.profile ?? null,
    nodes: plan.nodes,
    gpusPerNode: plan.gpusPerNode,
    groups: plan.groups.map((g) => ({ ...g, hetGroup: g.hetGroup ?? null })),
    components:
      plan.components?.map((c) => ({
        index: c.index,
        roles: c.roles,
        firstNode: c.firstNode,
        nodes: c.nodes,
        ...componentResourcesJson(c),
        container: c.container,
      })) ?? null,
    expected: plan.expected,
    smokeCounters: plan.smokeCounters ?? null,
    ports: { base: plan.spec.ports.base, slot: plan.spec.ports.slot, slots: plan.spec.ports.slots },
    frontend: { node: plan.frontend.node, port: portJson(plan.frontend.port) },
    processes: plan.steps.map((s) => ({
      id: s.id,
      role: s.role,
      worker: s.worker,
      rank: s.rank,
      nodes: s.nodes,
      gpus: s.gpus,
      ports: Object.fromEntries(Object.entries(s.ports).map(([k, p]) => [k, portJson(p)])),
      command: s.argv.map(showArg),
      env: Object.fromEntries(Object.entries(s.env).map(([k, v]) => [k, showArg(v)])),
      registers: s.registers ?? null,
      log: s.log,
    })),
    spec: plan.spec,
  };
}
