/**
 * The deployment model: everything `dyn` needs to plan and render one Dynamo deployment. Strict
 * objects everywhere, so a misspelt key is an error with its path rather than silently ignored.
 * `.prefault({})` (not `.default`) so nested defaults are applied when a whole section is omitted.
 */
import { z } from "zod";
import { checkExtraSbatch, sbatchOptionName } from "./sbatch-directives.js";
import {
  engineArgs,
  envValue,
  oneOrMany,
  slurmTime,
  slurmTimeSeconds,
  text,
  whole,
  wholeOrAuto,
} from "./spec-forms.js";

export { text };
export const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)");
const env = z.record(envName, envValue);
/** A model: an HF id or a path (a relative path is made absolute before parsing: see absolutePath). */
const modelPath = text.pipe(z.string().min(1, "must not be empty"));
/** SLURM node/partition/account names and similar identifiers. */
export const slurmName = z
  .string()
  .regex(/^[A-Za-z0-9_.,:+-]+$/, "must be a SLURM name (letters, digits, _ . , : + -)");

/**
 * Keys of `slurm` that are job-wide in a heterogeneous job: sbatch propagates them from the first
 * component to the others (slurm.schedmd.com/heterogeneous_jobs.html, "A list of propagated options":
 * --job-name, --time, --output, --requeue/--no-requeue, --open-mode; checked on the testbed's 22.05:
 * a --time set on component 0 only is every component's TimeLimit), or they describe the whole job
 * (its node count, how GPUs are requested, --sbatch-arg lines, srun --mpi).
 */
export const JOB_WIDE_SLURM_KEYS = [
  "jobName",
  "time",
  "output",
  "requeue",
  "nodes",
  "gpuRequest",
  "extraSbatch",
  "mpi",
  "exclusive",
] as const;

/**
 * Per-role SLURM resources (`roles.<role>.slurm`): a role that sets any of them runs in its own
 * component of a heterogeneous job (`#SBATCH hetjob`), with these per-component options; what it
 * does not set is the top-level `slurm` value. Roles with the same settings share a component.
 */
export const ROLE_SLURM_KEYS = [
  "partition",
  "account",
  "qos",
  "gpusPerNode",
  "gpuType",
  "constraint",
] as const;
export interface RoleSlurmSettings {
  readonly partition?: string;
  readonly account?: string;
  readonly qos?: string;
  readonly gpusPerNode?: number;
  readonly gpuType?: string;
  readonly constraint?: string;
}
export const RoleSlurm = z
  .object({
    partition: slurmName.optional(),
    account: slurmName.optional(),
    qos: slurmName.optional(),
    /** GPUs per node of this role's nodes (its workers are laid out with it). */
    gpusPerNode: whole(1, 64).optional(),
    gpuType: slurmName.optional(),
    /** sbatch --constraint (node features), e.g. `h100&ib`. */
    constraint: z
      .string()
      .regex(
        /^[A-Za-z0-9_.,:+&|!*[\]()-]+$/,
        "must be a SLURM constraint (features joined with & | , [ ] ( ) *)",
      )
      .optional(),
  })
  .catchall(z.unknown())
  .superRefine((v, ctx) => {
    for (const key of Object.keys(v)) {
      if ((ROLE_SLURM_KEYS as readonly string[]).includes(key)) continue;
      ctx.addIssue({
        code: "custom",
        path: [key],
        message: (JOB_WIDE_SLURM_KEYS as readonly string[]).includes(key)
          ? `is job-wide in a heterogeneous job, not per role: set slurm.${key}`
          : "unknown key (per role: partition, account, qos, gpusPerNode, gpuType, constraint)",
      });
    }
  })
  // Only the known keys survive (any other is an issue above, so the parse fails anyway).
  .transform((v): RoleSlurmSettings => {
    const out: { -readonly [K in keyof RoleSlurmSettings]: RoleSlurmSettings[K] } = {};
    for (const key of ROLE_SLURM_KEYS) if (v[key] !== undefined) Object.assign(out, { [key]: v[key] });
    return out;
  });
export type RoleSlurm = z.output<typeof RoleSlurm>;

