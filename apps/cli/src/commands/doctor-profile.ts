/**
 * `dyn doctor --write-profile <name> [--user|--site] [--force]`: a site profile from what doctor
 * detected — the partition (the config's, else sinfo's default, else the only one), GPUs per node
 * and how to request them (GRES and the scheduler's SelectType), the network interface of a compute
 * node, and the runs directory when one was given and is writable — written atomically into the
 * user's or the site's profiles file. An existing profile of that name is refused unless --force.
 */
import { dirname } from "node:path";
import { DynError, type ProfileScope, profileName } from "@dyn/core";
import type { Document } from "yaml";
import { writeFileAtomic } from "../host.js";
import { makeDirectory } from "../paths.js";
import { profilePaths, readProfilesFile } from "../profiles-file.js";
import type { ProbeResult } from "../slurm.js";
import type { Check, Partition } from "./doctor.js";

export interface ProfileTarget {
  readonly name: string;
  readonly scope: ProfileScope;
  readonly file: string;
  readonly replaces: boolean;
  readonly doc: Document | undefined;
}

const usage = (key: string, message: string, hint?: string) =>
  new DynError("DYN_USAGE", `${key}: ${message}`, { key, hint });

/** Checked before any probe runs: the name, the file (readable, valid) and whether the profile exists. */
export async function profileTarget(
  flags: Record<string, unknown>,
  env: Readonly<Record<string, string | undefined>>,
): Promise<ProfileTarget | undefined> {
  const name = flags.writeProfile;
  if (name === undefined) {
    const stray = (["user", "site", "force"] as const).find((f) => flags[f] !== undefined);
    if (stray) throw usage(`--${stray}`, "only goes with --write-profile <name>");
    return undefined;
  }
  if (!profileName.safeParse(name).success)
    throw usage("--write-profile", `${JSON.stringify(name)} is not a profile name (letters, digits, _ . -)`);
  if (flags.user && flags.site) throw usage("--site", "give --user or --site, not both");
  const scope: ProfileScope = flags.site ? "site" : "user";
  const path = profilePaths(env).find((p) => p.scope === scope)?.path;
  if (!path)
    throw usage("--user", "no user config directory: set HOME or XDG_CONFIG_HOME", "or write it with --site");
  const { source, doc } = await readProfilesFile(scope, path);
  const existing = source.value?.profiles[name as string] !== undefined;
  if (existing && !flags.force)
    throw usage(
      "--write-profile",
      `profile ${name} already exists in ${source.locate?.(["profiles", name as string]) ?? path}`,
      "add --force to replace it, or choose another name",
    );
  return { name: name as string, scope, file: path, replaces: existing, doc };
}

/** The probes only --write-profile runs: the scheduler's configuration, one compute node's interfaces. */
export const SHOW_CONFIG = ["show", "config"] as const;
export const INTERFACES_SCRIPT = "ip -o -4 route show default; echo ---; ip -o -4 addr show";

/** `srun` on one node of the partition, giving up at once when no node is free (--immediate). */
export function interfaceProbeArgs(partition: string | undefined, timeoutMs: number): string[] {
  const immediate = Math.max(1, Math.floor(timeoutMs / 1000) - 1);
  return [
    "-N1",
    "-n1",
    ...(partition ? ["-p", partition] : []),
    `--immediate=${immediate}`,
    "-t",
    "1",
    "-J",
    "dyn-doctor",
    "sh",
    "-c",
    INTERFACES_SCRIPT,
  ];
}

/** `SelectType = select/cons_tres` from `scontrol show config`. */
export function parseSelectType(stdout: string): string | undefined {
  return /^SelectType\s*=\s*(\S+)/m.exec(stdout)?.[1];
}

/**
 * The interface the job script would take (docs/ARCHITECTURE.md, node setup: the default route's,
 * else one with a routable IPv4), from `ip -o -4 route show default` and `ip -o -4 addr show`:
 * the default route's device when it has a routable IPv4, else the only interface that has one.
 */
