/**
 * `dyn doctor`: probe the cluster before a first deploy, and say the truth. Every probe is a process
 * bounded by `--timeout` (default 5 s) and they all run at once, so the whole check takes about one
 * timeout even when the controller does not answer. Nothing is written (not even the runs
 * directory). Exit 1 when a critical check fails; every problem is one line with its fix.
 *
 * Checks, always all of them in this order (`skip` when one does not apply): the SLURM client
 * commands, the controller (`scontrol ping`), the SLURM version (srun --overlap needs ≥ 20.11),
 * partitions with their nodes, GPUs per node and GRES style, pyxis (srun --help lists
 * --container-image), the runs directory, and for bare metal etcd and nats-server on this node.
 */
import { accessSync, constants, existsSync, statfsSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { DynError } from "@dyn/core";
import { currentHost } from "../host.js";
import { type Io, printJson, style } from "../io.js";
import { resolveRunsDir } from "../run-dir.js";
import { type ProbeResult, type Slurm, slurmMessage } from "../slurm.js";
import { resolveInput } from "../spec-from-options.js";
import {
  interfaceProbeArgs,
  type ProfileTarget,
  parseSelectType,
  profileFileText,
  profileFromFacts,
  profileTarget,
  SHOW_CONFIG,
  writeAtomically,
} from "./doctor-profile.js";
import { useRemoteOf } from "./shared.js";

export type CheckState = "ok" | "warn" | "fail" | "skip";

export interface Check {
  readonly name: CheckName;
  readonly state: CheckState;
  /** A failure of this check means dyn deploy will not work here. */
  readonly critical: boolean;
  readonly detail: string;
  /** What to do about it (null when the check passed or was skipped). */
  readonly fix: string | null;
}

/** Every check, in the order they are printed; `--json` always has all of them. */
export const CHECK_NAMES = [
  "ssh",
  "sbatch",
  "srun",
  "squeue",
  "scancel",
  "controller",
  "slurm version",
  "partitions",
  "gpus",
  "pyxis",
  "runs directory",
  "etcd",
  "nats-server",
] as const;
export type CheckName = (typeof CHECK_NAMES)[number];

export type GresStyle = "typed" | "untyped" | "none";

export interface Partition {
  name: string;
  default: boolean;
  /** sinfo's availability: up, down, drain, inact. */
  available: string;
  nodes: number;
  gpusPerNode: number;
  gpuTypes: string[];
  /** `gpu:a100:8` (typed: --gpu-type may be required), `gpu:8` (untyped) or no GPUs in GRES. */
  gres: GresStyle;
  timeLimit: string;
}

export const DEFAULT_PROBE_TIMEOUT_S = 5;
export const PARTITIONS_FORMAT = "%P|%a|%D|%G|%l";

/** `sinfo -h -o "%P|%a|%D|%G|%l"` rows → partitions (rows of one partition merged). */
export function parsePartitions(stdout: string): Partition[] {
  const byName = new Map<string, Partition>();
  for (const line of stdout.split("\n")) {
    if (line.trim() === "") continue;
    const [rawName = "", available = "", nodes = "0", gres = "", timeLimit = ""] = line.trim().split("|");
    const name = rawName.replace(/\*$/, "");
    const p: Partition = byName.get(name) ?? {
      name,
      default: rawName.endsWith("*"),
      available,
      nodes: 0,
      gpusPerNode: 0,
      gpuTypes: [],
      gres: "none",
      timeLimit,
    };
    p.nodes += Number(nodes) || 0;
    for (const m of gres.matchAll(/gpu(?::([A-Za-z][\w.-]*))?:(\d+)/g)) {
      p.gpusPerNode = Math.max(p.gpusPerNode, Number(m[2]));
      if (m[1] && !p.gpuTypes.includes(m[1])) p.gpuTypes.push(m[1]);
    }
    p.gres = p.gpuTypes.length > 0 ? "typed" : p.gpusPerNode > 0 ? "untyped" : "none";
    byName.set(name, p);
  }
  return [...byName.values()];
}

/** `slurm 23.11.4`, `slurm-wlm 22.05.8` → `23.11.4`; undefined when there is no version in it. */
export function parseSlurmVersion(text: string): string | undefined {
  return /\bslurm(?:-wlm)?\s+(\d+\.\d+(?:\.\d+)?)/i.exec(text)?.[1];
}

export function versionAtLeast(version: string, major: number, minor: number): boolean {
  const m = /(\d+)\.(\d+)/.exec(version);
  if (!m) return false;
  const a = Number(m[1]);
  const b = Number(m[2]);
  return a > major || (a === major && b >= minor);
}

/**
 * `scontrol ping` prints `Slurmctld(primary) at <host> is UP|DOWN` per controller and exits 1 when
 * none is UP (SchedMD slurm, src/scontrol/scontrol.c, _ping_slurmctld).
 */
export function parsePing(stdout: string): { up: string[]; down: string[] } {
  const up: string[] = [];
  const down: string[] = [];
  for (const m of stdout.matchAll(/Slurmctld\([^)]*\) at (\S+) is (UP|DOWN)/g))
    (m[2] === "UP" ? up : down).push(m[1] as string);
  return { up, down };
}

