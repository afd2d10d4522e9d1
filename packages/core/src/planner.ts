/**
 * The planner: spec + backend → Plan. Decides the worker groups (explicit, or the original guide's
 * default split), lays them out on nodes (layout.ts), gives every process its ports (ports.ts), and
 * asks the backend for each process's argv and env.
 */
import {
  type Backend,
  type CommandContext,
  type ComponentInfo,
  type ProcessRole,
  type Release,
  releaseOf,
  resolveOptions,
} from "./backend.js";
import {
  assignComponents,
  type ComponentAssignment,
  checkComponents,
  type PlanComponent,
  roleSettings,
} from "./components.js";
import { DynError } from "./errors.js";
import { etcdStep, infraEnv, natsStep } from "./infra.js";
import { type GroupRequest, type Layout, layOut, nodesPerWorker, type PlacedWorker } from "./layout.js";
import { checkScale } from "./limits.js";
import {
  isInfraStep,
  type Plan,
  type PlannedStep,
  type PlanWarning,
  type SmokeCountersPlan,
  type WorkerGroupPlan,
} from "./plan.js";
import { PortAllocator } from "./ports.js";
import type { PlanProfile } from "./profiles.js";
import { nodeIpVar } from "./runtime-vars.js";
import { type DeploymentSpec, WORKER_ROLES, type WorkerGroup, type WorkerRole } from "./spec.js";
import type { Arg, PortRef, Word } from "./word.js";

interface ResolvedGroup extends GroupRequest {
  /** GPUs per node of the role's nodes (its component's: slurm.gpusPerNode unless the role sets one). */
  readonly gpusPerNode: number;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly info: ComponentInfo;
}

export interface PlanOptions {
  /** How messages name `dynamo.version` (the CLI passes `--dynamo-version` or `dyn.yaml:3:12`). */
  readonly versionOrigin?: string | undefined;
  /** Lets backend checks read local files (e.g. an engine config); without it none can be read. */
  readonly readFile?: ((path: string) => string | undefined) | undefined;
  /** The site profile the spec was resolved with: recorded in the plan (plan.json, --json). */
  readonly profile?: PlanProfile | undefined;
}

