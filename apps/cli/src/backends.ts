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
  throw notFound(name, key, tried, options.cwd);
}

/** Other names people write for the built-ins (knowledge as data). */
const ALIASES: Readonly<Record<string, string>> = {
  "tensorrt-llm": "trtllm",
  tensorrtllm: "trtllm",
  tensorrt: "trtllm",
  "trt-llm": "trtllm",
  trt: "trtllm",
  tllm: "trtllm",
  "sg-lang": "sglang",
  "v-llm": "vllm",
};

/** Optimal string alignment distance (Levenshtein with adjacent transpositions). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const up = d[i - 1] as number[];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((up[j] as number) + 1, (row[j - 1] as number) + 1, (up[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1);
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

/**
 * The backend a mistyped name most likely meant: an alias, a case slip, or a name within 40 % of
 * its length in edits (commander's rule for unknown options), among the built-ins and `known`.
 */
export function suggestBackend(name: string, known: readonly string[] = []): string | undefined {
  const wanted = name.toLowerCase().replace(/^dyn-backend-/, "");
  const alias = ALIASES[wanted];
  if (alias) return alias;
  let best: { name: string; distance: number } | undefined;
  for (const candidate of [...Object.keys(BUILTINS), ...known]) {
    const distance = editDistance(wanted, candidate.toLowerCase());
    const limit = Math.max(1, Math.floor(candidate.length * 0.4));
    if (distance <= limit && (best === undefined || distance < best.distance))
      best = { name: candidate, distance };
  }
  return best?.name;
}

/** npm's rules for a package name (lower case, URL-safe, an optional scope). */
export const looksLikePackage = (name: string) =>
  /^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/.test(name) && name.length <= 214;

/** The short names of the project's installed backends (dyn-backend-x → x), for suggestions. */
function projectShortNames(cwd: string): string[] {
  return projectBackendPackages(cwd).map((p) => p.replace(/^(@[^/]+\/)?dyn-backend-?/, "") || p);
}

function notFound(name: string, key: string, tried: readonly string[], cwd: string): DynError {
  const builtins = Object.keys(BUILTINS).join(", ");
  const where = `tried ${tried.join(", ")} from ${cwd}`;
  if (isPath(name))
    return new DynError("DYN_BACKEND_NOT_FOUND", `${key}: no backend at ${name}; ${where}`, {
      key,
      hint: `check the path ${name}`,
    });
  const suggestion = name.startsWith("@") ? undefined : suggestBackend(name, projectShortNames(cwd));
  if (suggestion)
    return new DynError(
      "DYN_BACKEND_NOT_FOUND",
      `${key}: no backend "${name}" (did you mean ${suggestion}?); ${where}`,
      { key, hint: `built in: ${builtins}; dyn backends lists the installed ones` },
    );
  const install = looksLikePackage(name) ? candidateNames(name)[0] : undefined;
  return new DynError(
    "DYN_BACKEND_NOT_FOUND",
    `${key}: no backend "${name}": not built in (${builtins}); ${where}`,
    {
      key,
      hint: install
        ? `a third-party backend? npm i -D ${install} (or pnpm add -D ${install}) in your project`
        : `built in: ${builtins}; dyn backends lists the installed ones`,
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
