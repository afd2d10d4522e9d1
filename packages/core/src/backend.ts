/**
 * The backend-plugin contract (docs/writing-a-backend.md). A backend is a plain frozen object made by
 * `defineBackend`; the core plans where processes go (nodes, GPUs, ports, etcd/NATS, readiness) and
 * asks the backend what each process runs. Third parties implement the same contract: depend on
 * @dyn/core (peer range `^<CONTRACT_VERSION>.0.0`) and default-export `defineBackend({...})`.
 * `conformance(backend)` in @dyn/core/testing checks a backend against everything written here.
 */
import type { z } from "zod";
import { DynError } from "./errors.js";
import {
  defineReleases,
  type ReleaseRequest,
  type ReleaseTable,
  type ResolvedRelease,
  type RuntimeFacts,
  resolveRelease,
} from "./releases.js";
import type { WorkerRole } from "./spec.js";
import { parseOrThrow } from "./validate.js";
import type { Arg, Word } from "./word.js";

/**
 * The contract's version, stamped into every backend by `defineBackend`; dyn refuses a backend stamped
 * with another one (DYN_BACKEND_INCOMPATIBLE). It is @dyn/core's major version, so a plugin states
 * the range it supports as `"peerDependencies": { "@dyn/core": "^1.0.0" }`.
 *
 * Bumped (with @dyn/core's major) only by a change that breaks a backend written against it: a
 * required field or function added to `BackendDefinition`, a field removed from or changed in what
 * the core passes (`CommandContext`, `Release`, `GroupSummary`, `CheckHost`), a result read
 * differently, or an env variable the core stops setting. Not bumped (minor release) by an optional
 * field, a new context field, a new helper, a new Dynamo release or runtime fact, or a new check
 * of the conformance kit.
 */
export const CONTRACT_VERSION = 1;

/**
 * The Dynamo namespace every process of a deployment registers in. dyn does not set DYN_NAMESPACE,
 * so Dynamo's default applies (dynamo-releases.md § Environment): an endpoint a backend names
 * explicitly is `dyn://dynamo.<component>.<endpoint>`, e.g. `--endpoint dyn://dynamo.prefill.generate`.
 * Use this constant rather than the literal.
 */
export const DYNAMO_NAMESPACE = "dynamo";

/**
 * Env the core gives Dynamo processes, by name, with when. A backend's `command().env` must not set
 * these (the conformance kit checks the values the core set reach the process).
 */
export const CORE_ENV: Readonly<Record<string, string>> = Object.freeze({
  ETCD_ENDPOINTS: "every process, unless infra.etcd.mode is off: the managed or external etcd",
  NATS_SERVER:
    "every process, unless infra.nats.mode is off (then never exported: the runtime would connect)",
  DYN_EVENT_PLANE: "zmq, when NATS is off on a release whose event plane defaults to NATS (1.0–1.2)",
  DYN_SYSTEM_ENABLED:
    "true, when the process sets DYN_SYSTEM_PORT on a release that reads it only with this (0.4.1, 0.6.1)",
  CUDA_VISIBLE_DEVICES:
    "the process's GPUs on its node, when it uses part of the node (mapped onto SLURM's GPUs at start)",
  HF_HOME: "every Dynamo process: the model cache (hfCache, in the container /root/.cache/huggingface)",
});

/**
 * Env a backend must add itself: the core cannot know which port is which process's system server.
 * Every worker process that registers (the leader of a multi-node worker) sets DYN_SYSTEM_PORT to a
 * port of its own (`ports()` declares "system", `env: { DYN_SYSTEM_PORT: ctx.port("system") }`): from
 * 0.9.0 it turns the system server (/health, /live, /metrics) on, 0.4.1/0.6.1's default 9090 collides
 * between workers on a node, and from 1.4.0 workers self-host their model card on it
 * (dynamo-releases.md § Environment). Releases whose `systemServer` fact is `none` (the SDK era) need none.
 */
export const BACKEND_ENV: readonly string[] = Object.freeze(["DYN_SYSTEM_PORT"]);

const BRAND = Symbol.for("dyn.backend");

export type ProcessRole = "frontend" | WorkerRole;

/** How a worker that spans several nodes is launched. */
export type MultiNodeLaunch =
  /** One srun step per node, each running the engine with its own node rank (SGLang, vLLM ≥ 1.0). */
  | "per-node"
  /** One srun step over all the worker's nodes with one task per GPU (TRT-LLM under MPI). */
  | "mpi"
  /** Not supported: the string says why (becomes a DYN_UNSUPPORTED error). */
  | { readonly unsupported: string };

export interface ComponentInfo {
  /** The name users know from the original SLURM guide, e.g. `SGLangPrefillWorker`. */
  readonly alias: string;
  /** What really runs in Dynamo for that role, e.g. `dynamo.sglang --disaggregation-mode prefill`. */
  readonly dynamo: string;
  /** The component name the worker registers under, as the frontend's /health lists it. */
  readonly health: string;
}

