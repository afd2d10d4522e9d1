/**
 * Site profiles: a cluster's conventions written once (GPU request style, partition, account, QOS,
 * exclusive, time limit, extra #SBATCH options, the network interface, container mounts, the runs
 * directory), in a site file and a user file of named profiles. Pure: the CLI reads the files and
 * passes their parsed contents; this module validates them, selects and resolves one profile
 * (`extends`, site and user definitions of one name) and layers it under the config file.
 *
 *   built-in/backend defaults < site profile < user profile (same name) < config file < DYN_* < flags
 *
 * A profile holds cluster conventions only: model, roles, backend and the other deployment keys are
 * refused with a message saying where they belong.
 */
import { z } from "zod";
import { DynError, type Problem } from "./errors.js";
import { isPlain, leafKeys, mergeLayers, valueIn } from "./layers.js";
import { checkExtraSbatch } from "./sbatch-directives.js";
import { containerMount, DeploymentSpec, envName, interfaceName, sbatchEntry, slurmName } from "./spec.js";
import { envValue, slurmTime, whole } from "./spec-forms.js";
import { closest, type Issue, issuesOf, keysAt, problemsError } from "./validate.js";

export const profileName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "must be a profile name (letters, digits, _ . -)");
const absolutePath = z.string().regex(/^\/[^\0\n\r]*$/, "must be an absolute path");

const ProfileSlurm = z.strictObject({
  partition: slurmName.optional(),
  account: slurmName.optional(),
  qos: slurmName.optional(),
  time: slurmTime.optional(),
  gpusPerNode: whole(1, 64).optional(),
  gpuRequest: z.enum(["gpus-per-node", "gres", "none"]).optional(),
  gpuType: slurmName.optional(),
  exclusive: z.boolean().optional(),
  mpi: slurmName.optional(),
  extraSbatch: z.array(sbatchEntry).optional(),
});

/** Applied only to deployments that run in a pyxis container (a bare-metal one ignores them). */
const ProfileContainer = z.strictObject({
  mounts: z.array(containerMount).optional(),
  env: z.array(envName).optional(),
  infra: z.enum(["image", "host"]).optional(),
  writable: z.boolean().optional(),
  remapRoot: z.boolean().optional(),
  mountHome: z.boolean().optional(),
  preload: z.boolean().optional(),
});

export const Profile = z
  .strictObject({
    /** Another profile this one starts from (its values, then this one's over them). */
    extends: profileName.optional(),
    description: z.string().optional(),
    slurm: ProfileSlurm.optional(),
    network: z.strictObject({ interface: interfaceName.optional() }).optional(),
    container: ProfileContainer.optional(),
    /** Environment for every process (NCCL_IB_HCA, UCX_NET_DEVICES …). */
    env: z.record(envName, envValue).optional(),
    hfCache: absolutePath.optional(),
    /** The runs directory (below --runs-dir, DYN_RUNS_DIR and the config's runsDir). */
    runsDir: absolutePath.optional(),
  })
  .superRefine((p, ctx) => {
    // The same conflict check as --sbatch-arg, against the profile's own GPU request style.
    const slurm = p.slurm ?? {};
    checkExtraSbatch(
      {
        slurm: {
          gpuRequest: slurm.gpuRequest ?? "gpus-per-node",
          requeue: false,
          extraSbatch: slurm.extraSbatch ?? [],
        },
      },
      ctx,
    );
  });
export type Profile = z.output<typeof Profile>;

export const ProfilesFile = z.strictObject({
  /** The profile used when none is named (--profile, DYN_PROFILE, the config's `profile:`). */
  default: profileName.optional(),
  profiles: z.record(profileName, Profile).default({}),
});
export type ProfilesFile = z.output<typeof ProfilesFile>;

/** Keys of a profile that are not spec keys. */
const PROFILE_ONLY = ["extends", "description", "runsDir"] as const;

export type ProfileScope = "site" | "user";

