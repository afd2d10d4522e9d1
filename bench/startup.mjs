// CLI start-up: wall time of `dyn --help` and `dyn deploy --dry-run` (package entry and the single-file
// bundle) against bare `node -e 0`, interleaved in the same run so machine noise hits all alike.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { interleaved, ms } from "./stats.mjs";

const repo = join(import.meta.dirname, "..");
const bin = join(repo, "apps/cli/bin/dyn.js");
const bundle = join(repo, "apps/cli/dist/dyn.cjs");
const runs = mkdtempSync(join(tmpdir(), "dyn-bench-runs-"));
const dry = ["deploy", "--backend", "sglang", "--dry-run", "--runs-dir", runs];

/** A case: the wall time of `node <args>`, which must exit 0. */
export function timed(args) {
  return () => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { stdio: "ignore", env: { ...process.env, NO_COLOR: "1" } });
    if (r.status !== 0) throw new Error(`node ${args.join(" ")} exited ${r.status}`);
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
}

export async function startup(runsCount = 25) {
  const cases = {
    "node -e 0": timed(["-e", "0"]),
    "dyn --help": timed([bin, "--help"]),
    "dyn deploy --dry-run": timed([bin, ...dry]),
    "node dist/dyn.cjs --help (no code cache)": timed([bundle, "--help"]),
    "node dist/dyn.cjs deploy --dry-run (no code cache)": timed([bundle, ...dry]),
  };
  for (const fn of Object.values(cases)) fn(); // warm the file cache
  return interleaved(runsCount, cases);
}

export function formatStartup(stats, title = "command") {
  const base = stats["node -e 0"].median;
  const lines = [`| ${title} | median | p10–p90 | × node -e 0 |`, "|---|---:|---:|---:|"];
  for (const [name, s] of Object.entries(stats)) {
    lines.push(
      `| \`${name}\` | ${ms(s.median)} | ${ms(s.p10)}–${ms(s.p90)} | ${(s.median / base).toFixed(2)}× |`,
    );
  }
  return lines.join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(formatStartup(await startup()));