export const WorkerGroup = z.strictObject({
  /** Number of worker instances (each one engine, possibly spanning nodes). */
  workers: whole(0),
  /** GPUs per worker (default: the backend's, else a whole node). Above GPUs per node the worker
   * spans gpus / gpusPerNode whole nodes. */
  gpusPerWorker: whole(1).optional(),
  /**
   * Extra engine arguments appended to each worker's command: one shell-like string
   * (`"--max-model-len 8192"`, split by splitArgs) or a list of words, numbers and booleans.
   */
  args: engineArgs.default([]),
  env: env.default({}),
  /** This role's own SLURM resources: it then runs in a component of a heterogeneous job. */
  slurm: z.lazy(() => RoleSlurm).optional(),
  /** This role's own container (replaces the top-level `container` for its processes). */
  container: z.lazy(() => RoleContainer).optional(),
});
export type WorkerGroup = z.output<typeof WorkerGroup>;

const Frontend = z.strictObject({
  count: whole(1, 64).default(1),
  /** shared: on node 0 with infra; dedicated: a node of its own with no workers. */
  placement: z.enum(["shared", "dedicated"]).default("shared"),
  /** Pin the HTTP port; by default it is job-scoped (see Ports) so two jobs on one node never collide. */
  httpPort: whole(1, 65535).optional(),
  /** Extra frontend arguments, in the same forms as a worker group's `args`. */
  args: engineArgs.default([]),
  env: env.default({}),
});

/**
 * pyxis takes an image that starts with / or ./ as a squashfs file and anything else as a registry
 * reference (shared/reference/real-pyxis.md: `x.sqsh` becomes a docker.io lookup). dyn needs files
 * absolute (the job runs in the run directory), so a relative path is made absolute before the spec
 * is parsed (the CLI does it against the working directory) and refused here.
 */