/**
 * Filesystems by statfs magic (linux/magic.h and the vendors' headers): pseudo filesystems cannot
 * hold a run directory; node-local ones are not seen by the compute nodes.
 */
const FILESYSTEMS: ReadonlyArray<{ magic: number; name: string; kind: "pseudo" | "node-local" | "shared" }> =
  [
    { magic: 0x9fa0, name: "proc", kind: "pseudo" },
    { magic: 0x62656572, name: "sysfs", kind: "pseudo" },
    { magic: 0x27e0eb, name: "cgroup", kind: "pseudo" },
    { magic: 0x63677270, name: "cgroup2", kind: "pseudo" },
    { magic: 0x1cd1, name: "devpts", kind: "pseudo" },
    { magic: 0x64626720, name: "debugfs", kind: "pseudo" },
    { magic: 0x01021994, name: "tmpfs", kind: "node-local" },
    { magic: 0x6969, name: "nfs", kind: "shared" },
    { magic: 0x0bd00bd0, name: "lustre", kind: "shared" },
    { magic: 0x47504653, name: "gpfs", kind: "shared" },
    { magic: 0x19830326, name: "beegfs", kind: "shared" },
    { magic: 0x00c36400, name: "cephfs", kind: "shared" },
    { magic: 0xfe534d42, name: "smb2", kind: "shared" },
    { magic: 0xff534d42, name: "cifs", kind: "shared" },
  ];

interface Context {
  readonly io: Io;
  /** --remote: the login node and its login directory, reached over ssh. */
  readonly remote: { readonly spec: string; readonly login: string } | undefined;
  readonly slurm: Slurm;
  readonly timeoutMs: number;
  readonly wantsPyxis: boolean;
  readonly bareMetal: boolean;
  readonly etcdManaged: boolean;
  readonly natsManaged: boolean;
  readonly partition: string | undefined;
  /** Where slurm.partition came from: `from the config`, or the profile's `file:line:col key`. */
  readonly partitionFrom: string;
  readonly gpusPerNode: number | undefined;
  readonly runsDir: string;
  /** Given by --runs-dir, DYN_RUNS_DIR or the config (not the default ./dyn-runs). */
  readonly runsDirExplicit: boolean;
}

const ok = (name: CheckName, critical: boolean, detail: string): Check => ({
  name,
  state: "ok",
  critical,
  detail,
  fix: null,
});
const skip = (name: CheckName, detail: string): Check => ({
  name,
  state: "skip",
  critical: false,
  detail,
  fix: null,
});
const problem = (name: CheckName, critical: boolean, detail: string, fix: string): Check => ({
  name,
  state: critical ? "fail" : "warn",
  critical,
  detail,
  fix,
});

