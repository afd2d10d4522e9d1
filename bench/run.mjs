// `pnpm bench`: the benchmarks that need no cluster (start-up, planning at scale, controller load),
// printed as the Markdown tables docs/benchmarks.md quotes. Figures are medians with spread, each
// next to a baseline measured in the same run. `--write` updates docs/benchmarks.md in place.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { controllerLoad, formatControllerLoad } from "./controller-load.mjs";
import { formatPlanScale, planScale } from "./plan-scale.mjs";
import { formatStartup, startup } from "./startup.mjs";

const seconds = Number(process.env.DYN_BENCH_WATCH_SECONDS ?? 60);
const machine = `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
console.error(`machine: ${machine}`);
console.error("1/3 CLI start-up …");
const s = formatStartup(await startup());
console.error("2/3 planning and rendering at scale …");
const p = formatPlanScale(planScale());
console.error(`3/3 controller load (${seconds} s of dyn status --watch) …`);
const c = formatControllerLoad(await controllerLoad(seconds));
const report = [
  `<!-- bench:start -->`,
  `Measured with \`pnpm bench\` on ${machine}.`,
  "",
  "**CLI start-up** (25 interleaved runs each):",
  "",
  s,
  "",
  "**Planning + rendering at scale** (16-GPU prefill workers over 2 nodes, 4-GPU decode workers packed 2 per node; 15 runs each after warm-up):",
  "",
  p,
  "",
  "**Controller load** (`dyn status --watch`, SLURM commands shimmed and counted):",
  "",
  c,
  `<!-- bench:end -->`,
].join("\n");
console.log(report);
if (process.argv.includes("--write")) {
  const doc = join(import.meta.dirname, "../docs/benchmarks.md");
  const text = readFileSync(doc, "utf8");
  writeFileSync(doc, text.replace(/<!-- bench:start -->[\s\S]*<!-- bench:end -->/, report));
  // The tables aligned as the repository's formatter (biome, part of `pnpm run lint`) wants them.
  spawnSync("pnpm", ["exec", "biome", "format", "--write", doc], { stdio: "inherit" });
}
