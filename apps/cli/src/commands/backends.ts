/** `dyn backends` (list) and `dyn backends show <x>` (components, defaults, options + JSON Schema). */
import { type Release, releaseOf, releaseTableOf, resolveOptions, WORKER_ROLES, z } from "@dyn/core";
import { listBackends, loadBackend } from "../backends.js";
import { loadConfig } from "../config-file.js";
import { type Io, printJson, style } from "../io.js";
import { flagsLayer, labelFor, relabel } from "../spec-from-options.js";
import { pad } from "./shared.js";

export async function run(flags: Record<string, unknown>, _args: string[], io: Io): Promise<number> {
  const config = await loadConfig(io.cwd, flags.config as string | undefined);
  const list = await listBackends(io.cwd, config?.backends ?? []);
  if (flags.json) {
    printJson(io, {
      format: "dyn.backends/v1",
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
  const schema = z.toJSONSchema(backend.options, { io: "input", unrepresentable: "any" }) as {
    properties?: Record<string, FieldInfo>;
  };
  if (flags.json) {
    printJson(io, {
      format: "dyn.backend/v1",
      name: backend.name,
      description: backend.description,
      source,
      release: release.version,
      releases: table.known,
      releaseTable: backend.releases ? table.rows : null,
      components,
      defaults: backend.defaults ?? {},
      options,
      schema,
    });
    return 0;
  }
  const s = style(io);
  const out = [`${s.bold(backend.name)} — ${backend.description}`, `source: ${source}`, ""];
  out.push(`releases (--dynamo-version; default ${table.newest}, or the container image's tag):`);
  out.push(`  ${table.known.join(" ")}`);
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
  io.stdout(`${out.join("\n")}\n`);
  return 0;
}
