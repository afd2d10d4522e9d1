// Rendering before and after a change, in one process on one plan (interleaved, so machine noise hits
// both alike): `node bench/render-ab.mjs <other core's dist/index.js> [nodes]`. To get an older core:
//   mkdir -p /tmp/old && git archive <commit> packages/core tsconfig.base.json | tar -x -C /tmp/old
//   ln -s "$PWD/packages/core/node_modules" /tmp/old/packages/core/node_modules
//   node node_modules/typescript/bin/tsc -p /tmp/old/packages/core   # type errors still emit
// The plan is made by this checkout's planner; both renderers render it.
import { pathToFileURL } from "node:url";
import sglang from "@dyn/backend-sglang";
import { plan, renderScript } from "@dyn/core";
import { specFor } from "./plan-scale.mjs";
import { ms, summarize } from "./stats.mjs";

const [other, nodesArg] = process.argv.slice(2);
if (!other) throw new Error("usage: node bench/render-ab.mjs <other core's dist/index.js> [nodes]");
const { renderScript: renderOther } = await import(pathToFileURL(other).href);
const nodes = Number(nodesArg ?? 4096);
const p = plan(specFor(nodes), sglang);
const options = { runDir: "/shared/runs/bench" };
const timed = (fn) => {
  const t = performance.now();
  fn();
  return performance.now() - t;
};
for (let i = 0; i < 3; i++) {
  renderOther(p, options);
  renderScript(p, options);
}
const samples = { other: [], this: [], json: [] };
for (let i = 0; i < 21; i++) {
  samples.other.push(timed(() => renderOther(p, options)));
  samples.this.push(timed(() => renderScript(p, options)));
  samples.json.push(timed(() => JSON.parse(JSON.stringify(p))));
}
const show = (x) => {
  const s = summarize(x);
  return `${ms(s.median)} (${ms(s.p10)}–${ms(s.p90)})`;
};
const bytes = (fn) => Buffer.byteLength(fn(p, options));
console.log(`| renderer | render, ${nodes} nodes (${p.steps.length} processes), median (p10–p90) | script |`);
console.log("|---|---|---:|");
console.log(`| ${other} | ${show(samples.other)} | ${bytes(renderOther)} B |`);
console.log(`| this checkout | ${show(samples.this)} | ${bytes(renderScript)} B |`);
console.log(`| JSON round trip of the plan | ${show(samples.json)} | |`);
