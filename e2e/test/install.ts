/**
 * Install dyn the way a user outside this repository would: `pnpm pack` every publishable package
 * (plus the example third-party backend), then `npm install` the tarballs into an empty project.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const repo = join(import.meta.dirname, "../..");

/** dyn itself: every @dyn/* package, which npm must get from tarballs in one install (none is published). */
export const DYN_PACKAGES = [
  "packages/core",
  "packages/backend-vllm",
  "packages/backend-sglang",
  "packages/backend-trtllm",
  "apps/cli",
] as const;

export const PACKAGES = [...DYN_PACKAGES, "examples/dyn-backend-mocker"] as const;

/** Pack the workspace packages (built beforehand) into tarballs; returns their paths. */
export function packAll(
  dest = mkdtempSync(join(tmpdir(), "dyn-pack-")),
  packages: readonly string[] = PACKAGES,
): string[] {
  return packages.map((dir) => {
    const out = execFileSync("pnpm", ["pack", "--pack-destination", dest], {
      cwd: join(repo, dir),
      encoding: "utf8",
    });
    const tarball = out.trim().split("\n").pop() as string;
    if (!existsSync(tarball)) throw new Error(`pnpm pack in ${dir} did not produce ${tarball}`);
    return tarball;
  });
}

/** An empty project with the tarballs installed by npm; returns its directory. */
export function installProject(tarballs: readonly string[], parent = tmpdir()): string {
  const project = mkdtempSync(join(parent, "dyn-user-project-"));
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "user-project", private: true, type: "module" }),
  );
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", ...tarballs], {
    cwd: project,
    stdio: "pipe",
  });
  // Guard: @dyn/* must come from our tarballs, never from a same-named package on the registry.
  for (const name of ["core", "cli", "backend-sglang"]) {
    const pkg = JSON.parse(readFileSync(join(project, "node_modules/@dyn", name, "package.json"), "utf8"));
    const ours = JSON.parse(
      readFileSync(join(repo, name === "cli" ? "apps/cli" : `packages/${name}`, "package.json"), "utf8"),
    );
    if (pkg.description !== ours.description) throw new Error(`@dyn/${name} in ${project} is not ours`);
  }
  return project;
}

export const dynIn = (project: string) => join(project, "node_modules/.bin/dyn");
