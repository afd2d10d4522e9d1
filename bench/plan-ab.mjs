// Planning + rendering before and after a change, in one process on one spec (interleaved, order
// alternating, so machine noise and GC debt hit both alike): `node bench/plan-ab.mjs <other core's
// dist/index.js> [nodes] [runs]`. Get the other core as bench/render-ab.mjs says. Both must make the
// same plan (as JSON) and the same script byte for byte, or it stops. Reports medians, p10–p90 and
// the pairwise ratio this/other per run.
import { pathToFileURL } from "node:url";
import sglang from "@dyn/backend-sglang";
import * as current from "@dyn/core";
import { specFor } from "./plan-scale.mjs";
import { ms, summarize } from "./stats.mjs";

const [otherPath, nodesArg, runsArg] = process.argv.slice(2);
if (!otherPath) throw new Error("usage: node bench/plan-ab.mjs <other core's dist/index.js> [nodes] [runs]");
const other = await import(pathToFileURL(otherPath).href);
const nodes = Number(nodesArg ?? 4096);
const runs = Number(runsArg ?? 21);
const spec = specFor(nodes);
const options = { runDir: "/shared/runs/bench" };
const once = (core) => {
  const t0 = performance.now();
  const p = core.plan(spec, sglang);
  const t1 = performance.now();
  const script = core.renderScript(p, options);
  const t2 = performance.now();
  return { plan: t1 - t0, render: t2 - t1, total: t2 - t0, p, script };
};
const a = once(other);
const b = once(current);
if (a.script !== b.script) throw new Error("the two scripts differ");
if (JSON.stringify(a.p) !== JSON.stringify(b.p)) throw new Error("the two plans differ");
for (let i = 0; i < 3; i++) {
  once(other);
  once(current);
}
const samples = { other: [], this: [] };
for (let i = 0; i < runs; i++) {
  for (const k of i % 2 ? ["other", "this"] : ["this", "other"]) {
    const { plan, render, total } = once(k === "other" ? other : current);
    samples[k].push({ plan, render, total });
  }
}
const show = (xs) => {
  const s = summarize(xs);
  return `${ms(s.median)} (${ms(s.p10)}–${ms(s.p90)})`;
};
console.log(
  `| ${nodes} nodes, ${b.p.steps.length} processes, ${runs} runs | ${otherPath} | this checkout | this / other (pairwise) |`,
);
console.log("|---|---|---|---|");
for (const part of ["total", "plan", "render"]) {
  const r = summarize(samples.this.map((x, i) => x[part] / samples.other[i][part]));
  console.log(
    `| ${part === "total" ? "plan+render" : part} | ${show(samples.other.map((x) => x[part]))} | ${show(samples.this.map((x) => x[part]))} | ${r.median.toFixed(2)}× (${r.p10.toFixed(2)}–${r.p90.toFixed(2)}) |`,
  );
}
