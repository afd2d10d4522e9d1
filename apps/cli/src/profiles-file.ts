/**
 * The profiles files (docs/cli.md, Profiles): the site's `/etc/dyn/profiles.yaml` (the directory is
 * `$DYN_SITE_CONFIG_DIR` when set) and the user's `$XDG_CONFIG_HOME/dyn/profiles.yaml` (default
 * `~/.config`; a relative XDG_CONFIG_HOME is ignored, as the XDG Base Directory specification asks).
 * Read and parsed with positions here; validated, selected and resolved by @dyn/core.
 */
import { readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import {
  checkProfilesFile,
  DynError,
  type ProfileScope,
  type ProfilesSource,
  profilesFileError,
  type ResolvedProfile,
  resolveProfile,
  selectProfile,
} from "@dyn/core";
import type { Node } from "yaml";
import type { ConfigFile } from "./config-file.js";

import { loadYaml, parseYamlAt } from "./yaml-at.js";

let Y: typeof import("yaml");

export const PROFILES_FILE = "profiles.yaml";
export const DEFAULT_SITE_DIR = "/etc/dyn";

/** Where the two files are (the user's only when a config home is known). */
export function profilePaths(
  env: Readonly<Record<string, string | undefined>>,
): Array<{ scope: ProfileScope; path: string }> {
  const siteDir =
    env.DYN_SITE_CONFIG_DIR && isAbsolute(env.DYN_SITE_CONFIG_DIR)
      ? env.DYN_SITE_CONFIG_DIR
      : DEFAULT_SITE_DIR;
  const out: Array<{ scope: ProfileScope; path: string }> = [
    { scope: "site", path: join(siteDir, PROFILES_FILE) },
  ];
  const xdg = env.XDG_CONFIG_HOME;
  const home =
    xdg && isAbsolute(xdg) ? xdg : env.HOME && isAbsolute(env.HOME) ? join(env.HOME, ".config") : undefined;
  if (home) out.push({ scope: "user", path: join(home, "dyn", PROFILES_FILE) });
  return out;
}

/** One profiles file parsed with positions: its YAML document (for rewriting) and the source core reads. */
export interface ProfilesText {
  readonly source: ProfilesSource;
  /** The YAML document (undefined when the file does not exist). */
  readonly doc: import("yaml").Document | undefined;
}

export async function readProfilesFile(scope: ProfileScope, path: string): Promise<ProfilesText> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT")
      return { source: { scope, file: path }, doc: undefined };
    throw new DynError("DYN_CONFIG_INVALID", `${path}: cannot read: ${(err as Error).message}`, {
      hint: "make the profiles file readable, or move it away",
    });
  }
  return parseProfilesText(scope, path, text);
}

export async function parseProfilesText(
  scope: ProfileScope,
  path: string,
  text: string,
): Promise<ProfilesText> {
  Y = await loadYaml();
  const { doc, at } = await parseYamlAt(text, path, "fix the YAML syntax of the profiles file");
  const locate = (p: readonly (string | number)[], preferKey = false) => {
    const offset = nodeAt(doc.contents, p, preferKey)?.range?.[0];
    return offset === undefined ? undefined : at(offset);
  };
  const data = doc.toJS() as unknown;
  if (data !== null && data !== undefined && (typeof data !== "object" || Array.isArray(data)))
    throw new DynError("DYN_CONFIG_INVALID", `${locate([]) ?? path} the file must be a mapping of keys`, {
      hint: "start with `profiles:` (docs/cli.md, Profiles)",
    });
  const checked = checkProfilesFile(data);
  if (!checked.ok) throw profilesFileError({ file: path, locate }, checked.issues);
  return { source: { scope, file: path, value: checked.value, locate }, doc };
}

/**
 * The node at `path`, or the deepest one reached: a scalar value itself (as config-file.ts does), a
 * map entry holding a map or list (or any entry with `preferKey`: an unknown key) by its key.
 */
function nodeAt(root: unknown, path: readonly (string | number)[], preferKey: boolean): Node | undefined {
  let node = root as Node | undefined;
  let found = node;
  for (const seg of path) {
    if (Y.isMap(node)) {
      const pair = node.items.find((p) => Y.isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      found = pair.key as Node;
      node = (pair.value ?? undefined) as Node | undefined;
      if (!preferKey && Y.isScalar(node)) found = node;
    } else if (Y.isSeq(node)) {
      const item = node.items[Number(seg)] as Node | undefined;
      if (!item) break;
      found = item;
      node = item;
    } else break;
  }
  return found;
}

export async function loadProfileSources(
  env: Readonly<Record<string, string | undefined>>,
): Promise<ProfilesSource[]> {
  const out: ProfilesSource[] = [];
  for (const { scope, path } of profilePaths(env)) out.push((await readProfilesFile(scope, path)).source);
  return out;
}

/**
 * The profile a command uses: `--profile` (false for `--no-profile`) > DYN_PROFILE > the config's
 * `profile:` > the user file's `default` > the site file's; undefined when none is selected.
 */
export async function loadProfile(
  flag: string | false | undefined,
  env: Readonly<Record<string, string | undefined>>,
  config: ConfigFile | undefined,
): Promise<ResolvedProfile | undefined> {
  if (flag === false) return undefined;
  const sources = await loadProfileSources(env);
  const fromConfig =
    config?.profile === undefined
      ? undefined
      : { name: config.profile, from: `${config.locate(["profile"]) ?? config.display} profile` };
  const selection = selectProfile({ flag, env: env.DYN_PROFILE, config: fromConfig, sources });
  return selection ? resolveProfile(sources, selection) : undefined;
}
