/**
 * Backend resolution for `--backend <x>`:
 *  1. built-in short names (vllm, sglang, trtllm → @dyn/backend-*, imported lazily from the CLI);
 *  2. the naming convention, resolved from the user's project (cwd): `x` → dyn-backend-x, then x;
 *     `@s/x` → @s/dyn-backend-x, then @s/x; `@s` → @s/dyn-backend; names already prefixed as is;
 *  3. a file path (./, ../ or /), relative to cwd;
 *  4. the config file's `backends:` list (an entry matches by package name or by the backend's name).
 * The module's default export must pass assertBackend(). Nothing is ever installed.
 */

import { readFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve as resolvePath } from "node:path";
import { pathToFileURL } from "node:url";
import { assertBackend, type Backend, DynError } from "@dyn/core";
import { importModule } from "./import-module.js";

export const BUILTINS: Readonly<Record<string, { pkg: string; load: () => Promise<{ default: unknown }> }>> =
  {
    vllm: { pkg: "@dyn/backend-vllm", load: () => import("@dyn/backend-vllm") },
    sglang: { pkg: "@dyn/backend-sglang", load: () => import("@dyn/backend-sglang") },
    trtllm: { pkg: "@dyn/backend-trtllm", load: () => import("@dyn/backend-trtllm") },
  };

const isPath = (s: string) => s.startsWith("./") || s.startsWith("../") || isAbsolute(s);
const PREFIX = "dyn-backend";

/** Package names to try for a non-built-in, non-path name, in order (ESLint's normalizePackageName). */
export function candidateNames(name: string): string[] {
  if (name.startsWith("@")) {
    const [scope, rest] = name.split("/", 2) as [string, string | undefined];
    if (rest === undefined || rest === "") return [`${scope}/${PREFIX}`];
    if (rest.startsWith(PREFIX)) return [name];
    return [`${scope}/${PREFIX}-${rest}`, name];
  }
  if (name.startsWith(`${PREFIX}-`)) return [name];
  return [`${PREFIX}-${name}`, name];
}

export interface LoadedBackend {
  readonly backend: Backend;
  /** Where it came from: `built-in @dyn/backend-vllm`, a package name or a file. */
  readonly source: string;
}

async function importResolved(spec: string, cwd: string): Promise<{ url: string } | undefined> {
  const { resolve } = await import("import-meta-resolve");
  try {
    return { url: resolve(spec, pathToFileURL(join(cwd, "noop.js")).href) };
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (
      code === "ERR_MODULE_NOT_FOUND" ||
      code === "ERR_PACKAGE_PATH_NOT_EXPORTED" ||
      code === "ERR_INVALID_MODULE_SPECIFIER"
    )
      return undefined;
    throw err;
  }
}

async function importBackend(load: () => Promise<unknown>, source: string): Promise<Backend> {
  let mod: unknown;
  try {
    mod = await load();
  } catch (err) {
    throw new DynError("DYN_BACKEND_INVALID", `${source} failed to load: ${firstLine(err)}`, {
      hint: `check that ${source} is built and its dependencies are installed`,
      cause: err,
    });
  }
  return assertBackend((mod as { default?: unknown } | undefined)?.default, source);
}

const firstLine = (err: unknown) => String((err as Error)?.message ?? err).split("\n")[0];