const firstLine = (s: string) => s.trim().split("\n")[0] ?? "";
const seconds = (ms: number) => `${ms / 1000} s`;

/** Why a probe that was found did not answer properly, in one line. */
function brokenProbe(command: string, r: ProbeResult, timeoutMs: number): string {
  if (r.timedOut) return `\`${command}\` did not answer within ${seconds(timeoutMs)}`;
  return `\`${command}\` failed: ${lastWords(command.split(" ")[0] as string, r)}`;
}

/**
 * What a failed client said last (SLURM's clients end with the `fatal:` line that names the cause,
 * after `error:` lines of each attempt), without the command's name.
 */
function lastWords(command: string, r: ProbeResult): string {
  const lines = `${r.stderr}\n${r.stdout}`
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  const fatal = lines.find((l) => /\bfatal:/.test(l));
  const line = fatal ?? lines[lines.length - 1];
  return line ? line.replace(new RegExp(`^${command}: `), "") : slurmMessage(command, r);
}

const NOT_CONFIGURED_FIX =
  "the SLURM client is not configured here: run dyn on a login node, or point SLURM_CONF at the cluster's slurm.conf";

function toolCheck(
  name: "sbatch" | "srun" | "squeue" | "scancel",
  r: ProbeResult,
  ctx: Context,
  critical: boolean,
  why: string,
): Check {
  if (!r.found)
    return problem(
      name,
      critical,
      `not found on PATH: ${why}`,
      "run dyn on a SLURM login node (or add SLURM's bin directory to PATH)",
    );
  if (r.code !== 0 || r.timedOut)
    return problem(name, critical, brokenProbe(`${name} --version`, r, ctx.timeoutMs), NOT_CONFIGURED_FIX);
  return ok(name, critical, firstLine(r.stdout || r.stderr));
}

function controllerCheck(ping: ProbeResult, sinfo: ProbeResult, ctx: Context): Check {
  const fix =
    "check that SLURM_CONF / slurm.conf names the right SlurmctldHost and that slurmctld runs (scontrol ping; ask the admins)";
  if (ping.found) {
    const { up, down } = parsePing(ping.stdout);
    if (!ping.timedOut && ping.code === 0 && up.length > 0)
      return ok("controller", true, `slurmctld at ${up.join(", ")} is up`);
    if (ping.timedOut || ping.code !== 0) {
      const detail =
        down.length > 0 && !ping.timedOut
          ? `slurmctld at ${down.join(", ")} is DOWN`
          : brokenProbe("scontrol ping", ping, ctx.timeoutMs);
      return problem("controller", true, detail, fix);
    }
  }
  // No scontrol: a partition listing also needs the controller.
  if (sinfo.found && !sinfo.timedOut && sinfo.code === 0)
    return ok("controller", true, "answers sinfo (scontrol not on PATH)");
  if (!sinfo.found && !ping.found)
    return problem(
      "controller",
      true,
      "neither scontrol nor sinfo is on PATH: cannot reach the controller",
      "run dyn on a SLURM login node",
    );
  return problem("controller", true, brokenProbe("sinfo", sinfo, ctx.timeoutMs), fix);
}

function versionCheck(versionText: string | undefined): Check {
  if (versionText === undefined) return skip("slurm version", "no SLURM command answered --version");
  const v = parseSlurmVersion(versionText);
  if (!v)
    return problem(
      "slurm version",
      false,
      `cannot read a version in ${JSON.stringify(firstLine(versionText))}`,
      "check that sbatch is SLURM's (sbatch --version prints slurm X.Y.Z)",
    );
  if (!versionAtLeast(v, 20, 11))
    return problem(
      "slurm version",
      true,
      `SLURM ${v}: the job script uses srun --overlap, which needs SLURM ≥ 20.11`,
      "use a cluster with SLURM 20.11 or newer",
    );
  return ok("slurm version", true, `SLURM ${v}`);
}