/** The release a plan is rendered for, with the folded facts of the backend's release table. */
export interface Release<F = unknown> extends ResolvedRelease {
  readonly facts: F & RuntimeFacts;
}

/**
 * What `command()` gets for one process. Runtime values (IPs, ports) are Words: put them into argv or
 * env as they are, or inside a Word built with `w`/`join`, never into a string (the renderer quotes
 * every literal and expands runtime parts, so no value reaches the shell unquoted). The process's
 * Dynamo namespace is `DYNAMO_NAMESPACE`; the env the core adds to it is `CORE_ENV`.
 */
export interface CommandContext<O, F = unknown> {
  /** The backend's options, validated, defaults applied. */
  readonly options: O;
  /** The Dynamo release of the whole deployment, with the folded facts of the backend's table. */
  readonly release: Release<F>;
  readonly role: ProcessRole;
  /** Worker index within its role (0 for the frontend's first instance). */
  readonly worker: number;
  /** Node rank of this step within the worker (0 for single-node workers and MPI steps). */
  readonly rank: number;
  /** Nodes the worker spans. */
  readonly nnodes: number;
  /** GPU indices used on this node (empty for the frontend unless it hosts a worker). */
  readonly gpus: readonly number[];
  readonly gpusPerWorker: number;
  readonly model: { readonly path: string; readonly servedName: string };
  /** The user's extra args for this role, to append. */
  readonly args: readonly string[];
  /**
   * Routable IPv4 address of the node this step runs on (first node for MPI steps): the IPv4 of
   * `network.interface` when set, else of the default route's interface; resolved on the node at start.
   */
  readonly nodeIp: Word;
  /** Routable IP of the worker's first node (dist-init / master address); nodeIp for rank 0. */
  readonly leaderIp: Word;
  /**
   * A port this process declared in `ports()` (any other name throws DYN_INTERNAL): job-scoped (an
   * offset in the job's port window, so two jobs on a node never collide), unique on its node. The
   * ranks of a multi-node worker get the same port for a name, so rank r reaches the leader's by name.
   */
  port(name: string): Word;
  /** The frontend's HTTP port (this frontend's for a frontend process, else the first frontend's). */
  readonly frontendPort: Word;
  /** Legacy graphs: the worker role the frontend process also runs (see colocatedWithFrontend). */
  readonly hosted: WorkerRole | undefined;
}

export interface Command {
  /** The program and its arguments, one shell word each; end with the user's `ctx.args`. */
  readonly argv: readonly Arg[];
  /**
   * What the backend adds to the process's env (names `[A-Za-z_][A-Za-z0-9_]*`): at least
   * `BACKEND_ENV` for registering workers, never a name of `CORE_ENV`. It is applied over the user's
   * `env` and the role's `env`.
   */
  readonly env?: Readonly<Record<string, Arg>>;
  /** Working directory (inside the container with pyxis). */
  readonly cwd?: string;
}

/**
 * What the planner's caller lets a check see of the submitting host: `readFile` returns a file's text,
 * or undefined when it cannot be read here (a path that exists only on the nodes or in the image).
 * Pure callers (tests, embedders) pass nothing: every file is then unreadable.
 */
export interface CheckHost {
  readFile(path: string): string | undefined;
}

/** What a backend may veto before planning: the groups as the user asked for them. */
export interface GroupSummary {
  readonly workers: number;
  readonly gpusPerWorker: number;
  readonly nodesPerWorker: number;
}

export interface BackendDefinition<S extends z.ZodType = z.ZodType, F = unknown> {
  /** Short name: `dyn deploy --backend <name>`. */
  readonly name: string;
  readonly description: string;
  /** Options schema; its defaults are the backend's config defaults. Must be an object schema. */
  readonly options: S;
  /**
   * The Dynamo releases this backend runs and what changes between them, as rows (see
   * `defineReleases`). Without one, every Dynamo release is accepted with the runtime facts only.
   */
  readonly releases?: ReleaseTable<F>;
  /** Spec-level defaults the backend recommends (model, GPUs per worker). */
  readonly defaults?: {
    readonly model?: string;
    readonly gpusPerWorker?: Partial<Record<WorkerRole, number>>;
  };
  /** The roles this backend can run and their component names (depends on options, e.g. version). */
  components(options: z.output<S>, release: Release<F>): Partial<Record<WorkerRole, ComponentInfo>>;
  multiNode(role: WorkerRole, options: z.output<S>, release: Release<F>): MultiNodeLaunch;
  /** Names of the ports one process needs, e.g. ["system", "nccl"]; each gets a unique job-scoped port. */
  ports(ctx: {
    role: ProcessRole;
    rank: number;
    nnodes: number;
    options: z.output<S>;
    release: Release<F>;
  }): readonly string[];
  /**
   * srun tasks per node for a worker using `gpus` GPUs on each node (default 1). TRT-LLM returns
   * `gpus`: one MPI rank per GPU, launched as a single step over all the worker's nodes.
   */
  tasksPerNode?(ctx: { role: WorkerRole; gpus: number; options: z.output<S>; release: Release<F> }): number;
  /** Legacy `dynamo serve` graphs run one worker inside the frontend process; which role it is. */
  colocatedWithFrontend?(options: z.output<S>, release: Release<F>): WorkerRole | undefined;
  /**
   * Reject combinations the backend cannot run, before anything is planned. The refusal becomes the
   * DYN_UNSUPPORTED error `<key>: <reason>` (exit 2). `key` is the dotted spec path of what the user
   * set and should change, so the CLI can name the flag or the dyn.yaml line: `backend.options.<option>`
   * (-o option=…), `roles.<role>.gpusPerWorker` / `.workers` / `.args`, `dynamo.version`,
   * `model.path`, `container.image`, `slurm.gpusPerNode`…. `reason` is one line; where it is a
   * release's limit it names the release (`Dynamo ${release.version} …`).
   */
  check?(
    options: z.output<S>,
    groups: Partial<Record<WorkerRole, GroupSummary>>,
    release: Release<F>,
    host: CheckHost,
  ): { key: string; reason: string } | undefined;
  /** argv + env for one process. For the frontend, return `frontendCommand(ctx)` unless it differs. */
  command(ctx: CommandContext<z.output<S>, F>): Command;
}

