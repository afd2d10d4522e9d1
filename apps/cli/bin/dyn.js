#!/usr/bin/env node
// Start fast: run the single-file build (dist/dyn.cjs) through V8's code cache. A checkout that has
// only the TypeScript build (no bundle yet) runs dist/index.js instead; both are the same main().
// CommonJS (bin/package.json): an ES module entry would start Node's ESM loader, which loads
// fs/promises, readline and the stream internals before dyn runs a line (docs/benchmarks.md).
"use strict";
const { existsSync } = require("node:fs");
const { join } = require("node:path");

const bundle = join(__dirname, "..", "dist", "dyn.cjs");
if (existsSync(bundle) && !process.env.DYN_NO_BUNDLE) {
  require("./code-cache.cjs").runWithCodeCache(bundle);
} else {
  import("../dist/index.js").then(async ({ main }) => {
    process.exitCode = await main(process.argv.slice(2));
  });
}
