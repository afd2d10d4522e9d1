/**
 * `dyn init [--backend x] [--dynamo-version r]`: a commented dyn.yaml that plans as written, for the
 * backend and release: Dynamo's runtime image of that backend and release (none for a third-party
 * backend, whose image dyn cannot know), the backend's own GPUs per worker, the roles the release
 * runs, and every backend option with a value that is valid for that release. Each commented block
 * (and each commented line under a key that is set) uncomments to a config that plans; option lines
 * are checked by planning them before they are written.
 */
import { existsSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type Backend,
  DYNAMO_IMAGES,
  DynError,
  plan,
  type Release,
  releaseOf,
  resolveOptions,
  z,
} from "@dyn/core";
import { loadBackend } from "../backends.js";
import { parseConfig } from "../config-file.js";
import type { Io } from "../io.js";
import { writeFileAtomic } from "../run-dir.js";
import { fillWorkerCounts, flagsLayer, labelFor, parseSpec, relabel } from "../spec-from-options.js";

/** The schema shipped in the package: ../../schema from dist/commands, ../schema from the bundle. */
export function schemaPath(): string | undefined {
  for (const rel of ["../../schema/dyn.schema.json", "../schema/dyn.schema.json"]) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  return undefined;
}

const yamlValue = (v: unknown) => JSON.stringify(v);

/** Dynamo's runtime image of a built-in backend at a release; undefined for any other backend. */
export function runtimeImage(backend: string, release: string): string | undefined {
  const repo = Object.entries(DYNAMO_IMAGES).find(([, b]) => b === backend)?.[0];
  return repo ? `nvcr.io#nvidia/ai-dynamo/${repo}:${release}` : undefined;
}

interface OptionField {
  readonly default?: unknown;
  readonly description?: string;
  readonly type?: string;
  readonly enum?: readonly unknown[];
  readonly examples?: readonly unknown[];
  readonly minimum?: number;
  readonly exclusiveMinimum?: number;
}

/** A value to show for an option: its default, else an example from its schema, else one of its type. */
export function exampleValue(key: string, f: OptionField): unknown {
  if (f.default !== undefined) return f.default;
  if (f.examples && f.examples.length > 0) return f.examples[0];
  if (f.enum && f.enum.length > 0) return f.enum[0];
  if (f.type === "boolean") return true;
  if (f.type === "integer" || f.type === "number")
    return f.minimum ?? (f.exclusiveMinimum !== undefined ? f.exclusiveMinimum + 1 : 1);
  return `/path/to/${key}`;
}

function optionFields(backend: Backend): Array<[string, OptionField]> {
  const schema = z.toJSONSchema(backend.options, { io: "input", unrepresentable: "any" }) as {
    properties?: Record<string, OptionField>;
  };
  return Object.entries(schema.properties ?? {});
}