/** One profiles file as the CLI found it. */
export interface ProfilesSource {
  readonly scope: ProfileScope;
  /** The file, as messages name it. */
  readonly file: string;
  /** Its validated contents; undefined when the file does not exist. */
  readonly value?: ProfilesFile | undefined;
  /** `file:line:col` of a key path in the file (undefined when unknown). */
  readonly locate?:
    | ((path: readonly (string | number)[], preferKey?: boolean) => string | undefined)
    | undefined;
}

/** A profiles file's parsed data checked: the value, or every problem with its key path. */
export function checkProfilesFile(
  data: unknown,
): { ok: true; value: ProfilesFile } | { ok: false; issues: Issue[] } {
  const result = ProfilesFile.safeParse(data ?? {});
  if (result.success) return { ok: true, value: result.data };
  const issues = issuesOf(result.error, "", { schema: ProfilesFile, input: data }).map(notAProfileKey);
  return { ok: false, issues };
}

/** A spec key written in a profile (`model`, `roles`, `slurm.nodes`): say where it belongs instead. */
function notAProfileKey(issue: Issue): Issue {
  const [top, , ...rest] = issue.path;
  if (top !== "profiles" || rest.length === 0 || !issue.message.startsWith("unknown key")) return issue;
  const key = rest.map(String);
  const known = keysAt(DeploymentSpec, key.slice(0, -1));
  if (!known.includes(key[key.length - 1] as string)) return issue;
  return {
    ...issue,
    message: `${key.join(".")} is not a profile key: a profile holds cluster conventions only (slurm, network, container, env, hfCache, runsDir); set it in dyn.yaml or with a flag`,
    suggestion: undefined,
  };
}

/** Which profile is used and what chose it (`--profile`, `DYN_PROFILE`, the config, a file's default). */
export interface ProfileSelection {
  readonly name: string;
  readonly from: string;
}

/**
 * `--profile` > `DYN_PROFILE` > the config file's `profile:` > the user file's `default` > the site
 * file's. `--no-profile` (flag false) selects none, even a default.
 */
export function selectProfile(c: {
  readonly flag?: string | false | undefined;
  readonly env?: string | undefined;
  readonly config?: ProfileSelection | undefined;
  readonly sources: readonly ProfilesSource[];
}): ProfileSelection | undefined {
  if (c.flag === false) return undefined;
  if (c.flag !== undefined) return { name: c.flag, from: "--profile" };
  if (c.env) return { name: c.env, from: "DYN_PROFILE" };
  if (c.config) return c.config;
  for (const scope of ["user", "site"] as const) {
    for (const s of c.sources) {
      const name = s.scope === scope ? s.value?.default : undefined;
      if (name !== undefined) return { name, from: `the default of ${s.file}` };
    }
  }
  return undefined;
}

/** One definition merged into the resolved profile. */
export interface ProfileSourceUsed {
  readonly scope: ProfileScope;
  readonly file: string;
  readonly profile: string;
}

export interface ResolvedProfile {
  readonly name: string;
  /** What selected it (`--profile`, `DYN_PROFILE`, `dyn.yaml:1:10 profile`, `the default of …`). */
  readonly from: string;
  /** The selected profile, then what it extends, and so on. */
  readonly chain: readonly string[];
  /** Every definition merged, lowest first (root of the chain first; site before user). */
  readonly sources: readonly ProfileSourceUsed[];
  readonly description: string | undefined;
  /** The spec part: slurm, network, container, env, hfCache (raw spec input). */
  readonly raw: Record<string, unknown>;
  readonly runsDir: string | undefined;
  /** Dotted spec key (`slurm.partition`, `container.mounts.0`, `runsDir`) → `file:line:col key`. */
  readonly origins: ReadonlyMap<string, string>;
}

/** The profile names the sources define (site and user), sorted. */
export function profileNames(sources: readonly ProfilesSource[]): string[] {
  return [...new Set(sources.flatMap((s) => Object.keys(s.value?.profiles ?? {})))].sort();
}