function partitionsCheck(r: ProbeResult, controllerUp: boolean, ctx: Context): [Check, Partition[]] {
  if (!r.found)
    return [
      problem("partitions", false, "sinfo not found on PATH: cannot list partitions", "add sinfo to PATH"),
      [],
    ];
  if (r.timedOut || r.code !== 0)
    return [
      controllerUp
        ? problem(
            "partitions",
            false,
            brokenProbe(`sinfo -o ${PARTITIONS_FORMAT}`, r, ctx.timeoutMs),
            "run sinfo yourself to see why",
          )
        : skip("partitions", "the controller does not answer"),
      [],
    ];
  const partitions = parsePartitions(r.stdout);
  if (partitions.length === 0)
    return [
      problem(
        "partitions",
        true,
        "sinfo lists no partition you can use",
        "ask the admins for access to a partition",
      ),
      partitions,
    ];
  const wanted = ctx.partition;
  if (wanted !== undefined && !partitions.some((p) => p.name === wanted))
    return [
      problem(
        "partitions",
        true,
        `partition ${wanted} (${ctx.partitionFrom}) is not one of ${partitions.map((p) => p.name).join(", ")}`,
        `set slurm.partition / --partition to one that sinfo lists`,
      ),
      partitions,
    ];
  const up = partitions.filter((p) => p.available === "up");
  if (up.length === 0)
    return [
      problem(
        "partitions",
        true,
        `no partition is up (${partitions.map((p) => `${p.name} ${p.available}`).join(", ")})`,
        "wait for the admins to bring a partition up (sinfo)",
      ),
      partitions,
    ];
  const list = partitions.map((p) => `${p.name}${p.default ? "*" : ""} ${p.available} ${p.nodes} nodes`);
  return [ok("partitions", true, list.join(", ")), partitions];
}

function gpusCheck(partitions: readonly Partition[], ctx: Context): Check {
  if (partitions.length === 0) return skip("gpus", "no partitions to look at");
  const wanted = ctx.partition ? partitions.filter((p) => p.name === ctx.partition) : partitions;
  const gpu = wanted.filter((p) => p.gpusPerNode > 0);
  if (gpu.length === 0)
    return problem(
      "gpus",
      false,
      `no GPUs in the GRES of ${wanted.map((p) => p.name).join(", ")}`,
      "use --gpu-request none (and --gpus-per-node for the real count), or a GPU partition",
    );
  const describe = (p: Partition) =>
    `${p.name} ${p.gpusPerNode} GPUs/node, ${p.gres} GRES${p.gpuTypes.length ? ` (${p.gpuTypes.join("/")})` : ""}`;
  const typed = gpu.filter((p) => p.gres === "typed");
  const detail = `${gpu.map(describe).join("; ")}${typed.length > 0 ? "; typed GRES: --gpu-type may be required" : ""}`;
  const asked = ctx.gpusPerNode;
  if (asked !== undefined && ctx.partition && gpu.every((p) => p.gpusPerNode < asked))
    return problem(
      "gpus",
      false,
      `the config asks for ${asked} GPUs per node; ${detail}`,
      `set slurm.gpusPerNode / --gpus-per-node to at most ${Math.max(...gpu.map((p) => p.gpusPerNode))}`,
    );
  return ok("gpus", false, detail);
}

function pyxisCheck(help: ProbeResult, ctx: Context): Check {
  // A client that cannot run (no slurm.conf) says nothing about pyxis either way.
  if (!help.found || help.timedOut || help.code !== 0)
    return ctx.wantsPyxis
      ? problem("pyxis", true, "srun --help did not answer", "run dyn where srun works")
      : skip("pyxis", "srun --help did not answer");
  if (/--container-image/.test(help.stdout + help.stderr))
    return ok("pyxis", ctx.wantsPyxis, "srun --container-image is available");
  return problem(
    "pyxis",
    ctx.wantsPyxis,
    "srun has no --container-image (pyxis is not installed)",
    ctx.wantsPyxis
      ? "ask the admins for pyxis + enroot, or run bare metal: no --container (container.kind: none) and --setup"
      : "containers will not work here; bare metal (--setup) does",
  );
}

