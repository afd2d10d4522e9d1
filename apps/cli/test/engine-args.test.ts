/**
 * Engine arguments from the command line and the config file (#14 item 1): --prefill-arg,
 * --decode-arg, --worker-arg and --frontend-arg take a shell-like string; `args:` a string or a list
 * of words, numbers and booleans. They reach the role's command as words, in order, after the
 * config's, and the plan table shows them.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { run, tmp, writeConfig } from "./helpers.js";

interface Process {
  id: string;
  command: string[];
}

async function plan(argv: string[], config?: string) {
  const cwd = tmp();
  if (config) writeConfig(cwd, config);
  const r = await run(["plan", "--json", ...argv], { cwd });
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  const json = JSON.parse(r.stdout) as {
    processes: Process[];
    spec: { roles: Record<string, { args: string[] }> };
  };
  const tail = (id: string, n: number) => json.processes.find((p) => p.id === id)?.command.slice(-n);
  return { json, tail };
}

describe("engine-argument flags", () => {
  it("each value is split like a shell line; repeated values append in order", async () => {
    const { tail } = await plan([
      "--backend",
      "vllm",
      "--decode-arg",
      "--max-model-len 8192 --gpu-memory-utilization 0.9",
      "--decode-arg=--enforce-eager",
      "--prefill-arg",
      "--chat-template 'a b' --x=\"c d\"",
      "--frontend-arg",
      "--router-mode kv",
    ]);
    expect(tail("decode-w0", 5)).toEqual([
      "--max-model-len",
      "8192",
      "--gpu-memory-utilization",
      "0.9",
      "--enforce-eager",
    ]);
    expect(tail("prefill-w0", 3)).toEqual(["--chat-template", "a b", "--x=c d"]);
    expect(tail("frontend-0", 2)).toEqual(["--router-mode", "kv"]);
  });

  it("--worker-arg goes to aggregated workers", async () => {
    const { tail } = await plan([
      "--backend",
      "sglang",
      "--aggregated-workers",
      "2",
      "--worker-arg",
      "--mem-fraction-static 0.8",
    ]);
    expect(tail("aggregated-w0", 2)).toEqual(["--mem-fraction-static", "0.8"]);
    expect(tail("aggregated-w1", 2)).toEqual(["--mem-fraction-static", "0.8"]);
  });

  it("the config's args come first, the flags' after, nothing deduplicated", async () => {
    const { json } = await plan(
      ["--decode-arg", "--b 1"],
      "backend: sglang\nroles:\n  prefill: { workers: 1 }\n  decode:\n    workers: 1\n    args: [--a, 1, --flag, true, --ratio, 1.50]\n",
    );
    expect(json.spec.roles.decode?.args).toEqual([
      "--a",
      "1",
      "--flag",
      "true",
      "--ratio",
      "1.50",
      "--b",
      "1",
    ]);
  });

  it("a config args string is split the same way", async () => {
    const { tail } = await plan(
      [],
      "backend: sglang\nroles:\n  aggregated:\n    workers: 1\n    args: \"--context-length 8192 --tp 'x y'\"\n",
    );
    expect(tail("aggregated-w0", 4)).toEqual(["--context-length", "8192", "--tp", "x y"]);
  });

  it("a flag given alone fills the default groups around it", async () => {
    const { json } = await plan(["--backend", "sglang", "--prefill-arg", "--x 1"]);
    expect(json.spec.roles.prefill?.args).toEqual(["--x", "1"]);
    expect(json.spec.roles.decode?.args).toEqual([]);
  });

  it("the plan table shows each role's args", async () => {
    const r = await run([
      "plan",
      "--backend",
      "sglang",
      "--decode-arg",
      "--context-length 8192 --x 'a b'",
      "--frontend-arg",
      "--kv-cache-block-size 16",
    ]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[lines.findIndex((l) => l.startsWith("  decode:")) + 1]).toBe(
      "    engine args: --context-length 8192 --x 'a b'",
    );
    expect(lines).toContain("  frontend args: --kv-cache-block-size 16");
  });

  it("the rendered script passes each word as one shell word", async () => {
    const cwd = tmp();
    const r = await run(
      ["deploy", "--dry-run", "--backend", "sglang", "--decode-arg", "--x 'a b' --y \"it's\""],
      { cwd },
    );
    expect(r.code).toBe(0);
    const dir = /Files in (\S+):/.exec(r.stdout)?.[1] as string;
    const script = readFileSync(join(dir, "job.sbatch"), "utf8");
    expect(script).toContain("--x 'a b' --y 'it'\\''s'");
  });

  it("dyn backends show names the flags of the roles the release runs", async () => {
    const modern = await run(["backends", "show", "sglang"]);
    expect(modern.stdout).toContain(
      "  --prefill-arg (prefill), --decode-arg (decode), --worker-arg (aggregated), --frontend-arg (frontend); roles.<role>.args in dyn.yaml",
    );
    const legacy = await run(["backends", "show", "vllm", "--legacy"]);
    expect(legacy.stdout).toContain(
      "  --prefill-arg (prefill), --decode-arg (decode), --frontend-arg (frontend);",
    );
  });

  it("--help lists the four flags", async () => {
    const r = await run(["deploy", "--help"]);
    for (const f of [
      "--prefill-arg <args>",
      "--decode-arg <args>",
      "--worker-arg <args>",
      "--frontend-arg <args>",
    ])
      expect(r.stdout).toContain(f);
  });
});
