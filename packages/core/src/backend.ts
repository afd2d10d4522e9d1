/**
 * The backend-plugin contract. A backend is a plain frozen object made by `defineBackend`; the core
 * plans where processes go and asks the backend what each process runs. Third parties implement the
 * same contract: depend on @dyn/core (peer range on the contract's major) and default-export
 * `defineBackend({...})`.
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

/** Bumped on a breaking change to this contract. A backend built for another version is refused. */
export const CONTRACT_VERSION = 1;

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

export interface CommandContext<O, F = unknown> {
  readonly options: O;
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
  /** Routable IP of the node this step runs on (first node for MPI steps). */
  readonly nodeIp: Word;
  /** Routable IP of the worker's first node (dist-init / master address). */
  readonly leaderIp: Word;
  /** A port this process declared in `ports()`: unique on its node, job-scoped. */
  port(name: string): Word;
  /** The frontend's HTTP port. */
  readonly frontendPort: Word;
  /** Legacy graphs: the worker role the frontend process also runs (see colocatedWithFrontend). */
  readonly hosted: WorkerRole | undefined;
}

export interface Command {
  readonly argv: readonly Arg[];
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
   * Reject combinations the backend cannot run (return a reason naming the release where it is the
   * release's limit), before anything is planned.
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
