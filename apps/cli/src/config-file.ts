/**
 * dyn.yaml / dyn.yml / dyn.json: found upward from cwd (or --config), parsed with positions so
 * every error can say `dyn.yaml:4:10 slurm.nodes: …`. JSON goes through the YAML parser too (JSON
 * is YAML 1.2), so it gets the same positions.
 */
import { readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { DynError, trySplitArgs } from "@dyn/core";
import type { Document, Node } from "yaml";
import { loadYaml, parseYamlAt } from "./yaml-at.js";

/** yaml is imported only when a config file exists (startup time). */
let Y: typeof import("yaml");

export const CONFIG_NAMES = ["dyn.yaml", "dyn.yml", "dyn.json"] as const;

/** Keys a config file may have on top of the DeploymentSpec's. */
export const CONFIG_ONLY_KEYS = ["backends", "runsDir", "remote", "profile", "matrix"] as const;

export interface ConfigFile {
  readonly path: string;
  /** Path as shown in messages (relative to cwd when below it). */
  readonly display: string;
  /**
   * Spec part, without the config-only keys, with the shorthands that merging needs expanded
   * (`backend: vllm`, `model: <id>`, `secrets: NAME`, `args: "<shell line>"`); env values and args
   * written as numbers keep the text they were written as (`1.0` stays "1.0").
   */
  readonly spec: Record<string, unknown>;
  /** `backends:` module names or paths (paths resolved against the file's directory). */
  readonly backends: readonly string[];
  readonly runsDir: string | undefined;
  /** `remote: [user@]host[:port]`: deploy/status/logs/stop run on that login node over ssh (remote.ts). */
  readonly remote?: string | undefined;
  /** `profile:`, the site profile this project uses (docs/cli.md, Profiles). */
  readonly profile: string | undefined;
  /**
   * `matrix:` as written (a sweep: dotted spec keys → lists of values; @dyn/core sweep.ts checks it),
   * undefined when the file has none.
   */
  readonly matrix?: unknown;
  /** `file:line:col` of the value at `path` (of the key with `preferKey`, or of the nearest ancestor). */
  locate(path: readonly (string | number)[], preferKey?: boolean): string | undefined;
  /** Whether the file sets something at `path` (or below it). */
  has(path: readonly (string | number)[]): boolean;
}

export function findConfig(cwd: string): string | undefined {
  let dir = resolve(cwd);
  for (;;) {
    for (const name of CONFIG_NAMES) {
      const p = join(dir, name);
      try {
        if (statSync(p).isFile()) return p;
      } catch {
        // not here
      }
    }
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

export async function loadConfig(cwd: string, explicit: string | undefined): Promise<ConfigFile | undefined> {
  const path = explicit === undefined ? findConfig(cwd) : resolve(cwd, explicit);
  if (path === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new DynError("DYN_CONFIG_INVALID", `--config: cannot read ${path}: ${(err as Error).message}`, {
      key: "--config",
      hint: "pass an existing dyn.yaml, dyn.yml or dyn.json",
    });
  }
  return parseConfig(text, path, cwd);
}

export async function parseConfig(text: string, path: string, cwd: string): Promise<ConfigFile> {
  Y = await loadYaml();
  const rel = relative(cwd, path);
  const display = rel && !rel.startsWith("..") ? rel : path;
  const { doc, at } = await parseYamlAt(text, display, "fix the YAML syntax (JSON is accepted too)");
  keepWrittenNumbers(doc);
  const data = doc.toJS() as unknown;
  if (data === null || data === undefined) {
    return makeConfig(path, display, {}, [], undefined, undefined, doc.contents, at);
  }
  if (typeof data !== "object" || Array.isArray(data)) {
    throw new DynError(
      "DYN_CONFIG_INVALID",
      `${at(doc.contents?.range?.[0] ?? 0)} the file must be a mapping of keys`,
      {
        hint: "start with e.g. `backend: vllm`",
      },
    );
  }
  const { backends, runsDir, remote, profile, matrix, ...spec } = data as Record<string, unknown>;
  if (remote !== undefined && typeof remote !== "string") {
    throw new DynError(
      "DYN_CONFIG_INVALID",
      `${locate(doc.contents, ["remote"], at)} remote: must be [user@]host[:port]`,
      { key: "remote" },
    );
  }
  if (profile !== undefined && (typeof profile !== "string" || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(profile)))
    throw new DynError(
      "DYN_CONFIG_INVALID",
      `${locate(doc.contents, ["profile"], at)} profile: must be a profile name (letters, digits, _ . -)`,
      { key: "profile" },
    );
  if (backends !== undefined && (!Array.isArray(backends) || backends.some((b) => typeof b !== "string"))) {
    throw new DynError(
      "DYN_CONFIG_INVALID",
      `${locate(doc.contents, ["backends"], at)} backends: must be a list of package names or paths`,
      {
        key: "backends",
      },
    );
  }
  if (runsDir !== undefined && typeof runsDir !== "string") {
    throw new DynError(
      "DYN_CONFIG_INVALID",
      `${locate(doc.contents, ["runsDir"], at)} runsDir: must be a path`,
      {
        key: "runsDir",
      },
    );
  }
  expandShorthands(spec);
  const dir = dirname(path);
  const list = ((backends as string[] | undefined) ?? []).map((b) =>
    b.startsWith("./") || b.startsWith("../") ? resolve(dir, b) : b,
  );
  // With remote: in the file, a relative runsDir is on the login node (under its login directory).
  const runs =
    runsDir === undefined
      ? undefined
      : remote !== undefined
        ? (runsDir as string)
        : resolve(dir, runsDir as string);
  const config = makeConfig(path, display, spec, list, runs, profile as string | undefined, doc.contents, at);
  const withMatrix = "matrix" in (data as object) ? { ...config, matrix } : config;
  return remote === undefined ? withMatrix : { ...withMatrix, remote: remote as string };
}

const ROLES = ["frontend", "prefill", "decode", "aggregated"] as const;

/**
 * Env values and args written as numbers keep their text: YAML reads `1.0` as 1 and `0x10` as 16, but
 * the engine should see what the file says. (Only plain scalars: a quoted one is a string already.)
 */
function keepWrittenNumbers(doc: Document): void {
  const places: (string | number)[][] = [["env"]];
  for (const role of ROLES) places.push(["roles", role, "env"], ["roles", role, "args"]);
  // The same for a matrix: key that sweeps an env value or engine args (`env.X: [1.0, 2.0]`).
  const matrix = doc.get("matrix", true);
  if (Y.isMap(matrix))
    for (const pair of matrix.items) {
      const key = Y.isScalar(pair.key) ? String(pair.key.value) : "";
      if (!/^(roles\.[a-z]+\.)?env\.[^.]+$|^roles\.[a-z]+\.args$/.test(key) || !Y.isSeq(pair.value)) continue;
      for (const item of pair.value.items) {
        if (Y.isScalar(item) && typeof item.value === "number" && item.source !== undefined)
          item.value = item.source;
        if (Y.isSeq(item))
          for (const word of item.items)
            if (Y.isScalar(word) && typeof word.value === "number" && word.source !== undefined)
              word.value = word.source;
      }
    }
  for (const path of places) {
    const node = doc.getIn(path, true);
    const items = Y.isMap(node) ? node.items.map((p) => p.value) : Y.isSeq(node) ? node.items : [];
    for (const item of items) {
      if (Y.isScalar(item) && typeof item.value === "number" && item.source !== undefined)
        item.value = item.source;
    }
  }
}

/**
 * The shorthands whose long form other layers merge into (`--served-model-name` into `model`,
 * `--secret` into `secrets`, `--decode-arg` into `args`). An args string that does not split is left
 * as it is: the spec reports it with its position.
 */
function expandShorthands(spec: Record<string, unknown>): void {
  if (typeof spec.backend === "string") spec.backend = { name: spec.backend };
  if (typeof spec.model === "string") spec.model = { path: spec.model };
  if (typeof spec.secrets === "string") spec.secrets = [spec.secrets];
  const roles = spec.roles;
  if (typeof roles !== "object" || roles === null) return;
  for (const role of ROLES) {
    const group = (roles as Record<string, unknown>)[role];
    if (typeof group !== "object" || group === null) continue;
    const g = group as Record<string, unknown>;
    if (typeof g.args !== "string") continue;
    const split = trySplitArgs(g.args);
    if (split.ok) g.args = split.words;
  }
}

function makeConfig(
  path: string,
  display: string,
  spec: Record<string, unknown>,
  backends: readonly string[],
  runsDir: string | undefined,
  profile: string | undefined,
  root: unknown,
  at: (offset: number) => string,
): ConfigFile {
  return {
    path,
    display,
    spec,
    backends,
    runsDir,
    profile,
    locate: (p, preferKey) => locate(root, p, at, preferKey),
    has: (p) => find(root, p).depth === p.length,
  };
}

/** Walks the YAML node tree along `path`: the deepest node reached (value node, and key node for maps). */
function find(
  root: unknown,
  path: readonly (string | number)[],
): { value: Node | undefined; key: Node | undefined; depth: number } {
  let node = root as Node | undefined;
  let value: Node | undefined = node;
  let key: Node | undefined;
  let depth = 0;
  for (const seg of path) {
    if (!node) break;
    let nextValue: Node | undefined;
    let nextKey: Node | undefined;
    if (Y.isMap(node)) {
      const pair = node.items.find((p) => Y.isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      nextKey = pair.key as Node;
      nextValue = (pair.value ?? undefined) as Node | undefined;
    } else if (Y.isSeq(node)) {
      nextValue = node.items[Number(seg)] as Node | undefined;
      if (!nextValue) break;
    } else break;
    value = nextValue;
    key = nextKey;
    node = nextValue;
    depth++;
  }
  return { value, key, depth };
}

function locate(
  root: unknown,
  path: readonly (string | number)[],
  at: (offset: number) => string,
  preferKey = false,
): string | undefined {
  const { value, key, depth } = find(root, path);
  // `secrets: NAME` is secrets[0]: the one value written stands for its first item.
  const shorthand = depth === path.length - 1 && String(path[depth]) === "0" && Y.isScalar(value);
  // A value that is missing (`nodes:` with nothing) or not reached: point at the key.
  const node = (preferKey || (depth < path.length && !shorthand) ? key : value) ?? value ?? key;
  const offset = node?.range?.[0];
  return offset === undefined ? undefined : at(offset);
}
