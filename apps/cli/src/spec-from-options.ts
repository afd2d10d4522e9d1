/**
 * Flags > DYN_* environment > config file > site profile > backend defaults → raw spec →
 * DeploymentSpec.parse (the profile layer: @dyn/core profiles.ts, read by profiles-file.ts).
 *
 * Every value remembers where it came from, so an error about `slurm.nodes` says `--nodes` when the
 * flag set it, `DYN_NODES` for the environment and `dyn.yaml:4:10 slurm.nodes` for the config file.
 *
 * Merge rules: scalars are replaced by the higher layer; maps (env, backend options) are merged key by
 * key; lists (--sbatch-arg, --container-mount, --container-env, --secret) are appended. Choosing a
 * different container kind (--container vs --setup) replaces the lower layer's container section.
 */

import { dirname } from "node:path";
import {
  absoluteImage,
  absoluteModel,
  applyPoint,
  type Backend,
  DeploymentSpec,
  type DeploymentSpec as DeploymentSpecT,
  DynError,
  type DynErrorCode,
  isPlain,
  issuesOf,
  type LayeredProfile,
  layerProfile,
  mergeLayers,
  type Problem,
  problemsError,
  type ResolvedProfile,
  type SweepPoint,
  splitArgs,
} from "@dyn/core";
import { type ConfigFile, loadConfig } from "./config-file.js";
import { loadProfile } from "./profiles-file.js";

export { mergeLayers };

type Path = readonly string[];
/** "false": a `--no-x` flag, which only ever sets false (commander defaults its attribute to true). */
type Kind = "int" | "intOrAuto" | "string" | "true" | "false";