function definitions(sources: readonly ProfilesSource[], name: string) {
  const out: Array<{ source: ProfilesSource; profile: Profile }> = [];
  for (const scope of ["site", "user"] as const)
    for (const source of sources) {
      const profile = source.scope === scope ? source.value?.profiles[name] : undefined;
      if (profile) out.push({ source, profile });
    }
  return out;
}

function label(source: ProfilesSource, path: readonly (string | number)[]): string {
  const key = path.join(".");
  const at = source.locate?.(path);
  return `${at ?? source.file} ${key}`;
}

function notFound(name: string, by: string, sources: readonly ProfilesSource[], key: string): DynError {
  const names = profileNames(sources);
  const guess = closest(name, names);
  const looked = sources
    .map(
      (s) =>
        `${s.file} (${s.value === undefined ? "no such file" : `profiles: ${Object.keys(s.value.profiles).join(", ") || "none"}`})`,
    )
    .join(", ");
  return new DynError(
    "DYN_PROFILE_NOT_FOUND",
    `${by}: no profile ${JSON.stringify(name)}${guess ? ` (did you mean ${guess}?)` : ""}; looked in ${looked}`,
    {
      key,
      hint:
        names.length > 0
          ? `known profiles: ${names.join(", ")}; dyn doctor --write-profile <name> writes one from what it detects`
          : "dyn doctor --write-profile <name> writes one from what it detects on this cluster",
    },
  );
}

/** The chain from the selected profile up through `extends` (a user definition's extends wins). */
function chainOf(sources: readonly ProfilesSource[], selection: ProfileSelection): string[] {
  const chain: string[] = [];
  let name = selection.name;
  let by = selection.from;
  let key = selection.from;
  for (;;) {
    const defs = definitions(sources, name);
    if (defs.length === 0) throw notFound(name, by, sources, key);
    if (chain.includes(name)) {
      const cycle = [...chain.slice(chain.indexOf(name)), name].join(" → ");
      throw new DynError("DYN_CONFIG_INVALID", `${by}: profiles extend each other in a cycle: ${cycle}`, {
        key,
        hint: "remove one of the extends: keys",
      });
    }
    chain.push(name);
    const withParent = [...defs].reverse().find((d) => d.profile.extends !== undefined);
    if (!withParent) return chain;
    const path = ["profiles", name, "extends"];
    by = label(withParent.source, path);
    key = path.join(".");
    name = withParent.profile.extends as string;
  }
}

/**
 * The selected profile resolved: its chain merged root first, and for each name the site definition
 * then the user's over it (scalars replaced, maps merged, lists appended), each value's origin kept.
 */
export function resolveProfile(
  sources: readonly ProfilesSource[],
  selection: ProfileSelection,
): ResolvedProfile {
  const chain = chainOf(sources, selection);
  let raw: Record<string, unknown> = {};
  let runsDir: string | undefined;
  let description: string | undefined;
  const origins = new Map<string, string>();
  const used: ProfileSourceUsed[] = [];
  for (const name of [...chain].reverse()) {
    for (const { source, profile } of definitions(sources, name)) {
      used.push({ scope: source.scope, file: source.file, profile: name });
      const at = (path: readonly (string | number)[]) => label(source, ["profiles", name, ...path]);
      const spec = specPart(profile);
      const before = raw;
      raw = mergeLayers(raw, spec);
      recordOrigins(spec, before, raw, at, origins);
      if (profile.runsDir !== undefined) {
        runsDir = profile.runsDir;
        origins.set("runsDir", at(["runsDir"]));
      }
      if (name === selection.name && profile.description !== undefined) description = profile.description;
    }
  }
  return {
    name: selection.name,
    from: selection.from,
    chain,
    sources: used,
    description,
    raw,
    runsDir,
    origins,
  };
}

function specPart(profile: Profile): Record<string, unknown> {
  const out: Record<string, unknown> = { ...profile };
  for (const k of PROFILE_ONLY) delete out[k];
  return out;
}

