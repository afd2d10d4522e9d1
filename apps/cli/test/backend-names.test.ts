// Typos get suggestions, not install hints: `--backend vlm` → "did you mean vllm?"; the npm hint
// only for names that look like a third-party package and are not close to a built-in.
import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { editDistance, looksLikePackage, suggestBackend } from "../src/backends.js";
import { FIXTURE_PROJECT, firstLine, run, tmp, writeConfig } from "./helpers.js";

const hintOf = (stderr: string) => stderr.split("\n").find((l) => l.startsWith("hint: ")) ?? "";

describe("backend name suggestions", () => {
  it.each([
    ["vlm", "vllm"],
    ["VLLM", "vllm"],
    ["vllmm", "vllm"],
    ["vlml", "vllm"],
    ["sglng", "sglang"],
    ["sg-lang", "sglang"],
    ["trtlm", "trtllm"],
    ["tensorrt-llm", "trtllm"],
    ["trt", "trtllm"],
  ])("--backend %s → did you mean %s? and no install hint", async (typo, meant) => {
    const r = await run(["plan", "--backend", typo]);
    expect(r.code).toBe(2);
    expect(firstLine(r.stderr)).toMatch(
      new RegExp(
        `^error: --backend: no backend "${typo}" \\(did you mean ${meant}\\?\\); tried .* \\(DYN_BACKEND_NOT_FOUND\\)$`,
      ),
    );
    expect(hintOf(r.stderr)).toBe(
      "hint: built in: vllm, sglang, trtllm; dyn backends lists the installed ones",
    );
    expect(r.stderr).not.toContain("npm");
  });

  it("names that look like third-party packages get the install hint", async () => {
    for (const [name, pkg] of [
      ["my-engine", "dyn-backend-my-engine"],
      ["@acme/missing", "@acme/dyn-backend-missing"],
      ["dyn-backend-llamacpp", "dyn-backend-llamacpp"],
    ]) {
      const r = await run(["plan", "--backend", name as string]);
      expect(r.code).toBe(2);
      expect(firstLine(r.stderr)).toContain(`no backend "${name}": not built in (vllm, sglang, trtllm)`);
      expect(hintOf(r.stderr)).toBe(
        `hint: a third-party backend? npm i -D ${pkg} (or pnpm add -D ${pkg}) in your project`,
      );
    }
  });

  it("names no package can have get neither a suggestion nor an install hint", async () => {
    for (const name of ["Foo Bar", "völlig", "x".repeat(300)]) {
      const r = await run(["plan", "--backend", name]);
      expect(r.code).toBe(2);
      expect(r.stderr).not.toContain("did you mean");
      expect(hintOf(r.stderr)).toBe(
        "hint: built in: vllm, sglang, trtllm; dyn backends lists the installed ones",
      );
    }
  });

  it("the project's installed backends are suggested too", async () => {
    const r = await run(["plan", "--backend", "fak"], { cwd: FIXTURE_PROJECT });
    expect(firstLine(r.stderr)).toContain('no backend "fak" (did you mean fake?)');
  });

  it("the same from dyn.yaml, backends show and init (which writes nothing)", async () => {
    const cwd = tmp();
    writeConfig(cwd, "backend: vlm\n");
    const plan = await run(["plan"], { cwd });
    expect(plan.code).toBe(2);
    expect(firstLine(plan.stderr)).toMatch(
      /^error: dyn\.yaml:1:\d+ backend(\.name)?: no backend "vlm" \(did you mean vllm\?\)/,
    );
    const show = await run(["backends", "show", "sglan"]);
    expect(firstLine(show.stderr)).toContain('no backend "sglan" (did you mean sglang?)');
    const empty = tmp();
    const init = await run(["init", "--backend", "vlm"], { cwd: empty });
    expect(init.code).toBe(2);
    expect(firstLine(init.stderr)).toContain("(did you mean vllm?)");
    expect(readdirSync(empty)).toEqual([]);
  });

  it("edit distance counts a swap of neighbours as one edit", () => {
    expect(editDistance("vllm", "vlml")).toBe(1);
    expect(editDistance("vlm", "vllm")).toBe(1);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("nope", "vllm")).toBe(4);
    expect(suggestBackend("nope")).toBeUndefined();
    expect(suggestBackend("mockr", ["mocker"])).toBe("mocker");
    expect(looksLikePackage("@s/x")).toBe(true);
    expect(looksLikePackage("Foo")).toBe(false);
  });
});
