#!/usr/bin/env node
// Generates the flag tables the testbed's stand-in Dynamo parses with (testbed/runtime/flags/), and the
// copy the conformance kit ships in @dyn/core, from the captured argparse tables in
// shared/reference/dynamo-flags/releases-{0,1}.x.json.
//
//   node scripts/gen-flag-tables.mjs [--from DIR] [--check]
//
// DIR defaults to <repo>/../shared/reference/dynamo-flags. --check regenerates in memory and exits 1
// if a committed file differs (or is missing); when DIR does not exist it prints
// "skipped: source not found" and exits 0, because CI cannot always see shared/.
//
// Outputs (deterministic: same input bytes -> same output bytes):
//   testbed/runtime/flags/releases.json  {generatedBy, sources, releases: {<release>: {derivedFrom,
//       components: {<component>: {command, flags: [{names, takesValue, choices, nargs, default, env,
//       deprecated, releaseUncertain, passthrough, parsedSeparately}]}}}}}, one flag per line.
//       `flags` = the component's `flags` then its `passthroughFlags` (passthrough: true).
//   testbed/runtime/flags/types.json     {generatedBy, sources, releases: {<release>: {<component>:
//       {"<first option name>": "<argparse/clap type>"}}}}: the numeric `type` of each flag that has
//       one, kept apart so releases.json keeps exactly the format other tests read.
//   packages/core/src/conformance/flag-tables.generated.ts  the same parsers, compact, shipped with the
//       conformance kit (@dyn/core/testing): FLAGS (each distinct flag once: names, takesValue,
//       choices, nargs, deprecated, releaseUncertain), PARSERS (a component's flags as indices into
//       FLAGS, each distinct list once) and RELEASES (release -> component -> index into PARSERS).
// Node 20, no dependencies.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const GENERATED_BY = "scripts/gen-flag-tables.mjs";
const SOURCES = ["releases-0.x.json", "releases-1.x.json"];
const KIT_FILE = "packages/core/src/conformance/flag-tables.generated.ts";
const COMPONENTS = ["frontend", "serve", "vllm", "vllm_v0", "sglang", "trtllm", "mocker"];
// Numeric types the stand-in checks (argparse type= functions and the clap types of dynamo-run).
const NUMERIC_TYPES = new Set([
  "int",
  "float",
  "positive_int",
  "non_negative_int",
  "nullable_int",
  "_nullable_int",
  "nullable_float",
  "_nullable_float",
  "non_negative_float",
  "u8",
  "u16",
  "u32",
  "Option<u32>",
  "Option<f64>",
]);

function usage(msg) {
  if (msg) process.stderr.write(`gen-flag-tables: ${msg}\n`);
  process.stderr.write("usage: node scripts/gen-flag-tables.mjs [--from DIR] [--check]\n");
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { from: resolve(repo, "..", "shared", "reference", "dynamo-flags"), check: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--check") opts.check = true;
    else if (a === "--from") {
      if (i + 1 >= argv.length) usage("--from needs a directory");
      opts.from = resolve(argv[++i]);
    } else if (a.startsWith("--from=")) opts.from = resolve(a.slice("--from=".length));
    else if (a === "-h" || a === "--help") {
      process.stdout.write("usage: node scripts/gen-flag-tables.mjs [--from DIR] [--check]\n");
      process.exit(0);
    } else usage(`unknown argument ${a}`);
  }
  return opts;
}