const image = text.pipe(z.string().min(1, "must not be empty")).superRefine((v, ctx) => {
  if (v === "") return; // said by min(1)
  const file = /\.(sqsh|squashfs)$/.test(v);
  if (file && !v.startsWith("/") && !/^[a-z]+:\/\//.test(v))
    ctx.addIssue({
      code: "custom",
      message: `${JSON.stringify(v)} is a relative image file: give its absolute path (pyxis would look it up in a registry)`,
    });
  else if (
    !file &&
    !v.startsWith("/") &&
    !/^[a-z]+:\/\/|^([A-Za-z0-9.-]+(:\d+)?#)?[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9._-]+)?(@sha256:[0-9a-f]{64})?$/.test(
      v,
    )
  )
    ctx.addIssue({
      code: "custom",
      message: `${JSON.stringify(v)} is neither an image file (/path/x.sqsh) nor a registry reference (nvcr.io#nvidia/ai-dynamo/vllm-runtime:1.5.1)`,
    });
});

/**
 * An image file given relative (`./x.sqsh`, `../img/x.sqsh`, `x.sqsh`) made absolute against `baseDir`
 * (the submitting shell's directory, or the config file's); anything else is returned as it is.
 */
export function absoluteImage(image: string, baseDir: string): string {
  const file = /\.(sqsh|squashfs)$/.test(image) || image.startsWith("./") || image.startsWith("../");
  if (!file || image.startsWith("/") || /^[a-z]+:\/\//.test(image)) return image;
  return resolveAgainst(baseDir, image);
}

/**
 * A model written as a relative path (`./models/x`, `../x`, `.`) made absolute against `baseDir`:
 * the job runs in the run directory, where a relative path means something else. Anything else (an
 * HF id such as `Qwen/Qwen3-8B`, an absolute path) is returned as it is.
 */
export function absoluteModel(model: string, baseDir: string): string {
  if (!/^\.\.?(\/|$)/.test(model)) return model;
  return resolveAgainst(baseDir, model);
}

function resolveAgainst(baseDir: string, path: string): string {
  const parts = baseDir.split("/").filter(Boolean);
  for (const p of path.split("/")) {
    if (p === "..") parts.pop();
    else if (p !== "." && p !== "") parts.push(p);
  }
  return `/${parts.join("/")}`;
}

/** A pyxis mount, SRC:DST[:FLAGS] (--container-mounts entries are separated by commas). */
export const containerMount = text.pipe(
  z.string().regex(/^[^:,]+:[^:,]+(:[^:,]+)?$/, "must be SRC:DST[:FLAGS]"),
);
/** A network interface name (ib0, enP6p9s0np0). */
export const interfaceName = z.string().regex(/^[A-Za-z0-9_.:-]+$/, "must be an interface name");
/** One extra `#SBATCH` option, `--flag` or `--flag=value`, on one line. */
export const sbatchEntry = z
  .string()
  .regex(/^--?[A-Za-z][^\n\r\0]*$/, "must be one line starting with - or --");

const Pyxis = z.strictObject({
  kind: z.literal("pyxis"),
  /** enroot URI (nvcr.io#nvidia/ai-dynamo/vllm-runtime:0.9.0) or an absolute .sqsh path on the nodes. */
  image,
  /** Writable container rootfs (--container-writable): engines that write into the image need it. */
  writable: z.boolean().default(false),
  /** --container-remap-root: the user is root (uid 0) inside the container. */
  remapRoot: z.boolean().default(false),
  /**
   * Where etcd and nats-server run: `image` (Dynamo's images ship them: etcd under
   * /usr/local/bin/etcd/, nats-server on PATH) or `host` (site installs, outside the container).
   */
  infra: z.enum(["image", "host"]).default("image"),
  /** SRC:DST[:FLAGS] */
  mounts: z.array(containerMount).default([]),
  workdir: text.optional(),
  /** Import the image once per node before services start, as a named container scoped by job id. */
  preload: z.boolean().default(true),
  /** Extra host env names forced into the container with --container-env (secrets are added). */
  env: z.array(envName).default([]),
  mountHome: z.boolean().default(false),
  entrypoint: z.boolean().default(false),
});
const Bare = z.strictObject({
  kind: z.literal("none"),
  /** A line run before each process, e.g. `source /opt/venv/bin/activate`. Trusted shell text. */
  setup: text.optional(),
});
/** A role's container: etcd and NATS stay in the top-level one, so there is no `infra` key. */
const RoleContainer = z.discriminatedUnion("kind", [Pyxis.omit({ infra: true }), Bare]);
export type ContainerSpec = z.output<typeof Pyxis> | z.output<typeof Bare>;
export type RoleContainerSpec = z.output<typeof RoleContainer>;

const Infra = z.strictObject({
  mode: z.enum(["managed", "external", "off"]).default("managed"),
  /** For mode=external: http://host:2379 for etcd, nats://host:4222 for NATS. */
  url: text.optional(),
});

export const DeploymentSpec = z
  .strictObject({
    backend: z.strictObject({
      name: z.string().min(1),
      options: z.record(z.string(), z.unknown()).default({}),
    }),
    /** The Dynamo release in the container; by default inferred from the image tag, else the newest. */
    dynamo: z
      .strictObject({
        /** A release (`1.4.2`), a series (`1.4` = newest 1.4.x) or `latest`. */
        version: z
          .string()
          .regex(
            /^(latest|v?\d+\.\d+(\.\d+)?([.-][A-Za-z0-9.-]+)?)$/,
            "must be a release like 1.5.1, a series like 1.5, or latest",
          )
          .optional(),
        /** Render a release dyn does not know as the newest known one (the plan says so). */
        allowUnknownVersion: z.boolean().default(false),
      })
      .prefault({}),
    /** `model: Qwen/Qwen3-8B` is short for `model: { path: Qwen/Qwen3-8B }`. */
    model: z
      .union(
        [
          modelPath,
          z.strictObject({
            /** HF id or a path visible on the nodes (inside the container with pyxis). */
            path: modelPath.optional(),
            servedName: text.optional(),
          }),
        ],
        { error: "must be a model id or path, or { path, servedName }" },
      )
      .transform((m) => (typeof m === "string" ? { path: m } : m))
      .prefault({}),
    container: z.discriminatedUnion("kind", [Pyxis, Bare]).prefault({ kind: "none" }),
    slurm: z
      .strictObject({
        jobName: z
          .string()
          .regex(/^[A-Za-z0-9_.-]+$/, "must be letters, digits, _ . -")
          .default("dynamo"),
        partition: slurmName.optional(),
        account: slurmName.optional(),
        qos: slurmName.optional(),
        /** MM, HH:MM:SS, D-HH:MM:SS, or a number of minutes (`time: 240`). */
        time: slurmTime.optional(),
        nodes: wholeOrAuto(1).default("auto"),
        gpusPerNode: whole(1, 64).default(8),
        /** How GPUs are requested in #SBATCH: --gpus-per-node, --gres=gpu[:type]:N, or not at all. */
        gpuRequest: z.enum(["gpus-per-node", "gres", "none"]).default("gpus-per-node"),
        gpuType: slurmName.optional(),
        exclusive: z.boolean().default(false),
        /**
         * Let SLURM requeue the job (node failure, preemption, scontrol requeue): the script then appends
         * to its logs and starts a new attempt in the status file. Off by default (--no-requeue):
         * a requeued deployment comes back on other nodes with another URL.
         */
        requeue: z.boolean().default(false),
        /** Extra `#SBATCH` options, each `--flag` or `--flag=value`. */
        extraSbatch: z.array(sbatchEntry).default([]),
        /**
         * sbatch --output pattern for the batch script's own log (relative to the run directory). sbatch
         * does not create its directory: dyn does at submission, so the directory part has no %-pattern.
         */
        output: z
          .string()
          .regex(/^[A-Za-z0-9_.%@+=:,/-]+$/, "must be a path without spaces or quotes")
          .regex(
            /^[^%]*$|^([^%]*\/)?[^/]*$/,
            "must not have a %-pattern in its directory part (sbatch does not create directories; dyn creates the one it can name)",
          )
          .default("slurm-%j.out"),
        /** srun --mpi value for MPI steps (TRT-LLM), e.g. pmix; omitted when unset. */
        mpi: slurmName.optional(),
        /**
         * How the services start: `per-node` (one srun step per node whose task starts that node's
         * processes, each with its own log and exit code: one srun client per node on the batch host)
         * or `per-process` (one srun step each, visible by name in squeue -s and sacct). Steps over
         * several nodes or tasks (multi-node workers, MPI) always have their own srun.
         */
        launch: z.enum(["per-node", "per-process"]).default("per-node"),
      })
      .prefault({}),
    roles: z
      .strictObject({
        frontend: Frontend.prefault({}),
        prefill: WorkerGroup.optional(),
        decode: WorkerGroup.optional(),
        aggregated: WorkerGroup.optional(),
        /** Allow prefill and decode workers to share a node (off by default). */
        colocate: z.boolean().default(false),
      })
      .prefault({}),
    infra: z
      .strictObject({
        etcd: Infra.prefault({}),
        nats: Infra.prefault({}),
        /** NATS max_payload in MB (Dynamo's default 1 MB breaks long-prompt disaggregation). */
        natsMaxPayloadMb: whole(1, 64).default(16),
      })
      .prefault({}),
    network: z
      .strictObject({
        /** Interface whose IPv4 address is the node's routable address (e.g. ib0, enP6p9s0np0). */
        interface: interfaceName.optional(),
        /**
         * Before any engine starts: every node reaches the infra node (etcd, NATS) and each
         * multi-node worker's leader on the ports they will use, and the InfiniBand devices that
         * UCX_NET_DEVICES / NCCL_IB_HCA name are up. false skips it (--no-preflight).
         */
        preflight: z.boolean().default(true),
        /** Seconds each connection may take before the preflight fails. */
        preflightTimeoutSeconds: z.number().int().min(1).max(300).default(5),
      })
      .prefault({}),
    ports: z
      .strictObject({
        /** First port of the window that job slots are carved from. */
        base: whole(1024, 65000).default(10000),
        /** Ports per job slot; every process of the job on one node fits in one slot. */
        slot: whole(16, 10000).default(100),
        /**
         * Number of slots; a job prefers slot SLURM_JOB_ID mod slots and moves to the next free one
         * at run time (its ports in use on a node, or the slot's lock held by a running job).
         */
        slots: whole(1).default(227),
        /**
         * Node-local directory of the per-slot lock files (one subdirectory per node, mode 1777 so
         * every user's jobs share it). Must not be per-job private (/tmp under job_container/tmpfs
         * is); DYN_PORT_LOCK_DIR in the job's environment overrides it at run time.
         */
        lockDir: text
          .pipe(
            z.string().regex(/^\/[A-Za-z0-9_./-]*$/, "must be an absolute path of letters, digits, _ . / -"),
          )
          .default("/var/tmp/dyn-ports"),
      })
      .prefault({}),
    readiness: z
      .strictObject({
        timeoutSeconds: whole(1).default(1800),
        /**
         * After READY: how long /health may list fewer instances of a component than planned (or not
         * answer at all) before the job fails, naming what vanished.
         */
        lostGraceSeconds: whole(1, 600).default(10),
        /**
         * READY only once one streaming chat completion through the frontend returned tokens (the
         * first request after every instance registered); false skips it (--no-smoke).
         */
        smoke: z.boolean().default(true),
        /**
         * With the smoke request: every prefill, decode and aggregated worker's request counter
         * (/metrics on its system port) is read before and after it, and each role must have handled
         * it (a disaggregated deployment silently running aggregated fails). Releases without the
         * counter skip it, saying so in the smoke event; false skips it (--no-smoke-counters).
         */
        smokeCounters: z.boolean().default(true),
        /** Bound on that first request (model warm-up included). */
        smokeTimeoutSeconds: z.number().int().min(1).max(3600).default(120),
      })
      .prefault({}),
    /**
     * Serving past the job's time limit (docs/cli.md, Keep-alive): the job keeps a chain of jobs of
     * this same script, each attempt handing over to the next. Absent: one job, as without it.
     */
    lifetime: z
      .strictObject({
        keepAlive: z.boolean().default(false),
        /**
         * queue: the successor is submitted at READY with --dependency=afterany on this job and
         * starts when it ends (downtime = the successor's start-up). overlap: at the warning signal
         * the successor is submitted without dependency (it needs nodes of its own, or room on
         * these); this job serves until the successor is READY, then drains and exits. Default queue;
         * only with keepAlive.
         */
        handover: z.enum(["queue", "overlap"]).optional(),
        /** Seconds before the time limit SLURM warns the job (sbatch --signal=B:USR1@warnSeconds). */
        warnSeconds: whole(1, 65535).default(600),
        /** Attempts in all, the first included (0: no limit). */
        maxAttempts: whole(0).default(0),
        /** Attempts in a row that failed (not a time-limit end) after which no further one starts. */
        maxFailures: whole(1, 100).default(2),
      })
      .optional(),
    /** Host directory for the model cache (HF_HOME); default $HOME/.cache/huggingface at run time. */
    hfCache: text.pipe(z.string().startsWith("/", "must be an absolute path")).optional(),
    /**
     * Names of secret env vars (HF_TOKEN…): read from the submitting shell, passed by name only. One
     * name is short for a list of one (`secrets: HF_TOKEN`).
     */
    secrets: oneOrMany(envName).default([]),
    env: env.default({}),
  })
  .superRefine((spec, ctx) => {
    checkExtraSbatch(spec, ctx);
    if (spec.ports.base + spec.ports.slot * spec.ports.slots > 65536) {
      ctx.addIssue({
        code: "custom",
        path: ["ports", "slots"],
        message: "base + slot × slots exceeds 65535",
      });
    }
    const pinned = spec.roles.frontend.httpPort;
    const windowEnd = spec.ports.base + spec.ports.slot * spec.ports.slots;
    if (pinned !== undefined && pinned + spec.roles.frontend.count > spec.ports.base && pinned < windowEnd) {
      // Job-scoped ports can be any port of the window, so a pinned port inside it may collide.
      ctx.addIssue({
        code: "custom",
        path: ["roles", "frontend", "httpPort"],
        message: `must be outside the job port window ${spec.ports.base}-${windowEnd - 1} (ports.base, ports.slot × ports.slots)`,
      });
    }
    for (const [key, infra] of [
      ["etcd", spec.infra.etcd],
      ["nats", spec.infra.nats],
    ] as const) {
      if (infra.mode === "external" && !infra.url) {
        ctx.addIssue({
          code: "custom",
          path: ["infra", key, "url"],
          message: "is required when mode is external",
        });
      }
    }
    if (spec.container.kind === "pyxis" && spec.hfCache && /[:,]/.test(spec.hfCache)) {
      // With pyxis the cache becomes a --container-mounts entry, where : and , are separators.
      ctx.addIssue({
        code: "custom",
        path: ["hfCache"],
        message: "must not contain : or , with a pyxis container (it is mounted as SRC:DST)",
      });
    }
    checkLifetime(spec, ctx);
    checkRoleSlurm(spec, ctx);
    if (spec.roles.aggregated && (spec.roles.prefill || spec.roles.decode)) {
      ctx.addIssue({
        code: "custom",
        path: ["roles", "aggregated"],
        message: "cannot be combined with prefill/decode groups (choose aggregated or disaggregated)",
      });
    }
  });

/** keep-alive needs a time limit to outlive, and SLURM's warning must come before that limit. */
function checkLifetime(
  spec: {
    slurm: { time?: string | undefined; extraSbatch: readonly string[] };
    lifetime?: { keepAlive: boolean; handover?: string | undefined; warnSeconds: number } | undefined;
  },
  ctx: z.RefinementCtx,
): void {
  const l = spec.lifetime;
  if (l && !l.keepAlive && l.handover !== undefined)
    ctx.addIssue({
      code: "custom",
      path: ["lifetime", "handover"],
      message: "has no effect without keep-alive (lifetime.keepAlive, --keep-alive)",
    });
  if (!l?.keepAlive) return;
  // keep-alive writes #SBATCH --signal=B:USR1@<warnSeconds> itself (render/keepalive.ts); a second
  // --signal would win (sbatch keeps the last value) and the chain would never hear its warning.
  spec.slurm.extraSbatch.forEach((entry, i) => {
    const { name, long } = sbatchOptionName(entry);
    if (long && name.length >= 4 && "signal".startsWith(name))
      ctx.addIssue({
        code: "custom",
        path: ["slurm", "extraSbatch", i],
        message: `${JSON.stringify(entry)} repeats #SBATCH --signal, which dyn writes for keep-alive from lifetime.warnSeconds (--warn-seconds)`,
      });
  });
  if (spec.slurm.time === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["lifetime", "keepAlive"],
      message: "needs a time limit (slurm.time, --time): a chain hands over before the limit",
    });
    return;
  }
  const limit = slurmTimeSeconds(spec.slurm.time);
  if (limit !== undefined && l.warnSeconds >= limit) {
    ctx.addIssue({
      code: "custom",
      path: ["lifetime", "warnSeconds"],
      message: `must be less than the time limit (${spec.slurm.time} = ${limit} s)`,
    });
  }
}

