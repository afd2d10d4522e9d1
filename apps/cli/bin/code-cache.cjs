// Run a CommonJS file through V8's code cache: the first run compiles it and saves the cache; later
// runs skip most of the compilation. Any problem with the cache (unwritable, stale, another Node)
// only costs speed, never correctness: V8 rejects cached data that does not match the source.
"use strict";
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const vm = require("node:vm");
const Module = require("node:module");

// One cache per command: V8 caches the functions a run has compiled, and `deploy` compiles other
// functions than `--help`.
// The name is <bundle>-<install>-<build>-<command>.v8: <install> a hash of the bundle's path (two
// installs do not evict each other), <build> its size, mtime and Node; a new build of the same
// install replaces that install's older files (removeStale), so upgrades do not pile up caches.
function cacheFile(file, stat) {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
  const command = /^[a-z][a-z-]*$/.test(process.argv[2] ?? "") ? process.argv[2] : "default";
  const install = `${path.basename(file)}-${fnv1a(file)}`;
  const build = `${stat.size}-${Math.round(stat.mtimeMs)}-${process.version}-${process.arch}`;
  return { path: path.join(base, "dyn", `${install}-${build}-${command}.v8`), install, build };
}

/** FNV-1a, 32 bits, as hex: a name for a path without loading node:crypto at every start. */
function fnv1a(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}

/** Remove this install's caches of other builds, and their stray temporary files. */
function removeStale(dir, install, build) {
  for (const name of fs.readdirSync(dir)) {
    if (!name.startsWith(`${install}-`)) continue;
    if (!name.startsWith(`${install}-${build}-`)) fs.rmSync(path.join(dir, name), { force: true });
  }
}

function runWithCodeCache(file) {
  // Code from a V8 cache has no dynamic-import callback: lend the bundle this module's import().
  globalThis.__dynImport = (url) => import(url);
  const stat = fs.statSync(file);
  const { path: cache, install, build } = cacheFile(file, stat);
  let cachedData;
  try {
    cachedData = fs.readFileSync(cache);
  } catch {}
  // A shebang is only valid at the very start of a file, not inside the module wrapper.
  const source = fs.readFileSync(file, "utf8").replace(/^#!/, "//");
  const script = new vm.Script(Module.wrap(source), {
    filename: file,
    cachedData,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  if (cachedData === undefined || script.cachedDataRejected) {
    // After the run, when the functions it used are compiled too.
    process.once("exit", () => {
      try {
        // Level by level: Node 20's recursive mkdirSync never returns on some pseudo filesystems.
        for (const dir of [path.dirname(path.dirname(cache)), path.dirname(cache)]) {
          try {
            fs.mkdirSync(dir);
          } catch (err) {
            if (err.code !== "EEXIST") throw err;
          }
        }
        const tmp = `${cache}.${process.pid}`;
        fs.writeFileSync(tmp, script.createCachedData());
        fs.renameSync(tmp, cache);
        removeStale(path.dirname(cache), install, build);
      } catch {}
    });
  }
  const mod = new Module(file, module);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(path.dirname(file));
  const localRequire = Module.createRequire(file);
  script.runInThisContext().call(mod.exports, mod.exports, localRequire, mod, file, path.dirname(file));
}

module.exports = { runWithCodeCache };