/** resolve the release → options → groups → layOut → assignPorts → commands. */
export function plan(spec: DeploymentSpec, backend: Backend, planOptions: PlanOptions = {}): Plan {
  const release = chooseRelease(spec, backend, planOptions);
  const options = resolveOptions(backend, spec.backend.options);
  const components = backend.components(options, release);
  const hosted = backend.colocatedWithFrontend?.(options, release);
  const model = resolveModel(spec, backend);
  const gpn = spec.slurm.gpusPerNode;

  const groups = resolveGroups(spec, backend, components, release.version);
  const summaries = Object.fromEntries(
    groups.map((g) => [
      g.role,
      {
        workers: g.workers,
        gpusPerWorker: g.gpusPerWorker,
        nodesPerWorker: nodesPerWorker(g.gpusPerWorker, g.gpusPerNode, g.role),
      },
    ]),
  );
  const veto = backend.check?.(options, summaries, release, {
    readFile: planOptions.readFile ?? (() => undefined),
  });
  if (veto) throw new DynError("DYN_UNSUPPORTED", `${veto.key}: ${veto.reason}`, { key: veto.key });
  for (const g of groups) {
    if (nodesPerWorker(g.gpusPerWorker, g.gpusPerNode, g.role) > 1) {
      const how = backend.multiNode(g.role, options, release);
      if (typeof how === "object") {
        throw new DynError(
          "DYN_UNSUPPORTED",
          `roles.${g.role}.gpusPerWorker: ${g.gpusPerWorker} GPUs span ${nodesPerWorker(g.gpusPerWorker, g.gpusPerNode, g.role)} nodes, but with Dynamo ${release.version} ${how.unsupported}`,
          { key: `roles.${g.role}.gpusPerWorker` },
        );
      }
    }
  }
  if (hosted && !groups.some((g) => g.role === hosted && g.workers > 0)) {
    throw new DynError(
      "DYN_PLAN_INVALID",
      `roles.${hosted}.workers: the legacy graph runs one ${hosted} worker in the frontend process, so at least one is needed`,
      { key: `roles.${hosted}.workers` },
    );
  }

  checkScale(spec, backend, groups, options, release, hosted);
  const assignment = assignComponents(
    spec,
    groups.map((g) => g.role),
  );
  checkComponents(spec, assignment, hosted);
  for (const g of groups) checkRoleRelease(spec, backend, g.role, release, planOptions);
  const { layout, components: hetComponents } = layOutComponents(spec, groups, assignment, hosted);
  checkNodeCount(spec, layout, groups);
  checkInfra(spec, release, layout.nodes);

  const ports = new PortAllocator(spec.ports.slot);
  const steps: PlannedStep[] = [];
  const infraNode = layout.frontends[0] ?? 0;
  const infraPorts = ports.take([infraNode], infraPortNames(spec));
  if (spec.infra.etcd.mode === "managed") steps.push(etcdStep(infraNode, infraPorts));
  if (spec.infra.nats.mode === "managed")
    steps.push(natsStep(infraNode, infraPorts, spec.infra.natsMaxPayloadMb));

  const commonEnv = { ...infraEnv(spec, release.facts), ...spec.env };
  /** A process's env as built, with what the release and its GPUs add. */
  const stepEnv = (env: Record<string, Arg>, gpus: readonly number[], nodeGpus = gpn) =>
    withGpus(withSystemServer(env, release), gpus, nodeGpus);
  const frontendPorts = layout.frontends.map((n, i) => frontendPort(spec, ports, n, i));
  // Words are immutable, so the processes using a port share one Word for it (the allocator hands
  // out one PortRef per offset): thousands of processes, at most ports.slot offsets.
  const portWords = new Map<PortRef, Word>();
  const portWord = (ref: PortRef): Word => {
    let word = portWords.get(ref);
    if (!word) {
      word = Object.freeze({ parts: Object.freeze([Object.freeze({ port: ref })]) });
      portWords.set(ref, word);
    }
    return word;
  };
  const frontendPortWords = frontendPorts.map(portWord);
  const hostedWorker = layout.workers.find((w) => w.hostedByFrontend);

  // Ports a process declared, looked up by name; a name it did not declare is a backend bug.
  const portLookup = (own: Record<string, PortRef>) => (name: string) => {
    const ref = own[name];
    if (!ref)
      throw new DynError("DYN_INTERNAL", `backend ${backend.name} used port "${name}" it did not declare`);
    return portWord(ref);
  };
  const context = (
    role: ProcessRole,
    worker: number,
    rank: number,
    placed: { nodes: readonly number[]; gpus: readonly number[]; nnodes: number; leader: number },
    group: ResolvedGroup | undefined,
    own: Record<string, PortRef>,
  ): CommandContext<unknown> => ({
    options,
    release,
    role,
    worker,
    rank,
    nnodes: placed.nnodes,
    gpus: placed.gpus,
    gpusPerWorker: group?.gpusPerWorker ?? 0,
    model,
    // The frontend that hosts a legacy graph's worker runs it in its own process: that worker's args too.
    args:
      role === "frontend"
        ? worker === 0 && group
          ? [...spec.roles.frontend.args, ...group.args]
          : spec.roles.frontend.args
        : (group?.args ?? []),
    nodeIp: nodeIpVar(placed.nodes[0] ?? 0),
    leaderIp: nodeIpVar(placed.leader),
    port: portLookup(own),
    frontendPort: frontendPortWords[role === "frontend" ? worker : 0] as Word,
    hosted: role === "frontend" ? hosted : undefined,
  });

  const hostedGroup = hostedWorker ? groups.find((g) => g.role === hostedWorker.role) : undefined;
  layout.frontends.forEach((n, i) => {
    const gpus = hostedWorker && i === 0 ? hostedWorker.gpus : [];
    const http = frontendPorts[i] as PortRef;
    const names = backend.ports({ role: "frontend", rank: 0, nnodes: 1, options, release });
    const own = {
      http,
      ...ports.take(
        [n],
        unique(names).filter((p) => p !== "http"),
      ),
    };
    const placed = { nodes: [n], gpus, nnodes: 1, leader: n };
    const cmd = backend.command(context("frontend", i, 0, placed, hostedGroup, own));
    const hostedEnv = i === 0 && hostedGroup ? hostedGroup.env : {};
    steps.push({
      id: `frontend-${i}`,
      role: "frontend",
      worker: i,
      rank: 0,
      nodes: [n],
      tasksPerNode: 1,
      gpus,
      ports: own,
      argv: cmd.argv,
      env: stepEnv({ ...commonEnv, ...spec.roles.frontend.env, ...hostedEnv, ...cmd.env }, gpus),
      cwd: cmd.cwd,
      mpi: false,
      registers: i === 0 && hostedGroup ? hostedGroup.info.health : undefined,
      log: `logs/frontend-${i}.log`,
    });
  });

  // Per role, looked up once rather than per worker: the group and the env all its processes share.
  const groupOf = new Map<WorkerRole, { group: ResolvedGroup; env: Record<string, Arg> }>();
  for (const g of groups) {
    if (!groupOf.has(g.role)) groupOf.set(g.role, { group: g, env: { ...commonEnv, ...g.env } });
  }
  for (const placed of layout.workers) {
    if (placed.hostedByFrontend) continue;
    const { group, env } = groupOf.get(placed.role) as { group: ResolvedGroup; env: Record<string, Arg> };
    for (const step of workerSteps(placed, group, env)) steps.push(step);
  }

  function workerSteps(
    placed: PlacedWorker,
    group: ResolvedGroup,
    env: Readonly<Record<string, Arg>>,
  ): PlannedStep[] {
    const nnodes = placed.nodes.length;
    const leader = placed.nodes[0] as number;
    const launch = nnodes > 1 ? backend.multiNode(placed.role, options, release) : "per-node";
    const tasks =
      backend.tasksPerNode?.({ role: placed.role, gpus: placed.gpus.length, options, release }) ?? 1;
    const base = `${placed.role}-w${placed.worker}`;
    if (launch === "mpi" || tasks > 1) {
      const names = backend.ports({ role: placed.role, rank: 0, nnodes, options, release });
      const own = ports.take(placed.nodes, unique(names));
      const ctx = context(placed.role, placed.worker, 0, { ...placed, nnodes, leader }, group, own);
      const cmd = backend.command(ctx);
      return [
        {
          id: base,
          role: placed.role,
          worker: placed.worker,
          rank: 0,
          nodes: placed.nodes,
          tasksPerNode: tasks,
          gpus: placed.gpus,
          ports: own,
          argv: cmd.argv,
          env: stepEnv(envOf(env, cmd.env), placed.gpus, group.gpusPerNode),
          cwd: cmd.cwd,
          mpi: true,
          registers: group.info.health,
          log: `logs/${base}.log`,
        },
      ];
    }
    // One step per node. Every rank's port names are reserved together at the same offsets on all
    // the worker's nodes: rank r reaches the leader's ports by name, and nothing else on any of
    // those nodes can take them.
    const perRank = placed.nodes.map((_, rank) =>
      unique(backend.ports({ role: placed.role, rank, nnodes, options, release })),
    );
    // (A single node's names are already unique: no need to copy them twice.)
    const names = nnodes === 1 ? (perRank[0] as string[]) : unique(perRank.flat());
    const reserved = ports.take(placed.nodes, names);
    return placed.nodes.map((n, rank) => {
      // A one-node worker's own ports are all it reserved (same names, same order): no copy.
      const own = nnodes === 1 ? reserved : pick(reserved, perRank[rank] ?? []);
      const nodes = [n];
      const ctx = context(
        placed.role,
        placed.worker,
        rank,
        { nodes, gpus: placed.gpus, nnodes, leader },
        group,
        own,
      );
      const cmd = backend.command(ctx);
      const id = nnodes > 1 ? `${base}-r${rank}` : base;
      return {
        id,
        role: placed.role,
        worker: placed.worker,
        rank,
        nodes,
        tasksPerNode: 1,
        gpus: placed.gpus,
        ports: own,
        argv: cmd.argv,
        env: stepEnv(envOf(env, cmd.env), placed.gpus, group.gpusPerNode),
        cwd: cmd.cwd,
        mpi: false,
        registers: rank === 0 ? group.info.health : undefined,
        log: `logs/${id}.log`,
      };
    });
  }

  const expected: Record<string, number> = {};
  for (const g of groups)
    if (g.workers > 0) expected[g.info.health] = (expected[g.info.health] ?? 0) + g.workers;

  const { facts: _facts, ...releaseInfo } = release;
  return {
    backend: backend.name,
    release: releaseInfo,
    warnings: ignoredInputs(spec, steps, groups, release.version, hosted),
    ...(planOptions.profile ? { profile: planOptions.profile } : {}),
    nodes: layout.nodes,
    gpusPerNode: gpn,
    groups: groups.map(
      (g): WorkerGroupPlan => ({
        role: g.role,
        workers: g.workers,
        gpusPerWorker: g.gpusPerWorker,
        nodesPerWorker: nodesPerWorker(g.gpusPerWorker, g.gpusPerNode, g.role),
        component: g.info.health,
        alias: g.info.alias,
        dynamo: g.info.dynamo,
        ...(hetComponents ? { hetGroup: assignment.of.get(g.role) ?? 0 } : {}),
      }),
    ),
    ...(hetComponents ? { components: hetComponents } : {}),
    steps,
    infraNode,
    frontend: { node: infraNode, port: frontendPorts[0] as PortRef },
    expected,
    smokeCounters: smokeCounters(spec, release, steps),
    spec: {
      ...spec,
      model,
      backend: { name: spec.backend.name, options: options as Record<string, unknown> },
    },
  };
}