/** What the runs-directory check looks at: the nearest existing ancestor, its kind and filesystem. */
export interface RunsDirFacts {
  readonly existing: string;
  readonly isDirectory: boolean;
  /** null when writable (W_OK|X_OK), else the reason (an errno code). */
  readonly notWritable: string | null;
  /** statfs f_type, when known. */
  readonly magic: number | undefined;
}

function localRunsDirFacts(runsDir: string): RunsDirFacts {
  let existing = runsDir;
  while (!existsSync(existing)) existing = dirname(existing);
  let notWritable: string | null = null;
  try {
    accessSync(existing, constants.W_OK | constants.X_OK);
  } catch (err) {
    notWritable = (err as NodeJS.ErrnoException).code ?? "EACCES";
  }
  let magic: number | undefined;
  try {
    magic = Number(statfsSync(existing).type);
  } catch {
    magic = undefined;
  }
  return { existing, isDirectory: statSync(existing).isDirectory(), notWritable, magic };
}

/**
 * The same facts on a --remote login node, in one round trip: test(1) for the kind and access, GNU
 * stat's `-f -c %t` for the filesystem type in hex (statfs f_type).
 */
export const REMOTE_RUNS_DIR_SCRIPT = [
  'p="$1"',
  'while [ ! -e "$p" ]; do p=$(dirname -- "$p"); done',
  "printf '%s\\n' \"$p\"",
  '[ -d "$p" ] && echo dir || echo file',
  '[ -w "$p" ] && [ -x "$p" ] && echo ok || echo EACCES',
  'stat -f -c %t -- "$p" 2>/dev/null || echo ?',
].join("\n");

export function parseRunsDirFacts(stdout: string): RunsDirFacts | undefined {
  const [existing, kind, access, type] = stdout.trim().split("\n");
  if (!existing || !kind || !access) return undefined;
  const magic = type && /^[0-9a-f]+$/i.test(type) ? Number.parseInt(type, 16) : undefined;
  return { existing, isDirectory: kind === "dir", notWritable: access === "ok" ? null : access, magic };
}

async function runsDirFacts(
  runsDir: string,
  slurm: Slurm,
  timeoutMs: number,
): Promise<RunsDirFacts | string> {
  if (!currentHost().remote) return localRunsDirFacts(runsDir);
  const r = await slurm.probe("sh", ["-c", REMOTE_RUNS_DIR_SCRIPT, "sh", runsDir], { timeoutMs });
  return parseRunsDirFacts(r.stdout) ?? `cannot check ${runsDir}: ${r.stderr.trim() || "no answer"}`;
}

/** Writable without writing: the directory (or its nearest existing parent) by access(2), and its filesystem. */
export function runsDirCheck(runsDir: string, given?: RunsDirFacts | string): Check {
  const fix = "choose a directory on a shared filesystem you can write: --runs-dir /shared/… or DYN_RUNS_DIR";
  const facts = given ?? localRunsDirFacts(runsDir);
  if (typeof facts === "string") return problem("runs directory", true, facts, fix);
  const { existing } = facts;
  if (!facts.isDirectory) return problem("runs directory", true, `${existing} is not a directory`, fix);
  if (facts.notWritable)
    return problem("runs directory", true, `${existing} is not writable (${facts.notWritable})`, fix);
  const fs = FILESYSTEMS.find((f) => f.magic === facts.magic);
  if (fs?.kind === "pseudo")
    return problem("runs directory", true, `${runsDir} is on ${fs.name}, which cannot hold files`, fix);
  const where =
    existing === runsDir
      ? `${runsDir} is writable`
      : `${runsDir} does not exist yet; dyn deploy creates it in ${existing}`;
  if (fs?.kind === "node-local")
    return problem(
      "runs directory",
      false,
      `${where}, but it is on ${fs.name}, which is local to this node: the compute nodes write their logs and status there`,
      fix,
    );
  return ok(
    "runs directory",
    true,
    `${where}${fs ? ` (${fs.name})` : ""}; it must be shared with the compute nodes`,
  );
}