export type Backend<S extends z.ZodType = z.ZodType, F = unknown> = BackendDefinition<S, F> & {
  readonly [BRAND]: number;
};

/** The table of a backend that declares none: every Dynamo release, runtime facts only. */
export const RUNTIME_ONLY_RELEASES: ReleaseTable<object> = defineReleases<object>({
  rows: [{ since: "0.3.2" }],
});

export function defineBackend<S extends z.ZodType, F = unknown>(
  definition: BackendDefinition<S, F>,
): Backend<S, F> {
  return Object.freeze({ ...definition, [BRAND]: CONTRACT_VERSION });
}

/** The release table a backend plans with (its own, or every Dynamo release). */
export function releaseTableOf<F>(backend: Backend<z.ZodType, F>): ReleaseTable<F> {
  return (backend.releases ?? RUNTIME_ONLY_RELEASES) as ReleaseTable<F>;
}

/** The release a backend renders for the request (explicit, image tag, newest), with its facts. */
export function releaseOf<F>(backend: Backend<z.ZodType, F>, req: ReleaseRequest): Release<F> {
  const table = releaseTableOf(backend);
  const resolved = resolveRelease(backend, table, req);
  return { ...resolved, facts: table.facts(resolved.version) };
}

export function isBackend(value: unknown): value is Backend {
  return typeof value === "object" && value !== null && BRAND in value;
}

const REQUIRED_FUNCTIONS = ["components", "multiNode", "ports", "command"] as const;

/** Check a loaded module's default export; `source` says where it came from, for the message. */
export function assertBackend(value: unknown, source: string): Backend {
  if (!isBackend(value)) {
    throw new DynError(
      "DYN_BACKEND_INVALID",
      `${source} does not default-export a backend made with defineBackend()`,
      {
        hint: "export default defineBackend({ ... }) from @dyn/core",
      },
    );
  }
  const version = value[BRAND];
  if (version !== CONTRACT_VERSION) {
    throw new DynError(
      "DYN_BACKEND_INCOMPATIBLE",
      `${source} implements backend contract v${String(version)}, this dyn speaks v${CONTRACT_VERSION}`,
      { hint: version < CONTRACT_VERSION ? `upgrade ${source}` : "upgrade @dyn/cli" },
    );
  }
  const missing = REQUIRED_FUNCTIONS.filter((f) => typeof value[f] !== "function");
  if (typeof value.name !== "string" || !/^[a-z0-9][a-z0-9-]*$/.test(value.name))
    missing.push("name" as never);
  if (typeof (value.options as { safeParse?: unknown } | undefined)?.safeParse !== "function")
    missing.push("options" as never);
  if (missing.length > 0) {
    throw new DynError("DYN_BACKEND_INVALID", `${source} is missing or has a bad ${missing.join(", ")}`, {
      hint: "see docs/writing-a-backend.md",
    });
  }
  return value;
}

/** Validate backend options (defaults applied); errors name `backend.options.<key>`. */
export function resolveOptions<S extends z.ZodType>(backend: Backend<S>, raw: unknown): z.output<S> {
  if (typeof raw === "object" && raw !== null && "dynamoVersion" in raw && backend.releases) {
    // The release used to be a backend option; it is chosen for every backend now.
    throw new DynError(
      "DYN_OPTIONS_INVALID",
      "backend.options.dynamoVersion: the Dynamo release is no longer a backend option",
      { key: "backend.options.dynamoVersion", hint: "use --dynamo-version (dynamo.version in dyn.yaml)" },
    );
  }
  return parseOrThrow(backend.options, raw ?? {}, {
    code: "DYN_OPTIONS_INVALID",
    prefix: "backend.options",
    hint: `dyn backends show ${backend.name} lists the options`,
  });
}