/** Single-valued flags that map 1:1 onto a spec key. `env` marks the ones DYN_* can set. */
export const SCALAR_FLAGS: ReadonlyArray<{
  flag: string;
  attr: string;
  path: Path;
  kind: Kind;
  env?: string;
}> = [
  { flag: "--backend", attr: "backend", path: ["backend", "name"], kind: "string", env: "DYN_BACKEND" },
  { flag: "--model", attr: "model", path: ["model", "path"], kind: "string", env: "DYN_MODEL" },
  {
    flag: "--dynamo-version",
    attr: "dynamoVersion",
    path: ["dynamo", "version"],
    kind: "string",
    env: "DYN_DYNAMO_VERSION",
  },
  {
    flag: "--allow-unknown-dynamo-version",
    attr: "allowUnknownDynamoVersion",
    path: ["dynamo", "allowUnknownVersion"],
    kind: "true",
  },
  {
    flag: "--served-model-name",
    attr: "servedModelName",
    path: ["model", "servedName"],
    kind: "string",
    env: "DYN_SERVED_MODEL_NAME",
  },
  { flag: "--job-name", attr: "jobName", path: ["slurm", "jobName"], kind: "string", env: "DYN_JOB_NAME" },
  { flag: "--nodes", attr: "nodes", path: ["slurm", "nodes"], kind: "intOrAuto", env: "DYN_NODES" },
  {
    flag: "--gpus-per-node",
    attr: "gpusPerNode",
    path: ["slurm", "gpusPerNode"],
    kind: "int",
    env: "DYN_GPUS_PER_NODE",
  },
  {
    flag: "--gpu-request",
    attr: "gpuRequest",
    path: ["slurm", "gpuRequest"],
    kind: "string",
    env: "DYN_GPU_REQUEST",
  },
  { flag: "--gpu-type", attr: "gpuType", path: ["slurm", "gpuType"], kind: "string", env: "DYN_GPU_TYPE" },
  {
    flag: "--partition",
    attr: "partition",
    path: ["slurm", "partition"],
    kind: "string",
    env: "DYN_PARTITION",
  },
  { flag: "--account", attr: "account", path: ["slurm", "account"], kind: "string", env: "DYN_ACCOUNT" },
  { flag: "--qos", attr: "qos", path: ["slurm", "qos"], kind: "string", env: "DYN_QOS" },
  { flag: "--time", attr: "time", path: ["slurm", "time"], kind: "string", env: "DYN_TIME" },
  { flag: "--exclusive", attr: "exclusive", path: ["slurm", "exclusive"], kind: "true" },
  { flag: "--requeue", attr: "requeue", path: ["slurm", "requeue"], kind: "true" },
  { flag: "--launch", attr: "launch", path: ["slurm", "launch"], kind: "string", env: "DYN_LAUNCH" },
  { flag: "--output", attr: "output", path: ["slurm", "output"], kind: "string" },
  { flag: "--mpi", attr: "mpi", path: ["slurm", "mpi"], kind: "string", env: "DYN_MPI" },
  {
    flag: "--num-prefill-workers",
    attr: "numPrefillWorkers",
    path: ["roles", "prefill", "workers"],
    kind: "int",
  },
  { flag: "--prefill-workers", attr: "prefillWorkers", path: ["roles", "prefill", "workers"], kind: "int" },
  {
    flag: "--num-decode-workers",
    attr: "numDecodeWorkers",
    path: ["roles", "decode", "workers"],
    kind: "int",
  },
  { flag: "--decode-workers", attr: "decodeWorkers", path: ["roles", "decode", "workers"], kind: "int" },
  {
    flag: "--gpus-per-prefill",
    attr: "gpusPerPrefill",
    path: ["roles", "prefill", "gpusPerWorker"],
    kind: "int",
  },
  {
    flag: "--gpus-per-decode",
    attr: "gpusPerDecode",
    path: ["roles", "decode", "gpusPerWorker"],
    kind: "int",
  },
  {
    flag: "--aggregated-workers",
    attr: "aggregatedWorkers",
    path: ["roles", "aggregated", "workers"],
    kind: "int",
  },
  {
    flag: "--gpus-per-aggregated",
    attr: "gpusPerAggregated",
    path: ["roles", "aggregated", "gpusPerWorker"],
    kind: "int",
  },
  { flag: "--colocate", attr: "colocate", path: ["roles", "colocate"], kind: "true" },
  { flag: "--frontend-count", attr: "frontendCount", path: ["roles", "frontend", "count"], kind: "int" },
  {
    flag: "--frontend-placement",
    attr: "frontendPlacement",
    path: ["roles", "frontend", "placement"],
    kind: "string",
  },
  { flag: "--http-port", attr: "httpPort", path: ["roles", "frontend", "httpPort"], kind: "int" },
  { flag: "--container-workdir", attr: "containerWorkdir", path: ["container", "workdir"], kind: "string" },
  {
    flag: "--nats-max-payload-mb",
    attr: "natsMaxPayloadMb",
    path: ["infra", "natsMaxPayloadMb"],
    kind: "int",
  },
  {
    flag: "--network-interface",
    attr: "networkInterface",
    path: ["network", "interface"],
    kind: "string",
    env: "DYN_NETWORK_INTERFACE",
  },
  { flag: "--ready-timeout", attr: "readyTimeout", path: ["readiness", "timeoutSeconds"], kind: "int" },
  {
    flag: "--lost-grace",
    attr: "lostGrace",
    path: ["readiness", "lostGraceSeconds"],
    kind: "int",
  },
  { flag: "--no-smoke", attr: "smoke", path: ["readiness", "smoke"], kind: "false" },
  {
    flag: "--no-smoke-counters",
    attr: "smokeCounters",
    path: ["readiness", "smokeCounters"],
    kind: "false",
  },
  { flag: "--keep-alive", attr: "keepAlive", path: ["lifetime", "keepAlive"], kind: "true" },
  { flag: "--handover", attr: "handover", path: ["lifetime", "handover"], kind: "string" },
  { flag: "--warn-seconds", attr: "warnSeconds", path: ["lifetime", "warnSeconds"], kind: "int" },
  { flag: "--no-preflight", attr: "preflight", path: ["network", "preflight"], kind: "false" },
  { flag: "--hf-cache", attr: "hfCache", path: ["hfCache"], kind: "string", env: "DYN_HF_CACHE_DIR" },
];

/**
 * Engine-argument flags (repeatable): each value is a shell-like string (`"--max-model-len 8192"`)
 * split by core's splitArgs; the words of every value are appended to the role's args in order.
 */
export const ARG_FLAGS = [
  { flag: "--prefill-arg", attr: "prefillArg", role: "prefill" },
  { flag: "--decode-arg", attr: "decodeArg", role: "decode" },
  { flag: "--worker-arg", attr: "workerArg", role: "aggregated" },
  { flag: "--frontend-arg", attr: "frontendArg", role: "frontend" },
] as const;

