/**
 * `dyn backends new <name>`: the plugin package it writes (peer range, pinned tools, a backend that
 * passes the conformance kit as written), its refusals (exit 2, one line, nothing written), and
 * `backends show --legacy` for a backend that runs nothing at that release. The package built,
 * tested, packed, installed and deployed from tarballs: e2e/test/repo/scaffold.test.ts.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { CONTRACT_VERSION } from "@dyn/core";
import { conformanceProblems } from "@dyn/core/testing";
import { afterAll, describe, expect, it } from "vitest";
import { firstLine, run, tmp } from "./helpers.js";

const repo = join(import.meta.dirname, "../../..");
const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});
/** A directory from which "@dyn/core" resolves to the workspace's, as in a user's project. */
function resolvingDir(): string {
  const base = join(import.meta.dirname, "../node_modules/.dyn-test");
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(join(base, "new-"));
  made.push(dir);
  return dir;
}

describe("dyn backends new", () => {
  it("writes a package named dyn-backend-<name> with the contract's peer range and dyn's tool versions", async () => {
    const cwd = tmp();
    const r = await run(["backends", "new", "acme"], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^dyn-backend-acme \(backend "acme"\) written to \.\/dyn-backend-acme: /);
    const dir = join(cwd, "dyn-backend-acme");
    expect(readdirSync(dir).sort()).toEqual([
      ".gitignore",
      "README.md",
      "package.json",
      "src",
      "test",
      "tsconfig.json",
    ]);
    expect(statSync(dir).mode & 0o777).toBe(0o755);
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    expect(pkg.name).toBe("dyn-backend-acme");
    expect(pkg.keywords).toContain("dyn-backend");
    expect(pkg.peerDependencies).toEqual({ "@dyn/core": `^${CONTRACT_VERSION}.0.0` });
    const root = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")).devDependencies;
    expect(pkg.devDependencies).toEqual({
      "@dyn/core": `^${CONTRACT_VERSION}.0.0`,
      typescript: root.typescript,
      vitest: root.vitest,
    });
    expect(pkg.scripts).toMatchObject({
      build: "tsc -p tsconfig.json",
      test: "vitest run",
      prepack: "npm run build",
    });
    expect(readFileSync(join(dir, "test/conformance.test.ts"), "utf8")).toContain(
      "for (const c of conformance(backend)) it(c.name, c.run);",
    );
  });

  it("the backend it writes passes the conformance kit as it is, with 1 GPU per worker by default", async () => {
    const cwd = resolvingDir();
    const r = await run(["backends", "new", "acme", "--dir", "pkg"], { cwd });
    expect(r.code, r.stderr).toBe(0);
    const backend = (await import(join(cwd, "pkg/src/index.ts"))).default;
    expect(backend.name).toBe("acme");
    expect(backend.defaults.gpusPerWorker).toEqual({ prefill: 1, decode: 1, aggregated: 1 });
    expect(conformanceProblems(backend)).toEqual([]);
  });

  it("--json names the package, its directory and the files", async () => {
    const cwd = tmp();
    const r = await run(["backends", "new", "x", "--dir", "a/b", "--json"], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      schemaVersion: 1,
      format: "dyn.backends-new/v1",
      ok: true,
      name: "x",
      package: "dyn-backend-x",
      dir: join(cwd, "a/b"),
      files: [
        "package.json",
        "tsconfig.json",
        "src/index.ts",
        "test/conformance.test.ts",
        "README.md",
        ".gitignore",
      ],
    });
    expect(existsSync(join(cwd, "a/b/src/index.ts"))).toBe(true);
    // An empty directory is fine too.
    mkdirSync(join(cwd, "empty"));
    expect((await run(["backends", "new", "y", "--dir", "empty"], { cwd })).code).toBe(0);
    expect(existsSync(join(cwd, "empty/package.json"))).toBe(true);
  });

  it.each([
    [
      ["Foo_1"],
      '<name>: "Foo_1" is not a backend name (lowercase letters, digits and -, not starting with -)',
    ],
    [["dyn-backend-acme"], "<name>: dyn-backend-acme is the package name; give the backend's name"],
    [["vllm"], "<name>: vllm is a built-in backend; --backend vllm would never choose a plugin of that name"],
    [["acme", "--dir", "full"], "--dir: full exists and is not empty"],
    [["acme", "--dir", "file"], "--dir: file exists and is not a directory"],
  ])("refuses %j with one line, exit 2, writing nothing", async (args, message) => {
    const cwd = tmp();
    mkdirSync(join(cwd, "full"));
    writeFileSync(join(cwd, "full/keep.txt"), "mine\n");
    writeFileSync(join(cwd, "file"), "");
    const before = readdirSync(cwd).sort();
    const r = await run(["backends", "new", ...args], { cwd });
    expect(r.code).toBe(2);
    expect(firstLine(r.stderr)).toBe(`error: ${message} (DYN_USAGE)`);
    expect(readdirSync(cwd).sort()).toEqual(before);
    expect(readdirSync(join(cwd, "full"))).toEqual(["keep.txt"]);
  });
});

