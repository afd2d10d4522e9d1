// dyn init writes a config that runs: per backend and release the runtime image of that release,
// the backend's own GPU defaults, the roles the release runs, and commented lines that uncomment to
// valid values (each block, each line under a key that is set, each backend option: planned here).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BUILTINS } from "../src/backends.js";
import { exampleValue, runtimeImage } from "../src/commands/init.js";
import { FIXTURE_PROJECT, firstLine, run, tmp } from "./helpers.js";

/** A commented-out YAML line (`  # key: value`, `#   - x`), as opposed to a prose comment. */
const YAML_LINE = /^(\s*)# ((\s*)([A-Za-z][\w]*:(\s|$)|- ))/;
const isCommentedYaml = (l: string) => YAML_LINE.test(l) && !l.includes("yaml-language-server");
const uncommentLine = (l: string) => l.replace(/^(\s*)# /, "$1");

/** Runs of consecutive commented-out YAML lines (line indices). */
function blocks(lines: readonly string[]): number[][] {
  const out: number[][] = [];
  let current: number[] = [];
  lines.forEach((l, i) => {
    if (isCommentedYaml(l)) current.push(i);
    else if (current.length > 0) {
      out.push(current);
      current = [];
    }
  });
  if (current.length > 0) out.push(current);
  return out;
}

const indentOf = (l: string) => (/^\s*/.exec(uncommentLine(l))?.[0] ?? "").length;

/** Variants of a config text: each block uncommented, and each line of a block under a set key. */
function variants(text: string): Array<{ what: string; text: string }> {
  const lines = text.split("\n");
  const out: Array<{ what: string; text: string }> = [];
  const make = (idx: readonly number[]) =>
    lines.map((l, i) => (idx.includes(i) ? uncommentLine(l) : l)).join("\n");
  for (const block of blocks(lines)) {
    out.push({ what: block.map((i) => lines[i]?.trim()).join(" / "), text: make(block) });
    const first = lines[block[0] as number] as string;
    if (indentOf(first) > 0 && block.every((i) => indentOf(lines[i] as string) === indentOf(first)))
      for (const i of block)
        if (block.length > 1) out.push({ what: (lines[i] as string).trim(), text: make([i]) });
    // The options block: its header with each option alone.
    if (first.trim() === "# options:")
      for (const i of block.slice(1))
        out.push({ what: `options: ${lines[i]?.trim()}`, text: make([block[0] as number, i]) });
  }
  return out;
}

async function initAndPlanEvery(argv: string[], cwd = tmp(), file = join(tmp(), "dyn.yaml")) {
  const r = await run(["init", ...argv, "--file", file], { cwd });
  expect(r.code, r.stderr).toBe(0);
  const text = readFileSync(file, "utf8");
  const planned = await run(["plan", "--json", "--config", file], { cwd });
  expect(planned.code, planned.stderr).toBe(0);
  const failures: string[] = [];
  const vs = variants(text);
  for (const v of vs) {
    writeFileSync(file, v.text);
    const p = await run(["plan", "--json", "--config", file], { cwd });
    if (p.code !== 0) failures.push(`${v.what}: ${firstLine(p.stderr)}`);
  }
  writeFileSync(file, text);
  expect(failures).toEqual([]);
  return { text, file, plan: JSON.parse(planned.stdout), variants: vs.length };
}

/** The releases where each built-in backend's table changes, and the newest. */
async function releasesOf(backend: string): Promise<string[]> {
  const b = (
    await (
      BUILTINS[backend] as {
        load: () => Promise<{ default: { releases?: { rows: Array<{ since: string }>; newest: string } } }>;
      }
    ).load()
  ).default;
  const rows = b.releases?.rows.map((r) => r.since) ?? [];
  return [...new Set([...rows, b.releases?.newest as string])];
}

describe("dyn init per backend and release", () => {
  for (const backend of Object.keys(BUILTINS)) {
    it(`${backend}: every release where its table changes, each commented block and option planned`, async () => {
      for (const release of await releasesOf(backend)) {
        const {
          text,
          plan,
          variants: n,
        } = await initAndPlanEvery(["--backend", backend, "--dynamo-version", release]);
        expect(n).toBeGreaterThan(10);
        expect(plan.release.version).toBe(release);
        expect(text).toContain(`#   image: "${runtimeImage(backend, release)}"`);
        expect(text).toMatch(new RegExp(`^dynamo:\\n  version: "${release.replace(/\./g, "\\.")}"$`, "m"));
      }
    });
  }

  it("without --dynamo-version: the newest release, commented, and the image's tag agrees", async () => {
    const cwd = tmp();
    const file = join(cwd, "dyn.yaml");
    const { text } = await initAndPlanEvery(["--backend", "sglang"], cwd, file);
    expect(text).toContain('# dynamo:\n#   version: "1.5.1"');
    // The pyxis block uncommented: the image's tag is the release.
    const lines = text.split("\n");
    const start = lines.indexOf("#   kind: pyxis") - 1;
    writeFileSync(file, lines.map((l, i) => (i >= start && i < start + 4 ? uncommentLine(l) : l)).join("\n"));
    const p = JSON.parse((await run(["plan", "--json"], { cwd })).stdout);
    expect(p.release).toMatchObject({ version: "1.5.1", source: "image" });
  });

  it("the backend's real GPU defaults: trtllm 1 per worker, vLLM a whole node", async () => {
    const trt = (await initAndPlanEvery(["--backend", "trtllm"])).text;
    expect(trt).toContain("    # gpusPerWorker: 1   # the backend's default");
    const vllm = (await initAndPlanEvery(["--backend", "vllm"])).text;
    expect(vllm).toContain("    # gpusPerWorker: 8   # default: a whole node (slurm.gpusPerNode)");
  });

  it("options a release does not take are named, not offered (TRT-LLM engine configs at 0.3.2)", async () => {
    const { text } = await initAndPlanEvery(["--backend", "trtllm", "--legacy"]);
    expect(text).toContain(
      "  # (prefillEngineConfig does not apply at Dynamo 0.3.2: Dynamo 0.3.2 takes engine configs from the graph config",
    );
    expect(text).not.toMatch(/^ {2}# {3}prefillEngineConfig:/m);
    const modern = (await initAndPlanEvery(["--backend", "trtllm"])).text;
    expect(modern).toMatch(
      /^ {2}# {3}prefillEngineConfig: "\/path\/to\/prefillEngineConfig" {3}# engine YAML/m,
    );
  });

  it("an unknown release is refused, and nothing is written", async () => {
    const cwd = tmp();
    const r = await run(["init", "--dynamo-version", "2.0"], { cwd });
    expect(r.code).toBe(2);
    expect(firstLine(r.stderr)).toContain("--dynamo-version: Dynamo 2.0 is not a release dyn knows");
    const both = await run(["init", "--legacy", "--dynamo-version", "1.5.1"], { cwd });
    expect(both.code).toBe(2);
    expect((await import("node:fs")).readdirSync(cwd)).toEqual([]);
  });
});

describe("dyn init for a third-party backend", () => {
  it("suggests no Dynamo engine image, and what it writes plans", async () => {
    const { text } = await initAndPlanEvery(["--backend", "fake"], FIXTURE_PROJECT);
    expect(text).not.toContain("nvcr.io");
    expect(text).not.toContain("vllm");
    expect(text).toContain('#   image: "/shared/images/dynamo-fake.sqsh"');
    expect(text).toContain('#   flavor: "plain"   # test option');
  });

  it("its own release table: aggregated only before 1.0.0, options checked at the release", async () => {
    const backend = "./backends/releases.mjs";
    const old = (await initAndPlanEvery(["--backend", backend, "--dynamo-version", "0.4.1"], FIXTURE_PROJECT))
      .text;
    expect(old).toMatch(
      /^ {2}aggregated:\n {4}workers: 1\n {4}# gpusPerWorker: 2 {3}# the backend's default$/m,
    );
    expect(old).not.toMatch(/^ {2}prefill:/m);
    expect(old).toMatch(/^ {2}# {3}oldFlag: true/m);
    const now = (await initAndPlanEvery(["--backend", backend], FIXTURE_PROJECT)).text;
    expect(now).toMatch(/^ {2}prefill:/m);
    expect(now).toContain("  # (oldFlag does not apply at Dynamo 1.5.1: Dynamo 1.5.1 has no such flag)");
    expect(now).toContain('#   engineConfig: "/shared/engine.yaml"   # engine YAML');
    expect(now).toContain("#   blocks: 4   # KV-cache blocks");
  });
});

describe("example values", () => {
  it("default, schema example, enum, boolean, number's minimum, else a path", () => {
    expect(exampleValue("a", { default: 3 })).toBe(3);
    expect(exampleValue("a", { examples: ["x"] })).toBe("x");
    expect(exampleValue("a", { enum: ["p", "q"] })).toBe("p");
    expect(exampleValue("a", { type: "boolean" })).toBe(true);
    expect(exampleValue("a", { type: "integer", minimum: 4 })).toBe(4);
    expect(exampleValue("a", { type: "number", exclusiveMinimum: 0 })).toBe(1);
    expect(exampleValue("cfg", { type: "string" })).toBe("/path/to/cfg");
    expect(runtimeImage("trtllm", "1.4.2")).toBe("nvcr.io#nvidia/ai-dynamo/tensorrtllm-runtime:1.4.2");
    expect(runtimeImage("mocker", "1.4.2")).toBeUndefined();
  });
});