export type DeploymentSpecInput = z.input<typeof DeploymentSpec>;
export type DeploymentSpec = z.output<typeof DeploymentSpec>;
export type WorkerRole = "prefill" | "decode" | "aggregated";
export const WORKER_ROLES: readonly WorkerRole[] = ["prefill", "decode", "aggregated"];

/**
 * A role's `slurm` key that a top-level setting contradicts: a GPU type while dyn requests no GPUs
 * (slurm.gpuRequest none), and a constraint while an --sbatch-arg line already sets --constraint
 * (component 0 would get both). Reported at the role's key, naming the other one.
 */
function checkRoleSlurm(
  spec: { readonly slurm: { readonly gpuRequest: string; readonly extraSbatch: readonly string[] } } & {
    readonly roles: Partial<
      Record<WorkerRole, { readonly slurm?: RoleSlurmSettings | undefined } | undefined>
    >;
  },
  ctx: z.RefinementCtx,
): void {
  // sbatch(1): -C, --constraint=<list> (getopt_long also takes an abbreviation such as --constr).
  const constraintArg = spec.slurm.extraSbatch.find((e) => /^(--constr[a-z]*|-C)(=|\s|$)|^-C./.test(e));
  for (const role of WORKER_ROLES) {
    const own = spec.roles[role]?.slurm;
    if (!own) continue;
    if (own.gpuType !== undefined && spec.slurm.gpuRequest === "none")
      ctx.addIssue({
        code: "custom",
        path: ["roles", role, "slurm", "gpuType"],
        message:
          "has no effect: slurm.gpuRequest is none (--gpu-request none), so dyn requests no GPUs in any component",
      });
    if (own.constraint !== undefined && constraintArg !== undefined)
      ctx.addIssue({
        code: "custom",
        path: ["roles", role, "slurm", "constraint"],
        message: `conflicts with slurm.extraSbatch ${JSON.stringify(constraintArg)} (--sbatch-arg), which sets --constraint for component 0 too; set the constraint per role only`,
      });
  }
}