function infraCheck(
  name: "etcd" | "nats-server",
  r: ProbeResult | undefined,
  managed: boolean,
  ctx: Context,
): Check {
  if (!ctx.bareMetal) return skip(name, "runs from the container image");
  if (!managed) return skip(name, "not started by the job (external or off)");
  if (r?.found && !r.timedOut && r.code === 0)
    return ok(
      name,
      false,
      `${firstLine(r.stdout || r.stderr)} on this node's PATH (the compute nodes need it too)`,
    );
  const flag = name === "etcd" ? "--etcd" : "--nats";
  return problem(
    name,
    false,
    r?.found ? brokenProbe(`${name} --version`, r, ctx.timeoutMs) : `${name} is not on this node's PATH`,
    `bare metal starts ${name} on the first node: install it there (or in --setup's environment), or use ${flag} <url> / a container`,
  );
}

function probeTimeout(value: unknown): number {
  if (value === undefined) return DEFAULT_PROBE_TIMEOUT_S * 1000;
  const s = String(value);
  if (!/^\d+(\.\d+)?$/.test(s) || Number(s) <= 0 || Number(s) > 600)
    throw new DynError(
      "DYN_USAGE",
      `--timeout: expected seconds between 0 and 600, got ${JSON.stringify(s)}`,
      {
        key: "--timeout",
      },
    );
  return Math.round(Number(s) * 1000);
}

const plain = (v: unknown): Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

async function context(flags: Record<string, unknown>, io: Io): Promise<Context> {
  const timeoutMs = probeTimeout(flags.timeout);
  // Writing a profile looks at the cluster, not at a profile (the config file still applies).
  const profile = flags.writeProfile !== undefined ? false : flags.profile;
  const input = await resolveInput(
    { profile },
    { cwd: io.cwd, env: io.env, configPath: flags.config as string | undefined },
  );
  // --remote: every probe below runs on the login node; a connection that fails ends doctor here
  // with ssh's reason (DYN_REMOTE_FAILED), since no check could run.
  const remote = useRemoteOf(flags, io, input.config);
  const login = remote ? currentHost().home() : undefined;
  const container = plain(input.raw.container);
  const infra = plain(input.raw.infra);
  const wantsPyxis = container.kind === "pyxis";
  const bareMetal = !wantsPyxis || container.infra === "host";
  const managed = (v: unknown) => (plain(v).mode ?? "managed") === "managed";
  const slurmRaw = plain(input.raw.slurm);
  const gpus = slurmRaw.gpusPerNode;
  return {
    io,
    remote: remote ? { spec: remote, login: login ?? "" } : undefined,
    slurm: await io.slurm(),
    timeoutMs,
    wantsPyxis,
    bareMetal,
    etcdManaged: managed(infra.etcd),
    natsManaged: managed(infra.nats),
    partition: typeof slurmRaw.partition === "string" ? slurmRaw.partition : undefined,
    partitionFrom: input.profile?.layer.origins.get("slurm.partition") ?? "from the config",
    gpusPerNode: typeof gpus === "number" ? gpus : undefined,
    runsDir: resolveRunsDir(
      flags.runsDir as string | undefined,
      io.env,
      input.config?.runsDir ?? input.profile?.resolved.runsDir,
      io.cwd,
    ),
    runsDirExplicit:
      flags.runsDir !== undefined || Boolean(io.env.DYN_RUNS_DIR) || input.config?.runsDir !== undefined,
  };
}

