import sglang from "@dyn/backend-sglang";
import { plan, renderScript } from "@dyn/core";
import { specFor } from "./plan-scale.mjs";

const spec = specFor(4096);
let p;
let t = performance.now();
for (let i = 0; i < 10; i++) p = plan(spec, sglang);
console.log("plan", ((performance.now() - t) / 10).toFixed(1));
t = performance.now();
for (let i = 0; i < 10; i++) renderScript(p, { runDir: "/x" });
console.log("render", ((performance.now() - t) / 10).toFixed(1));