/**
 * The token gate's per-role counter check (docs/reliability.md § The token gate): the release's
 * request counter, read on every registering worker's system port; skipped, with the reason, when
 * switched off, when the release has no counter, or when a worker has no system port to read it on.
 */
function smokeCounters(
  spec: DeploymentSpec,
  release: Release,
  steps: readonly PlannedStep[],
): SmokeCountersPlan {
  if (!spec.readiness.smokeCounters) return { skipped: "readiness.smokeCounters is off" };
  const counter = release.facts.requestCounter;
  if (!counter)
    return {
      skipped: `Dynamo ${release.version} workers export no request counter (no /metrics on a system port)`,
    };
  const blind = steps.find(
    (s) => s.registers && s.role !== "frontend" && !(s.ports.system && "DYN_SYSTEM_PORT" in s.env),
  );
  if (blind) return { skipped: `worker ${blind.id} has no system port to read its request counter on` };
  return { metric: counter.metric, endpointLabel: counter.endpointLabel, endpoint: counter.endpoint };
}

/** Whether a process is given `text`: as a word, as `--flag=text`, or inside a word with runtime parts. */
function mentions(step: PlannedStep, text: string): boolean {
  const inArg = (a: Arg) =>
    typeof a === "string"
      ? a === text || a.endsWith(`=${text}`)
      : a.parts.some((p) => "lit" in p && p.lit.includes(text));
  return step.argv.some(inArg) || Object.values(step.env).some(inArg);
}