/** Legacy `dynamo serve` generation of the first-party backends. */
export const LEGACY_DYNAMO_VERSION = "0.3.2";

export type FlagValues = Readonly<Record<string, unknown>>;

export interface ResolvedInput {
  readonly raw: Record<string, unknown>;
  readonly config: ConfigFile | undefined;
  /** Dotted spec key → `--flag` or `DYN_VAR`, for values set by flags or the environment. */
  readonly origins: ReadonlyMap<string, string>;
  readonly backendName: string | undefined;
  /** The site profile under the config file, and what layering it did (undefined without one). */
  readonly profile?: { readonly resolved: ResolvedProfile; readonly layer: LayeredProfile } | undefined;
  /** The sweep point this input is (its values applied to the config file's spec), if any. */
  readonly point?: SweepPoint | undefined;
}

const usage = (key: string, message: string, hint?: string) =>
  new DynError("DYN_USAGE", `${key}: ${message}`, { key, hint });

/** `3` → 3; anything else is a usage error naming the flag. */
function toInt(label: string, value: string, allowAuto = false): number | "auto" {
  const v = value.trim();
  if (allowAuto && v === "auto") return "auto";
  if (!/^-?\d+$/.test(v)) {
    throw usage(label, `expected a whole number${allowAuto ? " or auto" : ""}, got ${JSON.stringify(value)}`);
  }
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw usage(label, `${v} is too large to be exact`);
  return n;
}

function convert(label: string, kind: Kind, value: unknown): unknown {
  if (kind === "true") return value === true || value === "true" || value === "1";
  if (kind === "false") return false;
  const s = String(value);
  if (kind === "int") return toInt(label, s);
  if (kind === "intOrAuto") return toInt(label, s, true);
  return s;
}

function setIn(obj: Record<string, unknown>, path: Path, value: unknown): void {
  let cur = obj;
  for (const seg of path.slice(0, -1)) {
    const next = cur[seg];
    if (typeof next !== "object" || next === null || Array.isArray(next)) cur[seg] = {};
    cur = cur[seg] as Record<string, unknown>;
  }
  cur[path[path.length - 1] as string] = value;
}

