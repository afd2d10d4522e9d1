/**
 * `dyn backends` (list), `dyn backends show <x>` (components, defaults, options + JSON Schema) and
 * `dyn backends new <name>` (a ready-to-build plugin package).
 */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import {
  DynError,
  type Release,
  releaseOf,
  releaseTableOf,
  resolveOptions,
  WORKER_ROLES,
  z,
} from "@dyn/core";
import { BUILTINS, listBackends, loadBackend } from "../backends.js";
import { loadConfig } from "../config-file.js";
import { type Io, printJson, style } from "../io.js";
import { BACKEND_NAME, scaffold } from "../scaffold.js";
import { flagsLayer, labelFor, relabel } from "../spec-from-options.js";
import { pad } from "./shared.js";

export async function run(flags: Record<string, unknown>, _args: string[], io: Io): Promise<number> {
  const config = await loadConfig(io.cwd, flags.config as string | undefined);
  const list = await listBackends(io.cwd, config?.backends ?? []);
  if (flags.json) {
    printJson(io, {
      schemaVersion: 1,
      format: "dyn.backends/v1",
      ok: true,
      backends: list.map((b) => ({ ...b, description: b.description ?? null, error: b.error ?? null })),
    });
    return 0;
  }
  const rows = [["NAME", "KIND", "SOURCE", "DESCRIPTION"]];
  for (const b of list)
    rows.push([b.name, b.kind, b.source, b.error ? `unusable: ${b.error}` : (b.description ?? "")]);
  const lines = pad(rows).split("\n");
  lines[0] = style(io).bold(lines[0] ?? "");
  io.stdout(`${lines.join("\n")}\n`);
  return 0;
}

interface FieldInfo {
  type?: string | string[];
  default?: unknown;
  description?: string;
  enum?: unknown[];
}

export async function show(flags: Record<string, unknown>, args: string[], io: Io): Promise<number> {
  const config = await loadConfig(io.cwd, flags.config as string | undefined);
  const { backend, source } = await loadBackend(args[0] as string, {
    cwd: io.cwd,
    configBackends: config?.backends,
    key: "backend",
  });
  // The same flag handling as deploy: -o, --dynamo-version, --legacy (and their conflict).
  const layer = flagsLayer({
    option: flags.option,
    legacy: flags.legacy,
    dynamoVersion: flags.dynamoVersion,
  });
  const raw = (layer.raw.backend as { options?: unknown } | undefined)?.options ?? {};
  const options = resolveOptions(backend, raw) as Record<string, unknown>;
  const input = { origins: layer.origins, config: undefined };
  let release: Release;
  try {
    release = releaseOf(backend, {
      version: (layer.raw.dynamo as { version?: string } | undefined)?.version,
      origin: labelFor(input, "dynamo.version"),
    });
  } catch (err) {
    throw relabel(err, input);
  }
  const table = releaseTableOf(backend);
  const components = backend.components(options, release);
  if (Object.keys(components).length === 0) {
    // Nothing to show is not an answer: the release (or these options) has no role the backend runs.
    const flag = labelFor(input, "dynamo.version");
    throw new DynError(
      "DYN_UNSUPPORTED",
      `${flag === "dynamo.version" ? "--dynamo-version" : flag}: backend ${backend.name} runs no component with Dynamo ${release.version}${flags.option ? " and these options" : ""}`,
      {
        key: "dynamo.version",
        hint: backend.releases
          ? `its releases: ${table.known.join(", ")}`
          : `${backend.name} declares no release table; dyn backends show ${backend.name} lists what it runs`,
      },
    );
  }
  const schema = z.toJSONSchema(backend.options, { io: "input", unrepresentable: "any" }) as {
    properties?: Record<string, FieldInfo>;
  };
  if (flags.json) {
    printJson(io, {
      schemaVersion: 1,
      format: "dyn.backends-show/v1",
      ok: true,
      name: backend.name,
      description: backend.description,
      source,
      release: release.version,
      releases: table.known,
      releaseTable: backend.releases ? table.rows : null,
      components,
      defaults: {
        model: backend.defaults?.model ?? null,
        gpusPerWorker: backend.defaults?.gpusPerWorker ?? {},
      },
      options,
      schema,
    });
    return 0;
  }
  const s = style(io);
  const out = [`${s.bold(backend.name)} — ${backend.description}`, `source: ${source}`, ""];
  out.push(`releases (--dynamo-version; default ${table.newest}, or the container image's tag):`);
  out.push(`  ${table.known.join(" ")}`);
  if (!backend.releases)
    out.push(`  (no release table: ${backend.name} renders the same commands for every release)`);
  if (backend.releases) {
    out.push("", "release history (each row applies from its release on):");
    for (const row of table.rows) if (row.note) out.push(`  ${row.since.padEnd(6)} ${row.note}`);
  }
  out.push("", `components (Dynamo ${release.version}):`);
  for (const role of WORKER_ROLES) {
    const c = components[role];
    if (c) out.push(`  ${role.padEnd(10)} ${c.alias} → ${c.dynamo} (registers as "${c.health}")`);
  }
  const d = backend.defaults;
  out.push("", "defaults:", `  model: ${d?.model ?? "(none: --model is required)"}`);
  const gpw = Object.entries(d?.gpusPerWorker ?? {});
  out.push(`  GPUs per worker: ${gpw.length ? gpw.map(([r, n]) => `${r} ${n}`).join(", ") : "a whole node"}`);
  out.push("", "options (-o key=value, or backend.options in dyn.yaml):");
  const rows = Object.entries(schema.properties ?? {}).map(([key, f]) => [
    `  ${key}`,
    f.enum ? f.enum.map(String).join("|") : Array.isArray(f.type) ? f.type.join("|") : (f.type ?? "any"),
    f.default === undefined ? "" : `default ${JSON.stringify(f.default)}`,
    f.description ?? "",
  ]);
  if (rows.length) out.push(pad(rows));
  // Engine arguments are the spec's, not options: the flags for the roles this release runs.
  const argFlags = { prefill: "--prefill-arg", decode: "--decode-arg", aggregated: "--worker-arg" } as const;
  const roleFlags = WORKER_ROLES.filter((r) => components[r]).map((r) => `${argFlags[r]} (${r})`);
  out.push(
    "",
    'engine arguments (split like a shell line, appended to the role\'s command: --decode-arg "--max-model-len 8192"):',
    `  ${[...roleFlags, "--frontend-arg (frontend)"].join(", ")}; roles.<role>.args in dyn.yaml`,
  );
  io.stdout(`${out.join("\n")}\n`);
  return 0;
}

