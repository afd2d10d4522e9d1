// Single-file build: dist/dyn.cjs, the whole CLI with the built-in backends, as one CommonJS file.
// bin/dyn.js runs it through V8's code cache (Node 20 has no module compile cache), and it runs on
// its own with `node dyn.cjs` on login nodes that have only node. CommonJS because only classic
// scripts can use a code cache; import.meta.url is mapped to the bundle's own URL.
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

// commander requires node:child_process at load, for executable subcommands dyn does not have
// (commander/lib/command.js: `childProcess.spawn` is its only use). Loading it pulls in net, dgram
// and the stream internals: several ms of every start, `dyn --help` included. In the bundle it is
// required on first use instead; a commander whose source no longer has that line fails the build.
const EAGER_CHILD_PROCESS = "const childProcess = require('node:child_process');";
const lazyChildProcess = {
  name: "lazy-child-process",
  setup(b) {
    b.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, async (args) => {
      const source = await readFile(args.path, "utf8");
      if (!source.includes(EAGER_CHILD_PROCESS))
        throw new Error(`${args.path}: no "${EAGER_CHILD_PROCESS}" to make lazy (commander changed?)`);
      const lazy = "const childProcess = { spawn: (...a) => require('node:child_process').spawn(...a) };";
      return { contents: source.replace(EAGER_CHILD_PROCESS, lazy), loader: "js" };
    });
  },
};
// zod's namespace re-exports every locale (`export * as locales` in v4/classic/external.js and
// v4/core/index.js): 64 files, a quarter of the bundle, read and deserialised at every start. dyn's
// messages are English (zod registers `en` itself, v4/classic/schemas.js), and nothing calls
// z.locales.*; the bundle gets a locales index with `en` only. A zod without that index fails the build.
let localesTrimmed = false;
const englishOnly = {
  name: "zod-english-only",
  setup(b) {
    b.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, async (args) => {
      const source = await readFile(args.path, "utf8");
      if (!source.includes('export { default as en } from "./en.js";'))
        throw new Error(`${args.path}: no \`en\` export to keep (zod changed?)`);
      localesTrimmed = true;
      return { contents: 'export { default as en } from "./en.js";\n', loader: "js" };
    });
  },
};
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
  plugins: [lazyChildProcess, englishOnly],
  legalComments: "none",
  minify: true,
  logLevel: "warning",
});
if (!localesTrimmed)
  throw new Error("zod's locales index was not found: the bundle would carry every locale");
console.log("wrote dist/dyn.cjs");