async function doctor(
  ctx: Context,
): Promise<{ checks: Check[]; partitions: Partition[]; version: string | null }> {
  const probe = (cmd: string, ...args: string[]) => ctx.slurm.probe(cmd, args, { timeoutMs: ctx.timeoutMs });
  const infra = (cmd: string, managed: boolean) =>
    ctx.bareMetal && managed ? probe(cmd, "--version") : Promise.resolve(undefined);
  // All at once: the whole check costs about one timeout, however many probes hang.
  const [sbatch, srun, squeue, scancel, ping, sinfo, help, etcd, nats] = await Promise.all([
    probe("sbatch", "--version"),
    probe("srun", "--version"),
    probe("squeue", "--version"),
    probe("scancel", "--version"),
    probe("scontrol", "ping"),
    probe("sinfo", "-h", "-o", PARTITIONS_FORMAT),
    probe("srun", "--help"),
    infra("etcd", ctx.etcdManaged),
    infra("nats-server", ctx.natsManaged),
  ]);
  const controller = controllerCheck(ping, sinfo, ctx);
  const answered = [sbatch, srun, squeue].find((r) => r.found && r.code === 0 && !r.timedOut);
  const versionText = answered ? answered.stdout || answered.stderr : undefined;
  const [partitionCheck, partitions] = partitionsCheck(sinfo, controller.state === "ok", ctx);
  const checks = [
    ctx.remote
      ? ok("ssh", true, `${ctx.remote.spec}: connected, login directory ${ctx.remote.login}`)
      : skip("ssh", "no --remote: checking this machine"),
    toolCheck("sbatch", sbatch, ctx, true, "dyn deploy cannot submit"),
    toolCheck("srun", srun, ctx, true, "the job script starts every process with srun"),
    toolCheck("squeue", squeue, ctx, false, "dyn status, list and --wait cannot see the queue"),
    toolCheck("scancel", scancel, ctx, false, "dyn stop cannot cancel jobs"),
    controller,
    versionCheck(versionText),
    partitionCheck,
    gpusCheck(partitions, ctx),
    pyxisCheck(help, ctx),
    runsDirCheck(ctx.runsDir, await runsDirFacts(ctx.runsDir, ctx.slurm, ctx.timeoutMs)),
    infraCheck("etcd", etcd, ctx.etcdManaged, ctx),
    infraCheck("nats-server", nats, ctx.natsManaged, ctx),
  ];
  return { checks, partitions, version: versionText ? (parseSlurmVersion(versionText) ?? null) : null };
}

function printText(io: Io, checks: readonly Check[], ok: boolean): void {
  const s = style(io);
  const marks: Record<CheckState, string> = {
    ok: s.green("ok  "),
    warn: s.yellow("warn"),
    fail: s.red("FAIL"),
    skip: s.dim("skip"),
  };
  for (const c of checks)
    io.stdout(`${marks[c.state]}  ${c.name.padEnd(14)} ${c.detail}${c.fix ? ` — fix: ${c.fix}` : ""}\n`);
  const failed = checks.filter((c) => c.state === "fail").length;
  const warned = checks.filter((c) => c.state === "warn").length;
  const warnings = warned > 0 ? ` (${warned} warning${warned > 1 ? "s" : ""})` : "";
  io.stdout(
    ok
      ? `ready for dyn deploy${warnings}\n`
      : `${failed} critical problem${failed > 1 ? "s" : ""}${warnings}: dyn deploy will not work here\n`,
  );
}