export function chooseInterface(stdout: string): { name?: string; why: string } {
  const [routes = "", addrs = ""] = stdout.split(/^---$/m);
  const routable = new Map<string, string>();
  for (const m of addrs.matchAll(/^\d+:\s+(\S+)\s+inet\s+(\d+\.\d+\.\d+\.\d+)\//gm)) {
    const [dev, ip] = [m[1] as string, m[2] as string];
    if (ip.startsWith("127.") || ip.startsWith("169.254.")) continue;
    if (!routable.has(dev)) routable.set(dev, ip);
  }
  const dflt = /^default\b.*?\bdev\s+(\S+)/m.exec(routes)?.[1];
  if (dflt && routable.has(dflt))
    return { name: dflt, why: `the default route's interface (${routable.get(dflt)})` };
  if (routable.size === 1) {
    const [[dev, ip]] = [...routable] as [[string, string]];
    return { name: dev, why: `the only interface with a routable IPv4 (${ip})` };
  }
  if (routable.size === 0) return { why: "no interface with a routable IPv4" };
  return {
    why: `no default route and several interfaces (${[...routable.keys()].join(", ")}): set network.interface yourself`,
  };
}

export interface Facts {
  readonly partitions: readonly Partition[];
  /** The config's slurm.partition, if any. */
  readonly partition: string | undefined;
  readonly selectType: string | undefined;
  readonly interfaces: ProbeResult | undefined;
  readonly pyxis: Check | undefined;
  readonly runsDir: { path: string; check: Check; explicit: boolean };
}

export interface DetectedProfile {
  /** The profile's keys (slurm, network, runsDir). */
  readonly settings: Record<string, unknown>;
  /** Dotted key → why that value (written as a comment next to it). */
  readonly why: Record<string, string>;
  /** What was looked at and not written, one line each (comments above the profile). */
  readonly notes: string[];
}

/** The partition the profile is for: the config's, else the default one, else the only one. */
function choosePartition(f: Facts): { partition?: Partition; why: string } {
  if (f.partition) {
    const p = f.partitions.find((x) => x.name === f.partition);
    return p
      ? { partition: p, why: "the config's slurm.partition" }
      : { why: `the config's ${f.partition} is not listed` };
  }
  const dflt = f.partitions.find((p) => p.default);
  if (dflt) return { partition: dflt, why: `the default partition (sinfo: ${dflt.name}*)` };
  if (f.partitions.length === 1)
    return { partition: f.partitions[0] as Partition, why: "the only partition" };
  return { why: `no default among ${f.partitions.map((p) => p.name).join(", ")}` };
}

/** Pure: facts → the profile doctor writes, with the reason for each value. */
export function profileFromFacts(f: Facts): DetectedProfile {
  const slurm: Record<string, unknown> = {};
  const settings: Record<string, unknown> = {};
  const why: Record<string, string> = {};
  const notes: string[] = [];
  const { partition: p, why: partitionWhy } = choosePartition(f);
  if (p) {
    slurm.partition = p.name;
    why["slurm.partition"] = partitionWhy;
    if (p.gpusPerNode > 0) {
      slurm.gpusPerNode = p.gpusPerNode;
      why["slurm.gpusPerNode"] = `GRES gpu on ${p.name}: ${p.gpusPerNode} per node`;
      // --gpus-per-node is a cons_tres option (slurm.schedmd.com/cons_tres.html); clusters on another
      // select plugin reject it ("Invalid generic resource (gres) specification", nvidia.github.io/
      // srt-slurm/slurm-faq), where --gres=gpu:N works.
      const tres = f.selectType === "select/cons_tres";
      slurm.gpuRequest = tres ? "gpus-per-node" : "gres";
      why["slurm.gpuRequest"] = tres
        ? "SelectType select/cons_tres takes --gpus-per-node"
        : `SelectType ${f.selectType ?? "unknown"}: --gres=gpu:N works with every select plugin`;
      if (p.gpuTypes.length === 1) {
        slurm.gpuType = p.gpuTypes[0];
        why["slurm.gpuType"] = `typed GRES gpu:${p.gpuTypes[0]}`;
      } else if (p.gpuTypes.length > 1)
        notes.push(`several GPU types on ${p.name} (${p.gpuTypes.join(", ")}): no gpuType written`);
    } else {
      slurm.gpuRequest = "none";
      why["slurm.gpuRequest"] = `no GPUs in the GRES of ${p.name}: dyn requests none`;
    }
  } else notes.push(`no partition written: ${partitionWhy}`);
  if (Object.keys(slurm).length > 0) settings.slurm = slurm;
  const iface = f.interfaces;
  if (iface?.found && iface.code === 0 && !iface.timedOut) {
    const chosen = chooseInterface(iface.stdout);
    if (chosen.name) {
      settings.network = { interface: chosen.name };
      why["network.interface"] = `on a compute node: ${chosen.why}`;
    } else notes.push(`no network interface written: ${chosen.why}`);
  } else notes.push("no network interface written: srun on a compute node did not answer");
  if (f.pyxis) {
    const state = { ok: "", skip: "not checked: ", warn: "not available: ", fail: "not available: " };
    notes.push(`pyxis: ${state[f.pyxis.state]}${f.pyxis.detail}`);
  }
  const rd = f.runsDir;
  if (rd.explicit && rd.check.state === "ok") {
    settings.runsDir = rd.path;
    why.runsDir = rd.check.detail.replace(/; it must be shared with the compute nodes$/, "");
  } else if (!rd.explicit)
    notes.push("no runsDir written: give --runs-dir (a directory the compute nodes share)");
  else notes.push(`no runsDir written: ${rd.check.detail}`);
  return { settings, why, notes };
}

let Y: typeof import("yaml");

/** The file's new text: the profile set (replacing one of that name), `default:` set when there was none. */
export async function profileFileText(
  target: ProfileTarget,
  detected: DetectedProfile,
  stamp: string,
): Promise<{ text: string; madeDefault: boolean; profileText: string }> {
  Y ??= await import("yaml");
  const doc = target.doc ?? new Y.Document({});
  if (!Y.isMap(doc.contents)) doc.contents = doc.createNode({}) as typeof doc.contents;
  const node = doc.createNode(detected.settings) as import("yaml").YAMLMap;
  annotate(node, [], detected.why);
  node.commentBefore = [
    ` written by dyn doctor --write-profile ${target.name} on ${stamp}`,
    ...detected.notes.map((n) => ` ${n}`),
  ].join("\n");
  if (!doc.has("profiles") || !Y.isMap(doc.get("profiles", true))) doc.set("profiles", doc.createNode({}));
  (doc.get("profiles", true) as import("yaml").YAMLMap).set(target.name, node);
  const madeDefault = !doc.has("default");
  if (madeDefault) {
    doc.set("default", target.name);
    // `default:` first, where a reader looks for it.
    const map = doc.contents as import("yaml").YAMLMap;
    const i = map.items.findIndex((p) => Y.isScalar(p.key) && p.key.value === "default");
    map.items.unshift(...map.items.splice(i, 1));
  }
  const profileDoc = new Y.Document({ [target.name]: null });
  (profileDoc.contents as import("yaml").YAMLMap).set(target.name, node);
  return { text: doc.toString(), madeDefault, profileText: profileDoc.toString() };
}

function annotate(node: unknown, path: string[], why: Record<string, string>): void {
  if (!Y.isMap(node)) return;
  for (const pair of node.items) {
    const key = [...path, String((pair.key as { value: unknown }).value)];
    const reason = why[key.join(".")];
    if (reason && Y.isScalar(pair.value)) pair.value.comment = ` ${reason}`;
    annotate(pair.value, key, why);
  }
}

/** Written beside the file and renamed over it: a reader sees the old file or the new one, never half. */
export function writeAtomically(file: string, text: string): void {
  makeDirectory(dirname(file), "--write-profile");
  try {
    writeFileAtomic(file, text, 0o644, false);
  } catch (err) {
    throw new DynError("DYN_IO_FAILED", `--write-profile: ${(err as Error).message}`, {
      hint: "write it with --user, or as a user who may write the site directory",
    });
  }
}
