// Single-file build: dist/dyn.cjs, the whole CLI with the built-in backends, as one CommonJS file.
// bin/dyn.js runs it through V8's code cache (Node 20 has no module compile cache), and it runs on
// its own with `node dyn.cjs` on login nodes that have only node. CommonJS because only classic
// scripts can use a code cache; import.meta.url is mapped to the bundle's own URL.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
await build({
  entryPoints: [join(root, "scripts", "bundle-entry.mjs")],
  outfile: join(root, "dist", "dyn.cjs"),
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  define: { "import.meta.url": "__dynBundleUrl" },
  banner: {
    js: "#!/usr/bin/env node\nvar __dynBundleUrl = require('node:url').pathToFileURL(__filename).href;",
  },
  legalComments: "none",
  minify: true,
  logLevel: "warning",
});
console.log("wrote dist/dyn.cjs");
