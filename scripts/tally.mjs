#!/usr/bin/env node
// Sum the suites' results (vitest JSON reports, the Python runtime's unittest summary, and the
// build/typecheck/lint gates) into one closing line: "N passed, N failed". Exit 1 on any failure.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.argv[2] ?? "reports";
// Suites that must have reported: one that crashed before writing its report counts as failed.
const expected = (process.argv[3] ?? "").split(",").filter(Boolean);
let passed = 0;
let failed = 0;
const rows = [];

for (const file of readdirSync(dir)
  .filter((f) => f.endsWith(".json"))
  .sort()) {
  const r = JSON.parse(readFileSync(join(dir, file), "utf8"));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  // A suite that failed to load has no failed tests but is not a success.
  const broken = r.success === false && r.numFailedTests === 0 ? 1 : 0;
  failed += broken;
  rows.push(
    `${file.replace(/\.json$/, "").padEnd(20)} ${r.numPassedTests} passed, ${r.numFailedTests + broken} failed`,
  );
}
for (const name of expected) {
  if (!existsSync(join(dir, `${name}.json`))) {
    failed++;
    rows.push(`${name.padEnd(20)} no report (the suite did not run)`);
  }
}
const py = join(dir, "runtime.txt");
if (existsSync(py)) {
  const text = readFileSync(py, "utf8");
  const ran = Number(/Ran (\d+) tests?/.exec(text)?.[1] ?? 0);
  const bad = [...text.matchAll(/(?:failures|errors)=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
  const broken = ran === 0 || (!/\nOK/.test(text) && bad === 0) ? 1 : 0;
  passed += ran - bad;
  failed += bad + broken;
  rows.push(`${"runtime (python)".padEnd(20)} ${ran - bad} passed, ${bad + broken} failed`);
}
const gates = join(dir, "gates");
if (existsSync(gates)) {
  for (const line of readFileSync(gates, "utf8").split("\n").filter(Boolean)) {
    const [status, name] = line.split(" ");
    if (status === "PASS") passed++;
    else failed++;
    rows.push(`${`gate ${name}`.padEnd(20)} ${status}`);
  }
}
console.log(rows.join("\n"));
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