export async function loadBackend(
  name: string,
  options: { cwd: string; configBackends?: readonly string[] | undefined; key?: string },
): Promise<LoadedBackend> {
  const key = options.key ?? "--backend";
  const builtin = BUILTINS[name];
  if (builtin) {
    const source = `built-in ${builtin.pkg}`;
    let mod: { default: unknown };
    try {
      mod = await builtin.load();
    } catch (err) {
      throw new DynError(
        "DYN_BACKEND_NOT_FOUND",
        `${key}: the built-in backend ${name} (${builtin.pkg}) cannot be loaded: ${firstLine(err)}`,
        {
          key,
          hint: `reinstall @dyn/cli (or build ${builtin.pkg} in the workspace)`,
          cause: err,
        },
      );
    }
    return { backend: assertBackend(mod.default, source), source };
  }
  const tried: string[] = [];
  if (isPath(name)) {
    const file = resolvePath(options.cwd, name);
    tried.push(file);
    const found = await importResolved(pathToFileURL(file).href, options.cwd);
    if (found) return { backend: await importBackend(() => importModule(found.url), name), source: file };
  } else {
    for (const candidate of candidateNames(name)) {
      tried.push(candidate);
      const found = await importResolved(candidate, options.cwd);
      if (found)
        return { backend: await importBackend(() => importModule(found.url), candidate), source: candidate };
    }
  }
  for (const entry of options.configBackends ?? []) {
    const matchesName = !isPath(entry) && (entry === name || candidateNames(name).includes(entry));
    if (!isPath(entry) && !matchesName) continue;
    tried.push(`${entry} (config backends)`);
    const found = await importResolved(isPath(entry) ? pathToFileURL(entry).href : entry, options.cwd);
    if (!found) continue;
    const backend = await importBackend(() => importModule(found.url), entry);
    if (matchesName || backend.name === name) return { backend, source: entry };
  }
  const install = isPath(name) ? undefined : candidateNames(name)[0];
  throw new DynError(
    "DYN_BACKEND_NOT_FOUND",
    `${key}: no backend "${name}": not built in (${Object.keys(BUILTINS).join(", ")}); tried ${tried.join(", ")} from ${options.cwd}`,
    {
      key,
      hint: install
        ? `npm i -D ${install} (or pnpm add -D ${install}) in your project`
        : `check the path ${name}`,
    },
  );
}

export interface BackendListing {
  readonly name: string;
  readonly source: string;
  readonly kind: "built-in" | "dependency" | "config";
  readonly description: string | undefined;
  readonly error: string | undefined;
}

/** Names of project dependencies that look like backends: dyn-backend-*, @scope/dyn-backend[-*]. */
export function projectBackendPackages(cwd: string): string[] {
  let dir = resolvePath(cwd);
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Record<string, unknown>;
      const names = ["dependencies", "devDependencies", "optionalDependencies"].flatMap((f) =>
        Object.keys((pkg[f] as Record<string, string> | undefined) ?? {}),
      );
      return [...new Set(names)].filter(
        (n) => /^dyn-backend-/.test(n) || /^@[^/]+\/dyn-backend(-|$)/.test(n),
      );
    } catch {
      const up = dirname(dir);
      if (up === dir) return [];
      dir = up;
    }
  }
}

export async function listBackends(
  cwd: string,
  configBackends: readonly string[],
): Promise<BackendListing[]> {
  const out: BackendListing[] = [];
  const add = async (kind: BackendListing["kind"], source: string, load: () => Promise<Backend>) => {
    try {
      const b = await load();
      out.push({ name: b.name, source, kind, description: b.description, error: undefined });
    } catch (err) {
      out.push({
        name: source,
        source,
        kind,
        description: undefined,
        error: firstLine(DynError.is(err) ? err : err),
      });
    }
  };
  for (const [name, b] of Object.entries(BUILTINS)) {
    await add("built-in", b.pkg, async () => (await loadBackend(name, { cwd })).backend);
  }
  for (const pkg of projectBackendPackages(cwd)) {
    await add("dependency", pkg, async () => {
      const found = await importResolved(pkg, cwd);
      if (!found) throw new Error(`${pkg} is listed in package.json but not installed`);
      return importBackend(() => importModule(found.url), pkg);
    });
  }
  for (const entry of configBackends) {
    await add("config", entry, async () => {
      const found = await importResolved(isPath(entry) ? pathToFileURL(entry).href : entry, cwd);
      if (!found) throw new Error(`${entry} not found from ${cwd}`);
      return importBackend(() => importModule(found.url), entry);
    });
  }
  return out;
}
