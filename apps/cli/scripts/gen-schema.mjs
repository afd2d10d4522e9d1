// Generates schema/dyn.schema.json (the dyn.yaml JSON Schema) from core's DeploymentSpec at build
// time. The config file is the spec's input form plus `backends:`, `runsDir:`, `profile:` and `matrix:`, and
// `backend:` may be a plain name. Also schema/profiles.schema.json (profiles.yaml) from core's
// ProfilesFile. Run by `pnpm build` after tsc (it imports the built @dyn/core).
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DeploymentSpec, ProfilesFile, z } from "@dyn/core";

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
schema.properties.profile = {
  description: "The site profile this project uses (profiles.yaml in /etc/dyn or ~/.config/dyn)",
  type: "string",
  pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]*$",
};
schema.properties.matrix = {
  description:
    "A sweep: dotted spec keys (roles.decode.workers) → lists of values; several keys form their cross product, at most 256 points (docs/cli.md, Sweeps)",
  type: "object",
  minProperties: 1,
  additionalProperties: { type: "array", minItems: 1 },
};
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(schema, null, 2)}\n`);
console.log(`wrote ${out}`);

const profilesOut = join(dirname(out), "profiles.schema.json");
const profiles = z.toJSONSchema(ProfilesFile, { io: "input", unrepresentable: "any" });
profiles.$id = "https://github.com/dyn/dyn/apps/cli/schema/profiles.schema.json";
profiles.title = "dyn site profiles (/etc/dyn/profiles.yaml, ~/.config/dyn/profiles.yaml)";
writeFileSync(profilesOut, `${JSON.stringify(profiles, null, 2)}\n`);
console.log(`wrote ${profilesOut}`);