/** Plan a config text the way `dyn plan` would with no flags; the error's message, or undefined. */
async function planError(
  text: string,
  file: string,
  cwd: string,
  backend: Backend,
): Promise<string | undefined> {
  try {
    const config = await parseConfig(text, file, cwd);
    const input = {
      raw: structuredClone(config.spec),
      config,
      origins: new Map(),
      backendName: backend.name,
    };
    try {
      fillWorkerCounts(input.raw, backend);
      plan(parseSpec(input), backend, { versionOrigin: labelFor(input, "dynamo.version") });
    } catch (err) {
      throw relabel(err, input);
    }
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

interface CheckedOptions {
  /** `  #   key: value   # description` lines, each valid at this release. */
  readonly lines: readonly string[];
  /** Prose lines naming the options that do not apply here, and why. */
  readonly notes: readonly string[];
}

interface Template {
  readonly name: string;
  readonly backend: Backend;
  readonly release: Release;
  /** dynamo.version is written (set by --dynamo-version / --legacy) rather than commented. */
  readonly pinned: boolean;
  readonly schema: string | undefined;
  readonly options: CheckedOptions;
}

const commented = (lines: readonly string[]) => lines.map((l) => `# ${l}`);

function backendSection(t: Template): string[] {
  return [
    "backend:",
    `  name: ${yamlValue(t.name)}`,
    ...(t.options.lines.length > 0 || t.options.notes.length > 0
      ? [`  # Backend options (dyn backends show ${t.name}); -o key=value overrides one.`, ...t.options.notes]
      : [`  # This backend has no options (dyn backends show ${t.name}).`]),
    ...(t.options.lines.length > 0 ? ["  # options:", ...t.options.lines] : []),
  ];
}

function dynamoSection(t: Template): string[] {
  const block = ["dynamo:", `  version: ${yamlValue(t.release.version)}`];
  return t.pinned
    ? [
        "# The Dynamo release (dyn init --dynamo-version chose it; the container image's tag must agree).",
        ...block,
      ]
    : [
        `# The Dynamo release; default: the container image's tag, else the newest (${t.release.version}).`,
        ...commented(block),
      ];
}

function modelSection(t: Template): string[] {
  return [
    "model:",
    "  # An HF model id, or a path visible on the nodes (inside the container with pyxis).",
    `  path: ${yamlValue(t.backend.defaults?.model ?? "Qwen/Qwen3-0.6B")}`,
    '  # servedName: "my-model"',
  ];
}

function containerSection(t: Template): string[] {
  const image = runtimeImage(t.backend.name, t.release.version);
  const pyxis = image
    ? [
        `# Or pyxis/enroot with Dynamo's ${t.backend.name} runtime image of this release (or an absolute .sqsh file).`,
        ...commented([
          "container:",
          "  kind: pyxis",
          `  image: ${yamlValue(image)}`,
          '  mounts: ["/shared/models:/models"]',
        ]),
      ]
    : [
        `# Or pyxis/enroot with an image holding Dynamo ${t.release.version} and the ${t.backend.name} engine; dyn knows`,
        "# no public image for a third-party backend, so this points at your own squashfs file.",
        ...commented([
          "container:",
          "  kind: pyxis",
          `  image: ${yamlValue(`/shared/images/dynamo-${t.backend.name}.sqsh`)}`,
          '  mounts: ["/shared/models:/models"]',
        ]),
      ];
  return [
    "# Bare metal by default: each process runs on the node, after `setup` (e.g. a venv with Dynamo).",
    ...commented(["container:", "  kind: none", '  setup: "source /opt/venv/bin/activate"']),
    ...pyxis,
  ];
}

function slurmSection(): string[] {
  return [
    "slurm:",
    '  # partition: "gpu"',
    '  # account: "my-account"',
    '  # time: "04:00:00"',
    "  gpusPerNode: 8",
    '  # gpuRequest: "gpus-per-node"   # or gres, or none (dyn doctor says which the cluster has)',
    '  # nodes: "auto"                 # default: what the plan needs',
  ];
}

/** The roles this backend runs at the release: prefill + decode when it can, else aggregated. */
function rolesSection(t: Template): string[] {
  const options = resolveOptions(t.backend, {});
  const components = t.backend.components(options, t.release);
  const roles: Array<"prefill" | "decode" | "aggregated"> =
    components.prefill && components.decode ? ["prefill", "decode"] : ["aggregated"];
  const lines = [
    "roles:",
    roles.length === 2
      ? "  # Disaggregated prefill and decode groups (an aggregated group would replace both)."
      : `  # ${t.backend.name} runs aggregated workers at Dynamo ${t.release.version}.`,
  ];
  for (const role of roles) {
    const own = t.backend.defaults?.gpusPerWorker?.[role];
    lines.push(
      `  ${role}:`,
      "    workers: 1",
      own !== undefined
        ? `    # gpusPerWorker: ${own}   # the backend's default`
        : "    # gpusPerWorker: 8   # default: a whole node (slurm.gpusPerNode)",
      `    # args: []   # engine arguments: a shell-like string or a list of words (or --${role === "aggregated" ? "worker" : role}-arg "…")`,
    );
  }
  return lines;
}

function render(t: Template): string {
  const lines: string[] = [];
  if (t.schema) lines.push(`# yaml-language-server: $schema=${t.schema}`);
  lines.push(
    `# dyn deployment config, backend ${t.backend.name} at Dynamo ${t.release.version}. dyn plan shows what it does; dyn deploy runs it.`,
    "# Precedence is command-line flags, then DYN_* environment variables, then this file, then the backend's defaults.",
    "# Every key is in docs/cli.md. Lists given on the command line are appended to the lists here.",
    "# Each commented block uncomments on its own to a valid config (remove the # that starts each of its lines).",
    "",
    ...backendSection(t),
    "",
    ...dynamoSection(t),
    "",
    ...modelSection(t),
    "",
    ...containerSection(t),
    "",
    ...slurmSection(),
    "",
    ...rolesSection(t),
    "",
    "# Names of secret variables read from your shell at run time (values are never written).",
    '# secrets: ["HF_TOKEN"]',
    "",
    "# Where run directories go (absolute, or relative to this file; shared with the compute nodes).",
    '# runsDir: "/shared/dyn-runs"',
    "",
  );
  return lines.join("\n");
}

/**
 * Each option with a value: kept as a commented line when the config with it set plans at this
 * release, else named with the reason (e.g. an option of another generation).
 */
/** A plan error without its `dyn.yaml:12:7 backend.options.x:` label (the note names the option). */
const reason = (message: string) =>
  message.replace(/^\S+:\d+:\d+ \S+: /, "").replace(/^backend\.options\.\w+: /, "");

async function checkedOptions(
  t: Omit<Template, "options">,
  file: string,
  cwd: string,
): Promise<CheckedOptions> {
  const lines: string[] = [];
  const notes: string[] = [];
  for (const [key, f] of optionFields(t.backend)) {
    const line = `${key}: ${yamlValue(exampleValue(key, f))}`;
    // The option set alone, uncommented, in the config this command is about to write.
    const trial = render({ ...t, options: { lines: ["  options:", `    ${line}`], notes: [] } });
    const error = await planError(trial, file, cwd, t.backend);
    if (error === undefined)
      lines.push(`  #   ${line}${f.description ? `   # ${f.description.split("\n")[0]}` : ""}`);
    else notes.push(`  # (${key} does not apply at Dynamo ${t.release.version}: ${reason(error)})`);
  }
  return { lines, notes };
}

export async function run(flags: Record<string, unknown>, _args: string[], io: Io): Promise<number> {
  const file = resolve(io.cwd, (flags.file as string | undefined) ?? "dyn.yaml");
  if (existsSync(file) && !flags.force) {
    throw new DynError("DYN_USAGE", `${relative(io.cwd, file) || file}: already exists`, {
      key: "--force",
      hint: "dyn init --force overwrites it",
    });
  }
  const name = (flags.backend as string | undefined) ?? "vllm";
  const { backend } = await loadBackend(name, { cwd: io.cwd, key: "--backend" });
  const layer = flagsLayer({ legacy: flags.legacy, dynamoVersion: flags.dynamoVersion });
  const version = (layer.raw.dynamo as { version?: string } | undefined)?.version;
  const input = { origins: layer.origins, config: undefined };
  let release: Release;
  try {
    release = releaseOf(backend, { version, origin: labelFor(input, "dynamo.version") });
  } catch (err) {
    throw relabel(err, input);
  }
  const schema = schemaPath();
  const base = {
    name,
    backend,
    release,
    pinned: version !== undefined,
    schema: schema ? relative(dirname(file), schema) : undefined,
  };
  const template: Template = { ...base, options: await checkedOptions(base, file, io.cwd) };
  const text = render(template);
  const problem = await planError(text, file, io.cwd, backend);
  if (problem !== undefined)
    throw new DynError("DYN_INTERNAL", `dyn init wrote a config that does not plan: ${problem}`, {
      hint: "this is a bug in dyn; please report it with the command line",
    });
  writeFileAtomic(file, text);
  io.stdout(`wrote ${file} (backend ${backend.name}, Dynamo ${release.version}); try: dyn plan\n`);
  return 0;
}