/** `dyn backends new <name> [--dir D]`: writes the plugin package into D (new or empty), all or nothing. */
export async function create(flags: Record<string, unknown>, args: string[], io: Io): Promise<number> {
  const name = args[0] as string;
  checkNewName(name);
  const { packageName, files } = scaffold(name);
  const dir = resolve(io.cwd, (flags.dir as string | undefined) ?? packageName);
  const shown = relative(io.cwd, dir) || ".";
  checkTarget(dir, shown);
  writeTree(dir, files);
  if (flags.json) {
    printJson(io, {
      schemaVersion: 1,
      format: "dyn.backends-new/v1",
      ok: true,
      name,
      package: packageName,
      dir,
      files: Object.keys(files),
    });
    return 0;
  }
  const s = style(io);
  const inside = shown.startsWith("..") || shown.startsWith("/") ? dir : `./${shown}`;
  io.stdout(
    [
      `${s.bold(packageName)} (backend "${name}") written to ${inside}: ${Object.keys(files).join(", ")}`,
      "next (its README.md says more):",
      `  cd ${inside}`,
      "  npm install --save-dev <dyn-core-*.tgz>   # @dyn/core is not on npm yet: install its tarball",
      "  npm run build && npm test && npm pack",
      "",
    ].join("\n"),
  );
  return 0;
}

function checkNewName(name: string): void {
  const usage = (message: string, hint: string) =>
    new DynError("DYN_USAGE", message, { key: "<name>", hint });
  if (name.startsWith("dyn-backend-"))
    throw usage(
      `<name>: ${name} is the package name; give the backend's name`,
      `dyn backends new ${name.slice("dyn-backend-".length)} (the package is named dyn-backend-<name>)`,
    );
  if (!BACKEND_NAME.test(name))
    throw usage(
      `<name>: ${JSON.stringify(name)} is not a backend name (lowercase letters, digits and -, not starting with -)`,
      "e.g. dyn backends new my-engine",
    );
  if (name in BUILTINS)
    throw usage(
      `<name>: ${name} is a built-in backend; --backend ${name} would never choose a plugin of that name`,
      "choose another name",
    );
}

function checkTarget(dir: string, shown: string): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory())
    throw new DynError("DYN_USAGE", `--dir: ${shown} exists and is not a directory`, { key: "--dir" });
  if (readdirSync(dir).length > 0)
    throw new DynError("DYN_USAGE", `--dir: ${shown} exists and is not empty`, {
      key: "--dir",
      hint: "give a new or empty directory with --dir",
    });
}

/** Every file into a sibling temp directory, then one rename: nothing is left half written. */
function writeTree(dir: string, files: Readonly<Record<string, string>>): void {
  let tmp: string | undefined;
  try {
    mkdirSync(dirname(dir), { recursive: true });
    tmp = mkdtempSync(join(dirname(dir), `.${basename(dir)}.tmp-`));
    chmodSync(tmp, 0o755); // mkdtemp's 0700 would stay on the package directory
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(tmp, path)), { recursive: true });
      writeFileSync(join(tmp, path), text);
    }
    if (existsSync(dir)) rmdirSync(dir);
    renameSync(tmp, dir);
  } catch (err) {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    throw new DynError("DYN_IO_FAILED", `${dir}: ${(err as Error).message}`, { cause: err });
  }
}