/**
 * What the user set that this release does not use, said instead of dropped: a model no process is
 * given (a `dynamo serve` graph reads it from its graph config), and with such a graph the GPUs per
 * worker, which only place workers while the graph config sets tensor parallelism.
 */
function ignoredInputs(
  spec: DeploymentSpec,
  steps: readonly PlannedStep[],
  groups: readonly ResolvedGroup[],
  version: string,
  hosted: WorkerRole | undefined,
): PlanWarning[] {
  const warnings: PlanWarning[] = [];
  const processes = steps.filter((s) => !isInfraStep(s));
  const graph = hosted ? " (the dynamo serve graph reads it from its graph config)" : "";
  for (const [key, value] of [
    ["model.path", spec.model.path],
    ["model.servedName", spec.model.servedName],
  ] as const) {
    if (value !== undefined && !processes.some((s) => mentions(s, value)))
      warnings.push({
        key,
        message: `no process is given ${JSON.stringify(value)} at Dynamo ${version}${graph}`,
      });
  }
  if (!hosted) return warnings;
  for (const g of groups) {
    if (spec.roles[g.role]?.gpusPerWorker === undefined) continue;
    warnings.push({
      key: `roles.${g.role}.gpusPerWorker`,
      message: `at Dynamo ${version} the graph config sets each worker's tensor parallelism; ${g.gpusPerWorker} GPUs only place each ${g.role} worker (CUDA_VISIBLE_DEVICES), so the graph config must use ${g.gpusPerWorker}`,
    });
  }
  return warnings;
}

/** Step 1: which Dynamo release the commands are for, with the backend's facts for it. */
function chooseRelease(spec: DeploymentSpec, backend: Backend, o: PlanOptions): Release {
  return releaseOf(backend, {
    version: spec.dynamo.version,
    origin: o.versionOrigin,
    image: spec.container.kind === "pyxis" ? spec.container.image : undefined,
    allowUnknown: spec.dynamo.allowUnknownVersion,
  });
}

/**
 * etcd and NATS the release cannot run without (dynamo-releases.md § Infrastructure): NATS off
 * only where the release has another event plane; etcd off only with another discovery backend set
 * for every component (spec.env DYN_DISCOVERY_BACKEND) that works across the job's nodes.
 */
