// CLI start-up before and after a change: `node bench/startup-ab.mjs <other checkout> [runs]` runs
// `node -e 0`, and `dyn --help` and `dyn deploy --dry-run` through each checkout's bin/dyn.js (built:
// its dist/dyn.cjs and code cache), interleaved as bench/startup.mjs does. To get another checkout:
//   mkdir -p /tmp/base && git archive <commit> | tar -x -C /tmp/base
//   (cd /tmp/base && pnpm install --frozen-lockfile --offline && pnpm run build)
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatStartup, timed } from "./startup.mjs";
import { interleaved } from "./stats.mjs";

const [other, runsArg] = process.argv.slice(2);
if (!other) throw new Error("usage: node bench/startup-ab.mjs <other checkout> [runs]");
const runs = mkdtempSync(join(tmpdir(), "dyn-bench-runs-"));
const dry = ["deploy", "--backend", "sglang", "--dry-run", "--runs-dir", runs];
const bins = {
  other: join(other, "apps/cli/bin/dyn.js"),
  this: join(import.meta.dirname, "../apps/cli/bin/dyn.js"),
};

const cases = {
  "node -e 0": timed(["-e", "0"]),
  "other: dyn --help": timed([bins.other, "--help"]),
  "this: dyn --help": timed([bins.this, "--help"]),
  "other: dyn deploy --dry-run": timed([bins.other, ...dry]),
  "this: dyn deploy --dry-run": timed([bins.this, ...dry]),
};
for (const fn of Object.values(cases)) fn(); // the file cache, and each command's code cache
const n = Number(runsArg ?? 40);
const stats = await interleaved(n, cases);
console.log(formatStartup(stats, `command (${n} interleaved runs each; other = ${other})`));