export async function run(flags: Record<string, unknown>, _args: string[], io: Io): Promise<number> {
  // Before any probe: a bad name, an unreadable file or an existing profile is refused at once.
  const target = await profileTarget(flags, io.env);
  const ctx = await context(flags, io);
  const [{ checks, partitions, version }, extra] = await Promise.all([
    doctor(ctx),
    target ? profileProbes(ctx) : Promise.resolve(undefined),
  ]);
  const ok = !checks.some((c) => c.critical && c.state === "fail");
  const written = target && extra ? await writeDetected(target, ctx, checks, partitions, extra) : null;
  // exit 1: a critical check failed, or --write-profile wrote nothing
  const code = ok && !(target && !written?.written) ? 0 : 1;
  if (flags.json) {
    const controller = checks.find((c) => c.name === "controller");
    printJson(io, {
      schemaVersion: 1,
      format: "dyn.doctor/v1",
      ok: code === 0,
      remote: ctx.remote?.spec ?? null,
      slurm: { version, controller: controller?.state === "ok" ? "up" : "unreachable" },
      runsDir: ctx.runsDir,
      checks: checks.map(checkJson),
      partitions,
      problems: checks.filter((c) => c.state === "fail" || c.state === "warn").map(checkJson),
      profile: written,
    });
  } else {
    printText(io, checks, ok);
    if (written) printWritten(io, written);
  }
  return code;
}

/** A check as --json prints it: `state` (ok, warn, fail, skip), as every document names states. */
const checkJson = (c: Check) => ({
  name: c.name,
  state: c.state,
  critical: c.critical,
  detail: c.detail,
  fix: c.fix,
});

/** The probes only --write-profile needs, run alongside the checks. */
async function profileProbes(ctx: Context): Promise<{ selectType: ProbeResult; interfaces: ProbeResult }> {
  const probe = (cmd: string, args: readonly string[]) =>
    ctx.slurm.probe(cmd, args, { timeoutMs: ctx.timeoutMs });
  const [selectType, interfaces] = await Promise.all([
    probe("scontrol", SHOW_CONFIG),
    probe("srun", interfaceProbeArgs(ctx.partition, ctx.timeoutMs)),
  ]);
  return { selectType, interfaces };
}

interface Written {
  name: string;
  scope: string;
  file: string;
  /** false when nothing could be detected (no partition listed): nothing was written. */
  written: boolean;
  replaced: boolean;
  madeDefault: boolean;
  settings: Record<string, unknown>;
  notes: string[];
  text: string;
}

async function writeDetected(
  target: ProfileTarget,
  ctx: Context,
  checks: readonly Check[],
  partitions: readonly Partition[],
  extra: { selectType: ProbeResult; interfaces: ProbeResult },
): Promise<Written> {
  const check = (name: CheckName) => checks.find((c) => c.name === name) as Check;
  const detected = profileFromFacts({
    partitions,
    partition: ctx.partition,
    selectType: extra.selectType.code === 0 ? parseSelectType(extra.selectType.stdout) : undefined,
    interfaces: extra.interfaces,
    pyxis: check("pyxis"),
    runsDir: { path: ctx.runsDir, check: check("runs directory"), explicit: ctx.runsDirExplicit },
  });
  const base = {
    name: target.name,
    scope: target.scope,
    file: target.file,
    replaced: target.replaces,
    settings: detected.settings,
    notes: detected.notes,
  };
  if (partitions.length === 0) return { ...base, written: false, madeDefault: false, text: "" };
  const stamp = new Date(ctx.io.now()).toISOString().replace(/\.\d+Z$/, "Z");
  const { text, madeDefault, profileText } = await profileFileText(target, detected, stamp);
  writeAtomically(target.file, text);
  return { ...base, written: true, madeDefault, text: profileText };
}

function printWritten(io: Io, w: Written): void {
  if (!w.written) {
    io.stdout(`no profile written: sinfo listed no partition to describe (${w.file} is unchanged)\n`);
    return;
  }
  const what = w.replaced ? "replaced" : "wrote";
  io.stdout(
    `\n${what} profile ${w.name} in ${w.file} (${w.scope})${w.madeDefault ? `, now its default` : ""}:\n`,
  );
  io.stdout(w.text.replace(/^/gm, "  ").replace(/ +$/gm, ""));
  io.stdout(
    `use it: dyn deploy --profile ${w.name} …${w.madeDefault ? " (or without --profile: it is the default)" : ""}\n`,
  );
}