function checkInfra(spec: DeploymentSpec, release: Release, nodes: number): void {
  const v = release.version;
  if (spec.infra.nats.mode === "off" && release.facts.nats === "required") {
    throw new DynError(
      "DYN_UNSUPPORTED",
      `infra.nats.mode: Dynamo ${v} cannot run without NATS (its runtime always connects to NATS_SERVER, default nats://localhost:4222)`,
      {
        key: "infra.nats.mode",
        hint: "use --nats managed (the default) or external, or Dynamo ≥ 1.0 (event plane zmq)",
      },
    );
  }
  if (spec.infra.etcd.mode !== "off") return;
  const discovery = spec.env.DYN_DISCOVERY_BACKEND;
  const why = !discovery
    ? `every component discovers through etcd unless DYN_DISCOVERY_BACKEND names another backend`
    : !release.facts.discovery.includes(discovery)
      ? `DYN_DISCOVERY_BACKEND=${discovery} is not a discovery backend of Dynamo ${v}${release.facts.discovery.length ? ` (${release.facts.discovery.join(", ")})` : " (it has only etcd)"}`
      : discovery !== "file"
        ? `discovery backend ${discovery} cannot connect processes on SLURM nodes (mem is in-process, kubernetes needs a cluster API)`
        : nodes > 1
          ? `discovery backend file is single-machine only and this plan spans ${nodes} nodes`
          : undefined;
  if (why) {
    throw new DynError("DYN_UNSUPPORTED", `infra.etcd.mode: off needs another discovery backend: ${why}`, {
      key: "infra.etcd.mode",
      hint: "keep --etcd managed (the default), or run on one node with --env DYN_DISCOVERY_BACKEND=file",
    });
  }
}

/**
 * 0.4.1/0.6.1 read DYN_SYSTEM_PORT only with DYN_SYSTEM_ENABLED=true (dynamo-releases.md
 * § Environment); the SDK era has no per-process system server.
 */
function withSystemServer(env: Record<string, Arg>, release: Release): Record<string, Arg> {
  if (!("DYN_SYSTEM_PORT" in env)) return env;
  if (release.facts.systemServer === "enabled-flag") env.DYN_SYSTEM_ENABLED = "true";
  return env;
}

/**
 * `{ ...base, ...extra }` for one process. Object.assign onto a fresh object gives every process of
 * a group the same hidden class (V8 gives each spread copy its own: thousands of maps, each env's
 * keys enumerated and stored slowly, here and in the renderer). The same own properties in the same
 * order; a `__proto__` key (assign would call the setter) takes the spread.
 */
function envOf(
  base: Readonly<Record<string, Arg>>,
  extra: Readonly<Record<string, Arg>> | undefined,
): Record<string, Arg> {
  if (Object.hasOwn(base, "__proto__") || (extra !== undefined && Object.hasOwn(extra, "__proto__")))
    return { ...base, ...extra };
  return Object.assign({}, base, extra);
}

/** The ports named `names`, in that order, of `reserved`. */
function pick(
  reserved: Readonly<Record<string, PortRef>>,
  names: readonly string[],
): Record<string, PortRef> {
  const own: Record<string, PortRef> = {};
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    own[name] = reserved[name] as PortRef;
  }
  return own;
}

/** The names in first-seen order, without repeats. (A loop: the lists are a few names long.) */
function unique(names: readonly string[]): string[] {
  const out: string[] = [];
  for (const name of names) if (!out.includes(name)) out.push(name);
  return out;
}

/**
 * CUDA_VISIBLE_DEVICES only when a process uses part of a node: whole-node processes see all GPUs.
 * Set on the env object the caller just built (not a copy): it is the same key order either way.
 */
function withGpus(
  env: Record<string, Arg>,
  gpus: readonly number[],
  gpusPerNode: number,
): Record<string, Arg> {
  if (gpus.length === 0 || gpus.length === gpusPerNode) return env;
  env.CUDA_VISIBLE_DEVICES = gpuList(gpus);
  return env;
}

/**
 * `gpus.join(",")`, once per distinct list: thousands of processes, a few lists (a node's GPUs split
 * into workers). Contiguous lists (what the layout makes) are looked up by first index and count.
 */
