// Single-file build: dist/dyn.bundle.mjs with the built-in backends included (node20, ESM).
// A separate artifact (bin/dyn.js keeps running dist/index.js); run `node dist/dyn.bundle.mjs`.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const entry = join(root, "scripts", "bundle-entry.mjs");
await build({
  entryPoints: [entry],
  outfile: join(root, "dist", "dyn.bundle.mjs"),
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __dynCreateRequire } from 'node:module'; const require = __dynCreateRequire(import.meta.url);",
  },
  legalComments: "none",
  minify: true,
  logLevel: "warning",
});
console.log("wrote dist/dyn.bundle.mjs");
