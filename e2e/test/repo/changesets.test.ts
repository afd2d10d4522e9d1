/**
 * Independent versions: a changeset bumps only the package it names, and a core minor does not drag
 * the backends (peer range ^1.0.0) to a new major. Runs the real `changeset version` on a copy of the
 * repository's tracked files.
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../../..");
const packages = {
  "@dyn/core": "packages/core",
  "@dyn/backend-vllm": "packages/backend-vllm",
  "@dyn/backend-sglang": "packages/backend-sglang",
  "@dyn/backend-trtllm": "packages/backend-trtllm",
  "@dyn/cli": "apps/cli",
} as const;
type Name = keyof typeof packages;

let copy = "";
afterEach(() => rmSync(copy, { recursive: true, force: true }));

function repoCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), "dyn-changesets-"));
  const files = execFileSync("git", ["ls-files", "-z"], { cwd: root, encoding: "utf8" })
    .split("\0")
    .filter(Boolean);
  for (const f of files) {
    if (f.startsWith(".changeset/") && f.endsWith(".md") && !f.endsWith("README.md")) continue; // only our changeset
    cpSync(join(root, f), join(dir, f), { recursive: true });
  }
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
  return dir;
}

const version = (dir: string, name: Name) =>
  JSON.parse(readFileSync(join(dir, packages[name], "package.json"), "utf8")).version as string;

function versionWith(
  bumps: Partial<Record<Name, "patch" | "minor" | "major">>,
): Record<Name, [string, string]> {
  copy = repoCopy();
  const before = Object.fromEntries(Object.keys(packages).map((n) => [n, version(copy, n as Name)]));
  const front = Object.entries(bumps).map(([n, b]) => `"${n}": ${b}`);
  writeFileSync(join(copy, ".changeset/test-change.md"), `---\n${front.join("\n")}\n---\n\nA change.\n`);
  const bin = join(root, "node_modules/@changesets/cli/bin.js");
  execFileSync(process.execPath, [bin, "version"], { cwd: copy, stdio: "pipe" });
  return Object.fromEntries(
    Object.keys(packages).map((n) => [n, [before[n], version(copy, n as Name)]]),
  ) as Record<Name, [string, string]>;
}

const bumped = (r: Record<Name, [string, string]>) =>
  Object.entries(r)
    .filter(([, [a, b]]) => a !== b)
    .map(([n]) => n)
    .sort();

describe("changeset version", () => {
  it("bumps only the backend a changeset names", () => {
    const r = versionWith({ "@dyn/backend-sglang": "patch" });
    expect(bumped(r)).toEqual(["@dyn/backend-sglang"]);
    expect(readFileSync(join(copy, "packages/backend-sglang/CHANGELOG.md"), "utf8")).toContain("A change.");
  });

  it("a core minor leaves the backends' versions and peer ranges alone", () => {
    const r = versionWith({ "@dyn/core": "minor" });
    expect(bumped(r)).toEqual(["@dyn/core"]);
    const peer = JSON.parse(
      readFileSync(join(copy, "packages/backend-vllm/package.json"), "utf8"),
    ).peerDependencies;
    expect(peer["@dyn/core"]).toBe("^1.0.0");
  });
});