describe("docs/writing-a-backend.md", () => {
  it("lists the files the scaffold writes and shows its release table as written", async () => {
    const doc = readFileSync(join(repo, "docs/writing-a-backend.md"), "utf8");
    const cwd = tmp();
    const r = await run(["backends", "new", "acme", "--json"], { cwd });
    for (const file of JSON.parse(r.stdout).files as string[]) expect(doc).toContain(`\`${file}\``);
    const source = readFileSync(join(cwd, "dyn-backend-acme/src/index.ts"), "utf8");
    const table = (text: string) =>
      /defineReleases<\w+>\(\{\n {2}rows: \[\n[\s\S]*?\n {2}\],\n\}\);/.exec(text)?.[0];
    expect(table(source)).toBeDefined();
    expect(table(doc)).toBe(table(source));
  });
});

describe("dyn backends show --legacy", () => {
  it("a backend that runs nothing at Dynamo 0.3.2 is an error naming --legacy, not an empty list", async () => {
    const cwd = resolvingDir();
    writeFileSync(
      join(cwd, "modern.mjs"),
      `import { defineBackend, frontendCommand, versionAtLeast, z } from "@dyn/core";
export default defineBackend({
  name: "modern", description: "runs Dynamo >= 1.0 only, without a release table", options: z.strictObject({}),
  components: (_o, { version }) => versionAtLeast(version, "1.0.0") ? { aggregated: { alias: "W", dynamo: "dynamo.x", health: "backend" } } : {},
  multiNode: () => "per-node", ports: () => [],
  command: (ctx) => frontendCommand(ctx),
});
`,
    );
    const r = await run(["backends", "show", "./modern.mjs", "--legacy"], { cwd });
    expect(r.code).toBe(2);
    expect(firstLine(r.stderr)).toBe(
      "error: --legacy: backend modern runs no component with Dynamo 0.3.2 (DYN_UNSUPPORTED)",
    );
    expect(r.stdout).toBe("");
    const ok = await run(["backends", "show", "./modern.mjs"], { cwd });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain("(no release table: modern renders the same commands for every release)");
    const old = await run(["backends", "show", "./modern.mjs", "--dynamo-version", "0.9.0"], { cwd });
    expect(firstLine(old.stderr)).toBe(
      "error: --dynamo-version: backend modern runs no component with Dynamo 0.9.0 (DYN_UNSUPPORTED)",
    );
  });

  it("a backend with a release table that starts later refuses --legacy naming its releases", async () => {
    const r = await run(["backends", "show", "./backends/releases.mjs", "--legacy"], {
      cwd: join(import.meta.dirname, "fixtures/project"),
    });
    expect(r.code).toBe(2);
    expect(firstLine(r.stderr)).toMatch(
      /^error: --legacy: Dynamo 0\.3\.2 is not a release dyn knows; known releases of /,
    );
  });
});