function gpuList(gpus: readonly number[]): string {
  const first = gpus[0] as number;
  const n = gpus.length;
  if (first + n - 1 !== gpus[n - 1] || first < 0 || n > 1024 || !Number.isInteger(first))
    return gpus.join(",");
  for (let i = 1; i < n; i++) if (gpus[i] !== first + i) return gpus.join(",");
  const key = first * 1024 + n;
  let text = gpuLists.get(key);
  if (text === undefined) {
    text = gpus.join(",");
    gpuLists.set(key, text);
  }
  return text;
}
const gpuLists = new Map<number, string>();

function infraPortNames(spec: DeploymentSpec): string[] {
  const names: string[] = [];
  if (spec.infra.etcd.mode === "managed") names.push("etcd", "etcdPeer");
  if (spec.infra.nats.mode === "managed") names.push("nats", "natsMonitor");
  return names;
}

function frontendPort(spec: DeploymentSpec, ports: PortAllocator, node: number, i: number): PortRef {
  const pinned = spec.roles.frontend.httpPort;
  if (pinned === undefined) return (ports.take([node], ["http"]) as { http: PortRef }).http;
  // Pinned: frontends sharing a node take consecutive ports from the pinned one.
  const fixed = spec.roles.frontend.placement === "shared" ? pinned + i : pinned;
  if (fixed > 65535) {
    throw new DynError(
      "DYN_PLAN_INVALID",
      `roles.frontend.httpPort: ${spec.roles.frontend.count} frontends sharing node 0 need ports ${pinned}-${pinned + spec.roles.frontend.count - 1}, above 65535`,
      { key: "roles.frontend.httpPort", hint: "pin a lower port, or leave it job-scoped" },
    );
  }
  return { kind: "fixed", port: fixed };
}

function resolveModel(spec: DeploymentSpec, backend: Backend): { path: string; servedName: string } {
  const path = spec.model.path ?? backend.defaults?.model;
  if (!path) {
    throw new DynError("DYN_SPEC_INVALID", "model.path: no model given and the backend has no default", {
      key: "model.path",
      hint: "pass --model <hf-id or path>",
    });
  }
  return { path, servedName: spec.model.servedName ?? path };
}

function resolveGroups(
  spec: DeploymentSpec,
  backend: Backend,
  components: Partial<Record<WorkerRole, ComponentInfo>>,
  version: string,
): ResolvedGroup[] {
  const gpn = spec.slurm.gpusPerNode;
  const given = WORKER_ROLES.filter((r) => spec.roles[r] !== undefined);
  let requests: Array<{ role: WorkerRole; group: WorkerGroup }>;
  if (given.length === 0) {
    // The backend's GPUs per worker, else a whole node: the default split fills the nodes with them.
    const gpw = (role: WorkerRole) => backend.defaults?.gpusPerWorker?.[role] ?? gpn;
    requests = defaultSplit(spec, gpw).map(([role, workers]) => ({
      role,
      group: { workers, gpusPerWorker: gpw(role), args: [], env: {} },
    }));
  } else if (given.includes("aggregated")) {
    requests = [{ role: "aggregated", group: spec.roles.aggregated as WorkerGroup }];
  } else {
    const missing = (["prefill", "decode"] as const).find((r) => spec.roles[r] === undefined);
    if (missing) {
      throw new DynError(
        "DYN_SPEC_INVALID",
        `roles.${missing}: a disaggregated deployment needs both prefill and decode workers`,
        {
          key: `roles.${missing}`,
          hint: `set roles.${missing}.workers, or use roles.aggregated`,
        },
      );
    }
    requests = (["prefill", "decode"] as const).map((role) => ({
      role,
      group: spec.roles[role] as WorkerGroup,
    }));
  }
  for (const { role } of requests) {
    if ((spec.roles[role]?.workers ?? 1) > 0) continue;
    // A disaggregated graph with no decode (or no prefill) workers never answers a request.
    throw new DynError(
      "DYN_SPEC_INVALID",
      `roles.${role}.workers: ${role === "aggregated" ? "an aggregated deployment needs at least one worker" : `a disaggregated deployment needs at least one ${role} worker`}`,
      { key: `roles.${role}.workers`, hint: "set it to 1 or more, or drop the role" },
    );
  }
  return requests.map(({ role, group }) => {
    const info = components[role];
    if (!info) {
      throw new DynError(
        "DYN_UNSUPPORTED",
        `roles.${role}: backend ${backend.name} has no ${role} component in Dynamo ${version}`,
        {
          key: `roles.${role}`,
        },
      );
    }
    const roleGpn = given.length > 0 ? roleSettings(spec, role).gpusPerNode : gpn;
    const gpusPerWorker = group.gpusPerWorker ?? backend.defaults?.gpusPerWorker?.[role] ?? roleGpn;
    return {
      role,
      workers: group.workers,
      gpusPerWorker,
      gpusPerNode: roleGpn,
      args: group.args,
      env: group.env,
      info,
    };
  });
}