/** "1.10.2" sorts after "1.9.0". */
function compareVersions(a, b) {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function flagEntry(f, passthrough) {
  // Key order is part of the format; booleans default to false when the table omits them
  // (releaseUncertain is a reason string in the tables: any reason means true).
  return {
    names: f.names,
    takesValue: Boolean(f.takesValue),
    choices: f.choices ?? null,
    nargs: f.nargs ?? null,
    default: f.default === undefined ? null : f.default,
    env: f.env ?? null,
    deprecated: Boolean(f.deprecated),
    releaseUncertain: Boolean(f.releaseUncertain),
    passthrough,
    parsedSeparately: Boolean(f.parsedSeparately),
  };
}

function build(fromDir) {
  const raw = {};
  const sources = {};
  for (const name of SOURCES) {
    const path = join(fromDir, name);
    if (!existsSync(path)) throw new Error(`${path} not found`);
    raw[name] = readFileSync(path);
    sources[name] = createHash("sha256").update(raw[name]).digest("hex");
  }
  const all = {};
  for (const name of SOURCES) {
    const table = JSON.parse(raw[name].toString("utf8"));
    for (const [release, data] of Object.entries(table)) {
      if (release in all) throw new Error(`release ${release} appears in two source files`);
      all[release] = data;
    }
  }

  // OVERRIDE (the only one). The 1.0.0 row of releases-0.x.json was captured at main 8381e28a3e4a
  // (2026-03-06), later than the real tag v1.0.0 (b1818dc2734a, branched from main at db88c9530b76 on
  // 2026-02-25). releases-1.x.md, "Correction to the 1.0.0 row of releases-0.x.md", and
  // shared/reference/dynamo-releases.md ("Frontend flag drift"): at the tag vLLM/SGLang/TRT-LLM/mocker
  // flags are identical to that row, but the frontend is the one of v1.0.1 (--decode-fallback, the
  // --router-ttl alias; neither --enforce-disagg nor --enable-cache-control). So 1.0.0 takes the
  // frontend component of 1.0.1.
  if (all["1.0.0"] && all["1.0.1"]?.components?.frontend) {
    all["1.0.0"] = {
      ...all["1.0.0"],
      components: { ...all["1.0.0"].components, frontend: all["1.0.1"].components.frontend },
    };
  }

  const releases = {};
  const types = {};
  for (const release of Object.keys(all).sort(compareVersions)) {
    const data = all[release];
    const components = {};
    const typeMap = {};
    for (const comp of COMPONENTS) {
      const c = data.components?.[comp];
      if (!c || c.exists === false) continue;
      const flags = [
        ...(c.flags ?? []).map((f) => flagEntry(f, false)),
        ...(c.passthroughFlags ?? []).map((f) => flagEntry(f, true)),
      ];
      components[comp] = { command: c.command ?? "", flags };
      const t = {};
      for (const f of [...(c.flags ?? []), ...(c.passthroughFlags ?? [])]) {
        if (f.type && NUMERIC_TYPES.has(f.type) && !(f.names[0] in t)) t[f.names[0]] = f.type;
      }
      if (Object.keys(t).length) typeMap[comp] = t;
    }
    releases[release] = { derivedFrom: data.derivedFrom ?? null, components };
    types[release] = typeMap;
  }
  return { sources, releases, types };
}

function renderReleases({ sources, releases }) {
  const out = [];
  out.push("{");
  out.push(`"generatedBy": ${JSON.stringify(GENERATED_BY)},`);
  out.push(`"sources": ${JSON.stringify(sources)},`);
  out.push(`"releases": {`);
  const rels = Object.keys(releases);
  rels.forEach((rel, ri) => {
    const r = releases[rel];
    out.push(`${JSON.stringify(rel)}: {"derivedFrom": ${JSON.stringify(r.derivedFrom)}, "components": {`);
    const comps = Object.keys(r.components);
    comps.forEach((comp, ci) => {
      const c = r.components[comp];
      out.push(`${JSON.stringify(comp)}: {"command": ${JSON.stringify(c.command)}, "flags": [`);
      c.flags.forEach((f, fi) => {
        out.push(JSON.stringify(f) + (fi < c.flags.length - 1 ? "," : ""));
      });
      out.push(`]}${ci < comps.length - 1 ? "," : ""}`);
    });
    out.push(`}}${ri < rels.length - 1 ? "," : ""}`);
  });
  out.push("}");
  out.push("}");
  return `${out.join("\n")}\n`;
}

function renderTypes({ sources, types }) {
  const out = [];
  out.push("{");
  out.push(`"generatedBy": ${JSON.stringify(GENERATED_BY)},`);
  out.push(`"sources": ${JSON.stringify(sources)},`);
  out.push(`"releases": {`);
  const rels = Object.keys(types);
  rels.forEach((rel, ri) => {
    const comps = Object.keys(types[rel]);
    out.push(`${JSON.stringify(rel)}: {`);
    comps.forEach((comp, ci) => {
      out.push(
        `${JSON.stringify(comp)}: ${JSON.stringify(types[rel][comp])}${ci < comps.length - 1 ? "," : ""}`,
      );
    });
    out.push(`}${ri < rels.length - 1 ? "," : ""}`);
  });
  out.push("}");
  out.push("}");
  return `${out.join("\n")}\n`;
}

/** The conformance kit's copy: every distinct flag and every distinct parser once (about 1/10 the size). */
function renderKit({ sources, releases }) {
  const flagIndex = new Map();
  const flags = [];
  const parserIndex = new Map();
  const parsers = [];
  const byRelease = {};
  for (const [rel, r] of Object.entries(releases)) {
    byRelease[rel] = {};
    for (const [comp, c] of Object.entries(r.components)) {
      const ids = c.flags.map((f) => {
        const row = JSON.stringify([
          f.names,
          f.takesValue ? 1 : 0,
          f.choices,
          f.nargs,
          f.deprecated ? 1 : 0,
          f.releaseUncertain ? 1 : 0,
        ]);
        if (!flagIndex.has(row)) {
          flagIndex.set(row, flags.length);
          flags.push(row);
        }
        return flagIndex.get(row);
      });
      const key = JSON.stringify(ids);
      if (!parserIndex.has(key)) {
        parserIndex.set(key, parsers.length);
        parsers.push(key);
      }
      byRelease[rel][comp] = parserIndex.get(key);
    }
  }
  const out = [
    `// Generated by ${GENERATED_BY} from shared/reference/dynamo-flags/ (${Object.entries(sources)
      .map(([n, h]) => `${n} sha256 ${h.slice(0, 12)}`)
      .join(", ")}): do not edit.`,
    "// biome-ignore-all format: generated, one flag or parser per line",
    'import type { FlagRow } from "./flags.js";',
    "",
    "/** Every distinct flag: [names, takesValue, choices, nargs, deprecated, releaseUncertain]. */",
    "export const FLAGS: readonly FlagRow[] = [",
    ...flags.map((f) => `${f},`),
    "];",
    "",
    "/** Every distinct parser: its flags as indices into FLAGS, in the captured order. */",
    "export const PARSERS: readonly (readonly number[])[] = [",
    ...parsers.map((p) => `${p},`),
    "];",
    "",
    "/** Release -> component -> index into PARSERS. */",
    "export const RELEASES: Readonly<Record<string, Readonly<Record<string, number>>>> = {",
    ...Object.entries(byRelease).map(([rel, comps]) => `${JSON.stringify(rel)}: ${JSON.stringify(comps)},`),
    "};",
  ];
  return `${out.join("\n")}\n`;
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!existsSync(opts.from)) {
    if (opts.check) {
      process.stdout.write(`gen-flag-tables: skipped: source not found (${opts.from})\n`);
      process.exit(0);
    }
    process.stderr.write(`gen-flag-tables: source directory ${opts.from} not found (use --from DIR)\n`);
    process.exit(1);
  }
  let built;
  try {
    built = build(opts.from);
  } catch (e) {
    process.stderr.write(`gen-flag-tables: ${e.message}\n`);
    process.exit(1);
  }
  const files = {
    "testbed/runtime/flags/releases.json": renderReleases(built),
    "testbed/runtime/flags/types.json": renderTypes(built),
    [KIT_FILE]: renderKit(built),
  };
  if (opts.check) {
    const stale = [];
    for (const [name, text] of Object.entries(files)) {
      const path = join(repo, name);
      if (!existsSync(path) || readFileSync(path, "utf8") !== text) stale.push(name);
    }
    if (stale.length) {
      process.stderr.write(
        `gen-flag-tables: out of date: ${stale.join(", ")} (run node scripts/gen-flag-tables.mjs)\n`,
      );
      process.exit(1);
    }
    process.stdout.write(`gen-flag-tables: up to date (${Object.keys(built.releases).length} releases)\n`);
    return;
  }
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(repo, name)), { recursive: true });
    writeFileSync(join(repo, name), text);
  }
  process.stdout.write(
    `gen-flag-tables: wrote ${Object.keys(files).join(", ")} (${Object.keys(built.releases).length} releases)\n`,
  );
}

main();
