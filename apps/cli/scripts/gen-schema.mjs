// Generates schema/dyn.schema.json (the dyn.yaml JSON Schema) from core's DeploymentSpec at build
// time. The config file is the spec's input form plus `backends:` and `runsDir:`, and `backend:` may
// be a plain name. Run by `pnpm build` after tsc (it imports the built @dyn/core).
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DeploymentSpec, z } from "@dyn/core";

const out = join(dirname(fileURLToPath(import.meta.url)), "..", "schema", "dyn.schema.json");
const schema = z.toJSONSchema(DeploymentSpec, { io: "input", unrepresentable: "any" });
schema.$id = "https://github.com/dyn/dyn/apps/cli/schema/dyn.schema.json";
schema.title = "dyn deployment config (dyn.yaml)";
schema.required = [];
schema.properties.backend = {
  description: "Backend name (vllm, sglang, trtllm, a dyn-backend-* package or a path), or { name, options }",
  anyOf: [{ type: "string", minLength: 1 }, schema.properties.backend],
};
schema.properties.backends = {
  description: "Extra backend packages or paths (relative to this file) that --backend may name",
  type: "array",
  items: { type: "string" },
};
schema.properties.runsDir = {
  description: "Where run directories are created (shared with the compute nodes)",
  type: "string",
};
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(schema, null, 2)}\n`);
console.log(`wrote ${out}`);