/**
 * The original guide's default: with only a node count, half the worker nodes prefill and the rest
 * decode (the odd node goes to decode: the guide's own split left a node that srun then rejected),
 * each node filled with workers of the backend's size — one worker per node using all its GPUs when
 * the backend names none. One worker node is shared: prefill takes half its GPUs, decode the rest.
 * Without a node count: one prefill and one decode worker.
 */
function defaultSplit(spec: DeploymentSpec, gpw: (role: WorkerRole) => number): Array<[WorkerRole, number]> {
  const dedicated = spec.roles.frontend.placement === "dedicated" ? spec.roles.frontend.count : 0;
  if (spec.slurm.nodes === "auto")
    return [
      ["prefill", 1],
      ["decode", 1],
    ];
  const gpn = spec.slurm.gpusPerNode;
  const workerNodes = spec.slurm.nodes - dedicated;
  /** Workers of `role` that fill `nodes` whole nodes. */
  const fill = (role: WorkerRole, nodes: number) =>
    gpw(role) <= gpn ? nodes * Math.floor(gpn / gpw(role)) : Math.floor(nodes / Math.ceil(gpw(role) / gpn));
  const prefillNodes = Math.floor(workerNodes / 2);
  let split: Array<[WorkerRole, number]> = [
    ["prefill", fill("prefill", prefillNodes)],
    ["decode", fill("decode", workerNodes - prefillNodes)],
  ];
  if (workerNodes === 1 && gpw("prefill") + gpw("decode") <= gpn) {
    // One node for both: prefill workers take (at least) half its GPUs, decode workers the rest.
    const prefill = Math.floor(Math.max(gpw("prefill"), Math.floor(gpn / 2)) / gpw("prefill"));
    split = [
      ["prefill", prefill],
      ["decode", Math.floor((gpn - prefill * gpw("prefill")) / gpw("decode"))],
    ];
  }
  if (split.some(([, n]) => n < 1)) {
    const size = (role: WorkerRole) => `${gpw(role)} GPU${gpw(role) === 1 ? "" : "s"}`;
    throw new DynError(
      "DYN_PLAN_INVALID",
      `slurm.nodes: ${spec.slurm.nodes} node${spec.slurm.nodes === 1 ? "" : "s"} × ${gpn} GPUs cannot hold the default split (at least one prefill worker of ${size("prefill")} and one decode worker of ${size("decode")}${dedicated ? `, plus ${dedicated} dedicated frontend node${dedicated === 1 ? "" : "s"}` : ""})`,
      {
        key: "slurm.nodes",
        hint: "use more nodes, or set the worker groups explicitly (e.g. --aggregated-workers 1)",
      },
    );
  }
  return split;
}

/** The default split on one worker node puts prefill and decode workers on it together. */
function sharesOneNode(spec: DeploymentSpec): boolean {
  const given = WORKER_ROLES.some((r) => spec.roles[r] !== undefined);
  const dedicated = spec.roles.frontend.placement === "dedicated" ? spec.roles.frontend.count : 0;
  return !given && spec.slurm.nodes !== "auto" && spec.slurm.nodes - dedicated === 1;
}

function checkNodeCount(spec: DeploymentSpec, layout: Layout, groups: readonly ResolvedGroup[]): void {
  const asked = spec.slurm.nodes;
  if (asked === "auto" || asked === layout.nodes) return;
  const gpn = spec.slurm.gpusPerNode;
  const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
  const needs = groups.map((g) => {
    const span = nodesPerWorker(g.gpusPerWorker, g.gpusPerNode, g.role);
    const nodes = new Set(layout.workers.filter((w) => w.role === g.role).flatMap((w) => w.nodes)).size;
    return `${g.role} ${plural(g.workers, "worker")} × ${plural(g.gpusPerWorker, "GPU")} = ${plural(g.workers * g.gpusPerWorker, "GPU")} on ${plural(nodes, "node")}${span > 1 ? ` (${span} whole nodes per worker)` : ""}`;
  });
  const fe = spec.roles.frontend;
  needs.push(
    fe.placement === "dedicated"
      ? `frontend ${plural(fe.count, "dedicated node")} (no GPUs used)`
      : "frontend and infra share node 0",
  );
  const verdict = asked < layout.nodes ? "too few" : "too many (the rest would sit idle)";
  throw new DynError(
    "DYN_PLAN_INVALID",
    `slurm.nodes: ${plural(asked, "node")} × ${plural(gpn, "GPU")} (${asked * gpn} GPUs) is ${verdict}: the plan needs ${plural(layout.nodes, "node")} (${layout.nodes * gpn} GPUs) — ${needs.join("; ")}`,
    { key: "slurm.nodes", hint: `use --nodes ${layout.nodes} (or omit it), or change the worker counts` },
  );
}

