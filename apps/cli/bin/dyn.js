#!/usr/bin/env node
// Start fast: run the single-file build (dist/dyn.cjs) through V8's code cache. A checkout that has
// only the TypeScript build (no bundle yet) runs dist/index.js instead; both are the same main().
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const bundle = fileURLToPath(new URL("../dist/dyn.cjs", import.meta.url));
if (existsSync(bundle) && !process.env.DYN_NO_BUNDLE) {
  createRequire(import.meta.url)("./code-cache.cjs").runWithCodeCache(bundle);
} else {
  const { main } = await import("../dist/index.js");
  process.exitCode = await main(process.argv.slice(2));
}
