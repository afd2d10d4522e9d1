/** `dyn init [--backend x]`: a commented dyn.yaml that validates, with a JSON Schema link for editors. */
import { existsSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DynError, z } from "@dyn/core";
import { loadBackend } from "../backends.js";
import type { Io } from "../io.js";
import { writeFileAtomic } from "../run-dir.js";

/** The schema shipped in the package: ../../schema from dist/commands, ../schema from the bundle. */
export function schemaPath(): string | undefined {
  for (const rel of ["../../schema/dyn.schema.json", "../schema/dyn.schema.json"]) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  return undefined;
}

const yamlValue = (v: unknown) => JSON.stringify(v);

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
  const schema = schemaPath();
  const fields =
    (
      z.toJSONSchema(backend.options, { io: "input", unrepresentable: "any" }) as {
        properties?: Record<string, { default?: unknown; description?: string }>;
      }
    ).properties ?? {};
  const lines: string[] = [];
  if (schema) lines.push(`# yaml-language-server: $schema=${relative(dirname(file), schema)}`);
  lines.push(
    "# dyn deployment config. `dyn plan` shows what it does; `dyn deploy` runs it.",
    "# Precedence: command-line flags > DYN_* environment variables > this file > backend defaults.",
    "# Every key: docs/cli.md. Lists given on the command line are appended to the lists here.",
    "",
    "backend:",
    `  name: ${name}`,
    `  # Backend options (dyn backends show ${name}); -o key=value overrides one.`,
    "  options: {}",
  );
  for (const [key, f] of Object.entries(fields)) {
    lines.push(
      `  #   ${key}: ${f.default === undefined ? "" : yamlValue(f.default)}${f.description ? `  # ${f.description}` : ""}`,
    );
  }
  lines.push(
    "",
    "model:",
    "  # HF model id or a path visible on the nodes (inside the container with pyxis).",
    backend.defaults?.model ? `  path: ${yamlValue(backend.defaults.model)}` : '  path: "Qwen/Qwen3-0.6B"',
    "  # servedName: my-model",
    "",
    '# Container (pyxis/enroot). For bare metal use: container: { kind: none, setup: "source /opt/venv/bin/activate" }',
    "# container:",
    "#   kind: pyxis",
    "#   image: nvcr.io#nvidia/ai-dynamo/vllm-runtime:0.9.0   # or /shared/images/dynamo.sqsh",
    '#   mounts: ["/shared/models:/models"]',
    "",
    "slurm:",
    "  # partition: gpu",
    "  # account: my-account",
    '  # time: "04:00:00"',
    "  gpusPerNode: 8",
    "  # gpuRequest: gpus-per-node   # or gres, or none",
    "  # nodes: auto                 # default: what the plan needs",
    "",
    "roles:",
    "  # Disaggregated: prefill and decode groups. Or aggregated: { workers: 2, gpusPerWorker: 4 }.",
    "  prefill:",
    "    workers: 1",
    "    # gpusPerWorker: 8",
    "  decode:",
    "    workers: 1",
    "    # gpusPerWorker: 8",
    "",
    "# Names of secret variables read from your shell at run time (values are never written).",
    "# secrets: [HF_TOKEN]",
    "",
    "# Where run directories go (absolute or relative to this file; must be shared with the nodes).",
    "# runsDir: /shared/dyn-runs",
    "",
  );
  writeFileAtomic(file, lines.join("\n"));
  io.stdout(`wrote ${file} (backend ${backend.name}); try: dyn plan\n`);
  return 0;
}