/**
 * Node layout per component: component 0 (the frontend, etcd/NATS and the roles with the top-level
 * settings) first, then each other component on nodes of its own, with its own GPUs per node. Node
 * indices are global: component k's nodes follow component k-1's in the job's node list, so a worker
 * is always inside one component (its consecutive nodes are laid out within that component's). One
 * component: exactly the layout of an ordinary job, and no `components` in the plan.
 */
function layOutComponents(
  spec: DeploymentSpec,
  groups: readonly ResolvedGroup[],
  assignment: ComponentAssignment,
  hosted: WorkerRole | undefined,
): { layout: Layout; components: PlanComponent[] | undefined } {
  const colocate = spec.roles.colocate || sharesOneNode(spec);
  const gpn = spec.slurm.gpusPerNode;
  if (assignment.settings.length < 2) {
    const layout = layOut({
      groups,
      gpusPerNode: gpn,
      frontendCount: spec.roles.frontend.count,
      frontendPlacement: spec.roles.frontend.placement,
      colocate,
      hosted,
    });
    return { layout, components: undefined };
  }
  const workers: PlacedWorker[] = [];
  const components: PlanComponent[] = [];
  let frontends: readonly number[] = [];
  let first = 0;
  assignment.settings.forEach((settings, index) => {
    const own = groups.filter((g) => (assignment.of.get(g.role) ?? 0) === index);
    const part = layOut({
      groups: own,
      gpusPerNode: settings.gpusPerNode,
      frontendCount: index === 0 ? spec.roles.frontend.count : 0,
      frontendPlacement: spec.roles.frontend.placement,
      colocate,
      hosted: index === 0 ? hosted : undefined,
    });
    const shift = (n: number) => n + first;
    if (index === 0) frontends = part.frontends;
    for (const w of part.workers) workers.push({ ...w, nodes: w.nodes.map(shift) });
    components.push({
      ...settings,
      index,
      roles: own.map((g) => g.role),
      firstNode: first,
      nodes: part.nodes,
    });
    first += part.nodes;
  });
  // Back in the plan's order: by role as requested, then by worker index (as layOut sorts).
  const order = new Map(groups.map((g, i) => [g.role, i]));
  workers.sort((a, b) => (order.get(a.role) ?? 0) - (order.get(b.role) ?? 0) || a.worker - b.worker);
  return { layout: { nodes: first, workers, frontends }, components };
}

/**
 * A role's own pyxis image names a release too (its tag): it must be the release the plan renders,
 * since every process of the deployment speaks to the same etcd/NATS with one release's protocol.
 */
function checkRoleRelease(
  spec: DeploymentSpec,
  backend: Backend,
  role: WorkerRole,
  release: Release,
  o: PlanOptions,
): void {
  const c = spec.roles[role]?.container;
  if (c?.kind !== "pyxis") return;
  const key = `roles.${role}.container.image`;
  let own: Release;
  try {
    own = releaseOf(backend, {
      version: spec.dynamo.version,
      origin: o.versionOrigin,
      image: c.image,
      allowUnknown: spec.dynamo.allowUnknownVersion,
    });
  } catch (err) {
    if (err instanceof DynError)
      throw new DynError(err.code, `${key}: ${err.message}`, { key, hint: err.hint });
    throw err;
  }
  if (own.version !== release.version) {
    throw new DynError(
      "DYN_UNSUPPORTED",
      `${key}: ${c.image} is Dynamo ${own.version}, but the deployment renders Dynamo ${release.version} (${release.source === "default" ? "the newest release" : `from ${release.origin}`}); every role must run the same release`,
      { key, hint: "use an image of the same release for every role, or set --dynamo-version" },
    );
  }
}