function getIn(obj: unknown, path: Path): unknown {
  let cur = obj;
  for (const seg of path) {
    if (typeof cur !== "object" || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

/** `K=V` → [K, V]. */
function keyValue(label: string, item: string, what: string): [string, string] {
  const i = item.indexOf("=");
  if (i <= 0) throw usage(label, `expected ${what}=VALUE, got ${JSON.stringify(item)}`);
  return [item.slice(0, i), item.slice(i + 1)];
}

/** `-o key=value`: JSON when it parses (numbers, booleans, lists), the plain string otherwise. */
export function parseOptionValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MOUNT = /^[^:,]+:[^:,]+(:[^:,]+)?$/;

function infraFlag(label: string, value: string, scheme: RegExp, example: string): Record<string, unknown> {
  if (value === "managed" || value === "off") return { mode: value };
  if (!scheme.test(value))
    throw usage(label, `expected managed, off or a URL like ${example}, got ${JSON.stringify(value)}`);
  return { mode: "external", url: value };
}

/** The flags layer (only values the user typed: commander defaults are not passed in). */
export function flagsLayer(flags: FlagValues): {
  raw: Record<string, unknown>;
  origins: Map<string, string>;
} {
  const raw: Record<string, unknown> = {};
  const origins = new Map<string, string>();
  const set = (path: Path, value: unknown, label: string) => {
    setIn(raw, path, value);
    origins.set(path.join("."), label);
  };
  for (const f of SCALAR_FLAGS) {
    const v = flags[f.attr];
    if (v === undefined || (f.kind === "false" && v !== false)) continue;
    const value = convert(f.flag, f.kind, v);
    const key = f.path.join(".");
    const prior = origins.get(key);
    if (prior && getIn(raw, f.path) !== value)
      throw usage(f.flag, `conflicts with ${prior} (${f.flag} is another name for it)`);
    set(f.path, value, f.flag);
  }
  if (flags.container !== undefined && flags.setup !== undefined)
    throw usage(
      "--setup",
      "cannot be combined with --container (--setup is for bare-metal runs)",
      "drop one of them",
    );
  if (flags.container !== undefined) set(["container", "kind"], "pyxis", "--container");
  if (flags.container !== undefined) set(["container", "image"], String(flags.container), "--container");
  if (flags.setup !== undefined) {
    set(["container", "kind"], "none", "--setup");
    set(["container", "setup"], String(flags.setup), "--setup");
  }
  const mounts = (flags.containerMount as string[] | undefined) ?? [];
  for (const m of mounts)
    if (!MOUNT.test(m))
      throw usage("--container-mount", `expected SRC:DST[:FLAGS], got ${JSON.stringify(m)}`);
  if (mounts.length) set(["container", "mounts"], mounts, "--container-mount");
  const cenv = (flags.containerEnv as string[] | undefined) ?? [];
  for (const n of cenv)
    if (!ENV_NAME.test(n))
      throw usage("--container-env", `expected an environment variable name, got ${JSON.stringify(n)}`);
  if (cenv.length) set(["container", "env"], cenv, "--container-env");
  if (flags.containerPreload === false) set(["container", "preload"], false, "--no-container-preload");
  if (flags.containerWritable === true) set(["container", "writable"], true, "--container-writable");
  if (flags.containerRemapRoot === true) set(["container", "remapRoot"], true, "--container-remap-root");
  if (flags.containerInfra !== undefined)
    set(["container", "infra"], String(flags.containerInfra), "--container-infra");
  if (flags.sbatchArg !== undefined) set(["slurm", "extraSbatch"], flags.sbatchArg, "--sbatch-arg");
  if (flags.etcd !== undefined)
    set(
      ["infra", "etcd"],
      infraFlag("--etcd", String(flags.etcd), /^https?:\/\/\S+$/, "http://host:2379"),
      "--etcd",
    );
  if (flags.nats !== undefined)
    set(
      ["infra", "nats"],
      infraFlag("--nats", String(flags.nats), /^nats:\/\/\S+$/, "nats://host:4222"),
      "--nats",
    );
  for (const item of (flags.env as string[] | undefined) ?? []) {
    const [k, v] = keyValue("--env", item, "NAME");
    if (!ENV_NAME.test(k)) throw usage("--env", `${JSON.stringify(k)} is not an environment variable name`);
    set(["env", k], v, "--env");
  }
  const secrets = (flags.secret as string[] | undefined) ?? [];
  for (const s of secrets) {
    if (!ENV_NAME.test(s))
      throw usage(
        "--secret",
        `expected the NAME of an environment variable, got ${JSON.stringify(s)}`,
        "--secret HF_TOKEN (the value stays in your shell)",
      );
  }
  if (secrets.length) set(["secrets"], secrets, "--secret");
  if (flags.legacy === true) {
    if (flags.dynamoVersion !== undefined)
      throw usage("--legacy", "means --dynamo-version 0.3.2; give only one of them");
    set(["dynamo", "version"], LEGACY_DYNAMO_VERSION, "--legacy");
  }
  for (const item of (flags.option as string[] | undefined) ?? []) {
    const [k, v] = keyValue("-o", item, "KEY");
    set(["backend", "options", k], parseOptionValue(v), `-o ${k}`);
  }
  for (const f of ARG_FLAGS) {
    const values = (flags[f.attr] as string[] | undefined) ?? [];
    if (values.length > 0)
      set(
        ["roles", f.role, "args"],
        values.flatMap((v) => splitArgs(v, f.flag)),
        f.flag,
      );
  }
  return { raw, origins };
}

/** DYN_* variables for the single-valued flags marked `env` in SCALAR_FLAGS. */
export function envLayer(env: Readonly<Record<string, string | undefined>>): {
  raw: Record<string, unknown>;
  origins: Map<string, string>;
} {
  const raw: Record<string, unknown> = {};
  const origins = new Map<string, string>();
  for (const f of SCALAR_FLAGS) {
    if (!f.env) continue;
    const v = env[f.env];
    if (v === undefined || v === "") continue;
    setIn(raw, f.path, convert(f.env, f.kind, v));
    origins.set(f.path.join("."), f.env);
  }
  return { raw, origins };
}

export async function resolveInput(
  flags: FlagValues,
  ctx: {
    cwd: string;
    env: Readonly<Record<string, string | undefined>>;
    configPath?: string | undefined;
    /** A sweep point: its values are set in the config file's layer (docs/cli.md, Sweeps). */
    point?: SweepPoint | undefined;
  },
): Promise<ResolvedInput> {
  const flagLayer = flagsLayer(flags);
  const envL = envLayer(ctx.env);
  const config = await loadConfig(ctx.cwd, ctx.configPath);
  const point = ctx.point;
  const fileSpec = point ? applyPoint(config?.spec ?? {}, point) : (config?.spec ?? {});
  let raw = mergeLayers(fileSpec, envL.raw);
  raw = mergeLayers(raw, flagLayer.raw);
  const typed = new Map([...envL.origins, ...flagLayer.origins]);
  // A swept key is named by its matrix entry (`sweep.yaml:3:27 matrix.roles.decode.workers[1]`).
  const swept = new Map<string, string>();
  for (const [key, i] of Object.entries(point?.positions ?? {})) {
    const where = config?.locate(["matrix", key, i]);
    swept.set(key, `${where ? `${where} ` : ""}matrix.${key}[${i}]`);
  }
  for (const [key, label] of typed) {
    const clash = [...swept.keys()].find(
      (k) => k === key || key.startsWith(`${k}.`) || k.startsWith(`${key}.`),
    );
    if (clash)
      throw usage(
        label,
        `sets ${key}, which the sweep's matrix sets for each point (${config?.locate(["matrix", clash], true) ?? config?.display} matrix.${clash})`,
        "drop it, or sweep the values in matrix:",
      );
  }
  const origins = new Map([...swept, ...typed]);
  const profile = await profileLayer(flags, ctx.env, config, raw);
  if (profile) raw = profile.layer.raw as Record<string, unknown>;
  const container = raw.container;
  if (isPlain(container) && container.kind !== "pyxis") {
    const pyxisOnly = [
      "container.image",
      "container.mounts",
      "container.workdir",
      "container.env",
      "container.preload",
      "container.writable",
      "container.remapRoot",
      "container.infra",
    ];
    const flag = pyxisOnly.map((k) => origins.get(k)).find((f) => f !== undefined);
    if (flag) {
      throw usage(
        flag,
        container.kind === "none"
          ? "needs a container, but this deployment runs on bare metal (--setup / container.kind: none)"
          : "needs --container <image> (or container.image in dyn.yaml)",
      );
    }
  }
  // pyxis reads an image path relative to the step's cwd (the run directory): make it absolute
  // against where it was written (this shell for flags and DYN_*, the config file's directory).
  if (isPlain(container) && typeof container.image === "string") {
    const fromConfig = !typed.has("container.image") && config !== undefined;
    container.image = absoluteImage(container.image, fromConfig ? dirname(config.path) : ctx.cwd);
  }
  // The same for a model given as a relative path (./models/x): HF ids are left as they are.
  const model = raw.model;
  if (isPlain(model) && typeof model.path === "string") {
    const fromConfig = !typed.has("model.path") && config !== undefined;
    model.path = absoluteModel(model.path, fromConfig ? dirname(config.path) : ctx.cwd);
  }
  checkArgTargets(raw, origins);
  const name = getIn(raw, ["backend", "name"]);
  return {
    raw,
    config,
    origins,
    backendName: typeof name === "string" && name !== "" ? name : undefined,
    profile,
    point,
  };
}

/** The selected profile (if any) layered under config file, DYN_* and flags (`upper`). */
async function profileLayer(
  flags: FlagValues,
  env: Readonly<Record<string, string | undefined>>,
  config: ConfigFile | undefined,
  upper: Record<string, unknown>,
): Promise<ResolvedInput["profile"]> {
  const flag =
    flags.profile === false ? false : typeof flags.profile === "string" ? flags.profile : undefined;
  const resolved = await loadProfile(flag, env, config);
  return resolved ? { resolved, layer: layerProfile(resolved, upper) } : undefined;
}

/**
 * Engine-argument flags must name a role the deployment has: --worker-arg is for aggregated workers,
 * --prefill-arg / --decode-arg for a disaggregated deployment (they never create a group of their own).
 */
function checkArgTargets(raw: Record<string, unknown>, origins: ReadonlyMap<string, string>): void {
  const roles = isPlain(raw.roles) ? raw.roles : {};
  const has = (role: string) =>
    isPlain(roles[role]) && (roles[role] as Record<string, unknown>).workers !== undefined;
  const flagged = (role: string) => {
    const o = origins.get(`roles.${role}.args`);
    return o !== undefined && ARG_FLAGS.some((f) => f.flag === o) ? o : undefined;
  };
  const worker = flagged("aggregated");
  if (worker && !has("aggregated")) {
    const disagg = has("prefill") || has("decode") || isPlain(roles.prefill) || isPlain(roles.decode);
    throw usage(
      worker,
      disagg
        ? "is for aggregated workers, and this deployment is disaggregated (prefill and decode workers)"
        : "is for aggregated workers, and this deployment has none (by default it is disaggregated)",
      disagg
        ? "use --prefill-arg / --decode-arg, or --aggregated-workers N for an aggregated deployment"
        : "add --aggregated-workers N, or use --prefill-arg / --decode-arg",
    );
  }
  if (!has("aggregated")) return;
  for (const role of ["prefill", "decode"]) {
    const flag = flagged(role);
    if (flag)
      throw usage(
        flag,
        `this deployment is aggregated (${origins.get("roles.aggregated.workers") ?? "roles.aggregated"}): it has no ${role} workers`,
        "its workers take --worker-arg",
      );
  }
}

/** How a spec key is named to the user: `--nodes`, `DYN_NODES`, `dyn.yaml:4:10 slurm.nodes`, or the key. */
export function labelFor(
  input: Pick<ResolvedInput, "origins" | "config" | "profile">,
  key: string,
  preferKey = false,
): string {
  const o = input.origins;
  if (o.has(key)) return o.get(key) as string;
  // An ancestor set by a flag (--etcd sets infra.etcd; the issue is infra.etcd.url) …
  const parts = key.split(".");
  for (let i = parts.length - 1; i > 0; i--) {
    const anc = parts.slice(0, i).join(".");
    if (o.has(anc)) return o.get(anc) as string;
  }
  // … or the site profile (`/etc/dyn/profiles.yaml:4:18 profiles.site.slurm.partition`) …
  const fromProfile = input.profile?.layer.origins.get(key);
  if (fromProfile) return fromProfile;
  const path = key === "" ? [] : configPath(input, parts);
  // … or the config file …
  if (input.config?.has(path)) return `${input.config.locate(path, preferKey)} ${key}`;
  // … or a descendant set by a flag (roles.prefill ← --num-prefill-workers).
  for (const [k, label] of o) if (k.startsWith(`${key}.`)) return label;
  if (input.config && path.length > 0) {
    const loc = input.config.locate(path, preferKey);
    if (loc && partialHas(input.config, path)) return `${loc} ${key}`;
  }
  return key || "(spec)";
}

/**
 * A spec key's path in the config file: a list the profile leads with its own items (container.mounts,
 * slurm.extraSbatch) has the config's items after them, so their index in the file is that much less.
 */
function configPath(input: Pick<ResolvedInput, "profile">, parts: readonly string[]): string[] {
  const prepended = input.profile?.layer.prepended;
  if (!prepended || parts.length < 2) return [...parts];
  const last = parts[parts.length - 1] as string;
  const n = prepended.get(parts.slice(0, -1).join("."));
  if (n === undefined || !/^\d+$/.test(last)) return [...parts];
  return [...parts.slice(0, -1), String(Number(last) - n)];
}

function partialHas(config: ConfigFile, path: readonly string[]): boolean {
  for (let i = path.length; i > 0; i--) if (config.has(path.slice(0, i))) return true;
  return false;
}

/** Re-issue a core DynError whose message starts with its spec key, naming the flag or file position. */
export function relabel(err: unknown, input: Pick<ResolvedInput, "origins" | "config" | "profile">): unknown {
  if (!DynError.is(err) || !err.key || err.key.startsWith("-")) return err;
  if (err.problems && err.problems.length > 1) {
    // Several problems (backend options): each named where it was set.
    const problems = err.problems.map((p) => {
      const label = p.label ?? labelFor(input, p.key, p.message.startsWith("unknown key"));
      return { ...p, label, where: label === p.key ? undefined : label.replace(` ${p.key}`, "") };
    });
    return problemsError(err.code, problems, err.hint, err);
  }
  const prefix = `${err.key}: `;
  if (!err.message.startsWith(prefix)) return err;
  const label = labelFor(input, err.key);
  if (label === err.key) return err;
  return new DynError(err.code, `${label}: ${err.message.slice(prefix.length)}`, {
    key: err.key,
    hint: err.hint,
    cause: err,
  });
}

/** `dyn.yaml:4:10` → [4, 10], for ordering problems by where they are in the file. */
function position(where: string | undefined): [number, number] {
  const m = /:(\d+):(\d+)$/.exec(where ?? "");
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

/**
 * Parse the merged raw spec. Every issue becomes a problem named by the flag, the DYN_* variable or
 * `file:line:col key` that set it (flags and variables first, then the file's in the order they are
 * written), all in one DynError.
 */
export function parseSpec(input: ResolvedInput): DeploymentSpecT {
  const result = DeploymentSpec.safeParse(input.raw);
  if (result.success) return result.data;
  const issues = issuesOf(result.error, "", { schema: DeploymentSpec, input: input.raw });
  const problems: Problem[] = issues.map((issue) => {
    // An unknown key is pointed at by its key (its value may be anywhere below).
    const label = labelFor(input, issue.key, issue.message.startsWith("unknown key"));
    const where = label.endsWith(` ${issue.key}`) ? label.slice(0, -issue.key.length - 1) : label;
    return { key: issue.key, message: issue.message, label, where: where === issue.key ? undefined : where };
  });
  const fromConfig = (p: Problem) => p.label?.includes(" ") === true && !p.label.startsWith("-");
  problems.sort((a, b) => {
    const [fa, fb] = [fromConfig(a), fromConfig(b)];
    if (fa !== fb) return fa ? 1 : -1;
    const [pa, pb] = [position(a.where), position(b.where)];
    return pa[0] - pb[0] || pa[1] - pb[1];
  });
  const code: DynErrorCode = problems.every(fromConfig) ? "DYN_CONFIG_INVALID" : "DYN_SPEC_INVALID";
  const unknown = problems.some((p) => p.message.startsWith("unknown key"));
  throw problemsError(
    code,
    problems,
    unknown
      ? "docs/cli.md (Config file) lists the keys; the JSON schema that dyn init links checks them as you type"
      : "dyn deploy --help lists the flags; docs/cli.md the config keys",
    issues,
  );
}

/**
 * The original guide's interface, made precise. When exactly one of the prefill/decode worker counts
 * is given (e.g. only --num-prefill-workers N), the other group takes the remaining capacity:
 *
 *   free nodes  = nodes − dedicated frontend nodes − nodes the given group occupies
 *   given nodes = ceil(N × gpusPerWorker / gpusPerNode) (whole nodes each for a multi-node worker)
 *   other count = floor(free nodes × gpusPerNode / its gpusPerWorker) (free nodes / span if multi-node)
 *
 * With whole-node workers this is the guide's `decode = nodes − N`. Without --nodes (auto) the other
 * group gets 1 worker. Only per-worker GPU flags and no counts: the core's default split decides the
 * node counts (half the worker nodes prefill, the rest decode) and the same arithmetic fills them.
 */
export function fillWorkerCounts(raw: Record<string, unknown>, backend: Backend): void {
  const roles = getIn(raw, ["roles"]);
  if (!isPlain(roles) || roles.aggregated !== undefined) return;
  const prefill = roles.prefill;
  const decode = roles.decode;
  if (prefill === undefined && decode === undefined) return;
  if ((prefill !== undefined && !isPlain(prefill)) || (decode !== undefined && !isPlain(decode))) return;
  const pw = prefill?.workers;
  const dw = decode?.workers;
  if (pw !== undefined && dw !== undefined) return;
  const gpnRaw = getIn(raw, ["slurm", "gpusPerNode"]) ?? 8;
  const nodes = getIn(raw, ["slurm", "nodes"]) ?? "auto";
  if (typeof gpnRaw !== "number" || gpnRaw < 1) return;
  if (nodes !== "auto" && (typeof nodes !== "number" || nodes < 1)) return;
  if ((pw !== undefined && typeof pw !== "number") || (dw !== undefined && typeof dw !== "number")) return;
  const gpn = gpnRaw;
  const gpw = (role: "prefill" | "decode"): number => {
    const g = (roles[role] as Record<string, unknown> | undefined)?.gpusPerWorker;
    return typeof g === "number" && g >= 1 ? g : (backend.defaults?.gpusPerWorker?.[role] ?? gpn);
  };
  const nodesFor = (workers: number, g: number) =>
    g > gpn ? workers * Math.ceil(g / gpn) : Math.ceil((workers * g) / gpn);
  const capacity = (freeNodes: number, g: number) =>
    g > gpn ? Math.floor(freeNodes / Math.ceil(g / gpn)) : Math.floor((freeNodes * gpn) / g);
  const placement = getIn(raw, ["roles", "frontend", "placement"]);
  const count = getIn(raw, ["roles", "frontend", "count"]);
  const dedicated = placement === "dedicated" ? (typeof count === "number" ? count : 1) : 0;
  const fill = (role: "prefill" | "decode", workers: number) => {
    const group = (roles[role] as Record<string, unknown> | undefined) ?? {};
    roles[role] = { ...group, workers };
  };
  if (nodes === "auto") {
    if (pw === undefined) fill("prefill", 1);
    if (dw === undefined) fill("decode", 1);
    return;
  }
  const workerNodes = nodes - dedicated;
  if (pw === undefined && dw === undefined) {
    const prefillNodes = Math.floor(workerNodes / 2);
    const p = capacity(prefillNodes, gpw("prefill"));
    const d = capacity(workerNodes - prefillNodes, gpw("decode"));
    if (p < 1 || d < 1) {
      throw new DynError(
        "DYN_PLAN_INVALID",
        `slurm.nodes: ${nodes} node${nodes === 1 ? "" : "s"} cannot hold the default split (half the worker nodes prefill, the rest decode)`,
        { key: "slurm.nodes", hint: "use more nodes or give --num-prefill-workers / --num-decode-workers" },
      );
    }
    fill("prefill", p);
    fill("decode", d);
    return;
  }
  const [given, other] =
    pw !== undefined ? (["prefill", "decode"] as const) : (["decode", "prefill"] as const);
  const n = (pw ?? dw) as number;
  const free = workerNodes - nodesFor(n, gpw(given));
  const filled = Math.max(0, capacity(free, gpw(other)));
  if (filled < 1 && n >= 1) {
    const g = gpw(given);
    throw new DynError(
      "DYN_PLAN_INVALID",
      `roles.${given}.workers: ${n} ${given} worker${n === 1 ? "" : "s"} × ${g} GPU${g === 1 ? "" : "s"} leave no room for ${other} workers (${gpw(other)} GPUs each) on ${nodes} node${nodes === 1 ? "" : "s"} × ${gpn} GPUs`,
      {
        key: `roles.${given}.workers`,
        hint: `use --nodes ${nodes + Math.max(1, Math.ceil(gpw(other) / gpn))} or fewer ${given} workers, or give --num-${other}-workers`,
      },
    );
  }
  fill(other, filled);
}

/** Names of secrets not set in `env` (values are never read beyond "is it set"). */
export function missingSecrets(
  spec: DeploymentSpecT,
  env: Readonly<Record<string, string | undefined>>,
): string[] {
  return spec.secrets.filter((name) => env[name] === undefined || env[name] === "");
}

/** Refuse `--env NAME=…` for a name that is also a secret: the value would be written to disk. */
export function checkSecretEnvOverlap(
  spec: DeploymentSpecT,
  input: Pick<ResolvedInput, "origins" | "config" | "profile">,
): void {
  for (const name of spec.secrets) {
    if (name in spec.env) {
      throw new DynError(
        "DYN_SPEC_INVALID",
        `${labelFor(input, `env.${name}`)}: ${name} is a secret; its value must not be set in the spec`,
        { key: `env.${name}`, hint: `export ${name} in your shell; dyn passes it to the job by name only` },
      );
    }
  }
}