/** Each value a definition sets → its origin; a list item keeps the origin of its first occurrence. */
function recordOrigins(
  layer: Record<string, unknown>,
  before: Record<string, unknown>,
  merged: Record<string, unknown>,
  at: (path: readonly (string | number)[]) => string,
  origins: Map<string, string>,
): void {
  for (const path of leafKeys(layer)) {
    const value = valueIn(layer, path);
    const key = path.join(".");
    if (!Array.isArray(value)) {
      origins.set(key, at(path));
      continue;
    }
    const had = valueIn(before, path);
    const list = valueIn(merged, path) as unknown[];
    value.forEach((item, i) => {
      if (Array.isArray(had) && had.includes(item)) return;
      origins.set(`${key}.${list.indexOf(item)}`, at([...path, i]));
    });
  }
}

/** What layering a profile under the other layers did. */
export interface LayeredProfile {
  /** Profile, then `upper` (config file, DYN_*, flags, merged) over it. */
  readonly raw: Record<string, unknown>;
  /** The profile's values that no higher layer replaced: dotted key → `file:line:col key`. */
  readonly origins: ReadonlyMap<string, string>;
  /** List keys and how many items from the profile lead them (the higher layers' items follow). */
  readonly prepended: ReadonlyMap<string, number>;
  /** Sections the deployment does not use (`container` for a bare-metal deployment). */
  readonly unused: readonly string[];
}

/**
 * The profile as the lowest layer under `upper`. Its container settings apply only to a deployment
 * that runs in a pyxis container; for a bare-metal one they are left out and named in `unused`.
 */
export function layerProfile(profile: ResolvedProfile, upper: Record<string, unknown>): LayeredProfile {
  const base: Record<string, unknown> = { ...profile.raw };
  const unused: string[] = [];
  if (isPlain(base.container)) {
    const kind = valueIn(upper, ["container", "kind"]);
    if (kind === "pyxis") base.container = { ...base.container, kind: "pyxis" };
    else {
      delete base.container;
      unused.push("container");
    }
  }
  const raw = mergeLayers(base, upper);
  const origins = new Map<string, string>();
  for (const [key, label] of profile.origins) {
    const path = key.split(".");
    if (key === "runsDir" || (path[0] === "container" && unused.includes("container"))) continue;
    const item = /^\d+$/.test(path[path.length - 1] as string);
    // A list item from the profile keeps its index (profile items come first); a scalar or a map
    // entry is the profile's unless a higher layer set it.
    if (!item && valueIn(upper, path) !== undefined) continue;
    origins.set(key, label);
  }
  const prepended = new Map<string, number>();
  for (const path of leafKeys(base)) {
    const value = valueIn(base, path);
    if (Array.isArray(value) && value.length > 0) prepended.set(path.join("."), value.length);
  }
  return { raw, origins, prepended, unused };
}

/** What a plan records about its profile (`plan.json`, `dyn plan --json`'s `profile`). */
export interface PlanProfile {
  readonly name: string;
  readonly from: string;
  readonly chain: readonly string[];
  readonly sources: readonly ProfileSourceUsed[];
  readonly unused: readonly string[];
}

export function planProfile(profile: ResolvedProfile, layered: Pick<LayeredProfile, "unused">): PlanProfile {
  return {
    name: profile.name,
    from: profile.from,
    chain: profile.chain,
    sources: profile.sources,
    unused: layered.unused,
  };
}

/** Problems of a profiles file as one DynError, each named `file:line:col key`. */
export function profilesFileError(
  source: Pick<ProfilesSource, "file" | "locate">,
  issues: readonly Issue[],
): DynError {
  const problems: Problem[] = issues.map((i) => {
    // An unknown key (or one that is no profile key) is pointed at by its key, a bad value by itself.
    const where =
      source.locate?.(i.path, i.message.includes("unknown key") || i.message.includes("not a profile key")) ??
      source.file;
    return { key: i.key, message: i.message, label: `${where} ${i.key}`, where };
  });
  return problemsError(
    "DYN_CONFIG_INVALID",
    problems,
    "docs/cli.md (Profiles) lists the keys a profile may set",
  );
}
