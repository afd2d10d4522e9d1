/**
 * `--remote [user@]host[:port]` (`DYN_REMOTE`, `remote:` in dyn.yaml): the Host (host.ts) that runs
 * SLURM commands and run-directory I/O on a login node through the user's own `ssh`, so their
 * ~/.ssh/config, keys and agent apply. `DYN_SSH_COMMAND` replaces the `ssh` word (like git's
 * GIT_SSH_COMMAND; split on blanks, e.g. `ssh -F /path/config`).
 *
 * One connection per login node and user: the first command starts a master (`-M -N -f`, with
 * ControlPersist so the next dyn command within a minute reuses it too), every later ssh is a client
 * of its control socket (ControlPath `<dir>/%C`: %C is a hash of the local host, remote host, port,
 * user and jump host, ssh_config(5) TOKENS). The master is started on its own, stderr to a file,
 * because a master forked off by `ControlMaster=auto` keeps the client's stderr open and a reader
 * waiting for EOF hangs until it exits (openssh bug 1988; puppetlabs/r10k#169,
 * k0sproject/rig#405). Clients use `ControlMaster=no`: if the master is gone they connect on their
 * own rather than becoming a master that holds our pipes.
 *
 * BatchMode=yes: ssh never asks for a password or passphrase or confirms a new host key; it fails,
 * and exits 255 ("ssh exits with the exit status of the remote command or with 255 if an error
 * occurred", ssh(1) EXIT STATUS), which becomes DYN_REMOTE_FAILED naming where the remote came from.
 *
 * The remote command is one string the login shell parses again (ssh(1): the command is executed on
 * the remote host by the user's shell), so every word in it is quoted with core's shellQuote.
 */
/** node:child_process on first use: `--help` and a dry run never load it (test/bin.test.ts). */
const childProcess = () => process.getBuiltinModule("node:child_process");

import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, isAbsolute, join, relative } from "node:path";
import { DynError, shellQuote } from "@dyn/core";
import { type FileStat, type Host, ioError, type RunFs, type RunResult, runLocal } from "./host.js";
import { tarFiles } from "./tar.js";

export interface RemoteTarget {
  /** As written: `alice@login1:2222`. */
  readonly spec: string;
  /** Where it came from, for messages: `--remote`, `DYN_REMOTE`, `dyn.yaml:4:9 remote`, `the registry entry of job 123`. */
  readonly label: string;
  readonly user: string | undefined;
  readonly host: string;
  readonly port: number | undefined;
}

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/**
 * `[user@]host[:port]`, `[user@][v6addr][:port]`. A host is a name or address (or a Host alias of the
 * user's ssh config); nothing may start with `-` (it would be an ssh option).
 */
export function parseRemote(spec: string, label: string): RemoteTarget {
  const bad = (why: string) =>
    new DynError("DYN_USAGE", `${label}: ${JSON.stringify(spec)} ${why}`, {
      key: label,
      hint: "write [user@]host[:port], e.g. --remote alice@login1 or --remote login1:2222 (a Host of ~/.ssh/config works too)",
    });
  const m = /^(?:([^@]*)@)?(\[[0-9A-Fa-f:.]+\]|[^:@[\]]*)(?::([^:]*))?$/.exec(spec);
  if (!m) throw bad("is not [user@]host[:port]");
  const [, user, rawHost = "", port] = m;
  if (user !== undefined && !NAME.test(user)) throw bad("has an invalid user name");
  const host = rawHost.startsWith("[") ? rawHost.slice(1, -1) : rawHost;
  if (!rawHost.startsWith("[") && !NAME.test(host)) throw bad("has an invalid host name");
  if (port !== undefined && (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535))
    throw bad("has an invalid port (1-65535)");
  return { spec, label, user, host, port: port === undefined ? undefined : Number(port) };
}

/** Where the remote comes from: --remote, else DYN_REMOTE, else the config's remote:. */
export function chooseRemote(
  flag: unknown,
  env: Readonly<Record<string, string | undefined>>,
  config: { value: string; label: string } | undefined,
): RemoteTarget | undefined {
  if (typeof flag === "string") return parseRemote(flag, "--remote");
  if (env.DYN_REMOTE) return parseRemote(env.DYN_REMOTE, "DYN_REMOTE");
  if (config) return parseRemote(config.value, config.label);
  return undefined;
}

/** The control sockets' directory: $XDG_RUNTIME_DIR/dyn-ssh, else <tmp>/dyn-ssh-<uid>; mode 700. */
export function controlDir(env: Readonly<Record<string, string | undefined>>): string {
  const runtime = env.XDG_RUNTIME_DIR;
  const dir =
    runtime && isAbsolute(runtime)
      ? join(runtime, "dyn-ssh")
      : join(tmpdir(), `dyn-ssh-${process.getuid?.() ?? "user"}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** Seconds an idle master stays up for the next dyn command (ssh_config(5) ControlPersist). */
export const CONTROL_PERSIST_S = 60;

/** `ssh` and its options for one role: the master, or a client of its socket. */
export function sshArgv(
  target: RemoteTarget,
  env: Readonly<Record<string, string | undefined>>,
  socketDir: string,
  role: "master" | "client" | "check",
): string[] {
  const ssh = (env.DYN_SSH_COMMAND ?? "ssh").trim().split(/\s+/).filter(Boolean);
  const options = [
    "-o",
    "BatchMode=yes",
    "-o",
    `ControlPath=${join(socketDir, "%C")}`,
    ...(role === "master"
      ? ["-o", "ControlMaster=yes", "-o", `ControlPersist=${CONTROL_PERSIST_S}`, "-N", "-f"]
      : role === "check"
        ? ["-O", "check"]
        : ["-o", "ControlMaster=no", "-T"]),
    ...(target.port !== undefined ? ["-p", String(target.port)] : []),
  ];
  const destination = target.user ? `${target.user}@${target.host}` : target.host;
  return [...ssh, ...options, destination];
}

/** One remote command line: `cd <dir> && exec <command> <args>`, every word quoted. */
export function remoteCommand(command: string, args: readonly string[], cwd?: string): string {
  const line = [command, ...args].map(shellQuote).join(" ");
  return cwd === undefined ? `exec ${line}` : `cd ${shellQuote(cwd)} && exec ${line}`;
}

/** ssh's own message (exit 255): its last non-empty stderr line. */
export function sshMessage(stderr: string): string {
  const lines = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !/^Warning: Permanently added/.test(l));
  // "ssh: connect to host …" → "connect to host …" (the message is prefixed "ssh: " once)
  return (lines.at(-1) ?? "exited with code 255").replace(/^ssh: /, "");
}

export function remoteFailed(target: RemoteTarget, stderr: string): DynError {
  const message = sshMessage(stderr);
  const hint = /host key|known_hosts|REMOTE HOST IDENTIFICATION/i.test(stderr)
    ? `ssh ${target.user ? `${target.user}@` : ""}${target.host} once by hand to check and accept its host key`
    : /permission denied|authentication/i.test(message)
      ? "dyn never asks for a password (BatchMode): load your key into ssh-agent or name it in ~/.ssh/config"
      : `check that ssh ${target.spec.replace(/:\d+$/, "")} works from this shell (ssh -v shows why not)`;
  return new DynError("DYN_REMOTE_FAILED", `${target.label} ${target.spec}: ssh: ${message}`, { hint });
}

const SSH_FAILED = 255;

/** The ssh Host: the master once, then every command and file operation through its socket. */
export function createSshHost(target: RemoteTarget, env: Readonly<Record<string, string | undefined>>): Host {
  const dir = controlDir(env);
  const spec = target.spec;
  const client = sshArgv(target, env, dir, "client");
  let connected = false;
  let loginDir: string | undefined;

  /** Start the master unless one is up (`-O check` asks the local socket only). */
  function connect(): void {
    if (connected) return;
    const [cmd = "ssh", ...check] = sshArgv(target, env, dir, "check");
    const alive = childProcess().spawnSync(cmd, check, { stdio: "ignore", env: env as NodeJS.ProcessEnv });
    if (alive.status !== 0) {
      const [m = "ssh", ...master] = sshArgv(target, env, dir, "master");
      // stderr to a file: the master forked by -f keeps it open (see above)
      const errDir = mkdtempSync(join(tmpdir(), "dyn-ssh-err-"));
      const errFile = join(errDir, "stderr");
      const fd = openSync(errFile, "w");
      try {
        const r = childProcess().spawnSync(m, master, {
          stdio: ["ignore", "ignore", fd],
          env: env as NodeJS.ProcessEnv,
        });
        if (r.error) throw remoteFailed(target, r.error.message);
        if (r.status !== 0) throw remoteFailed(target, readFileSync(errFile, "utf8"));
      } finally {
        closeSync(fd);
        rmSync(errDir, { recursive: true, force: true });
      }
    }
    connected = true;
  }

  /** One synchronous round trip: `script` run by the login shell, `input` on its stdin. */
  function sh(script: string, input?: Buffer | string): { status: number; stdout: Buffer; stderr: string } {
    connect();
    const [cmd = "ssh", ...args] = client;
    const r = childProcess().spawnSync(cmd, [...args, "--", script], {
      input: input ?? "",
      env: env as NodeJS.ProcessEnv,
      maxBuffer: 1 << 30,
    });
    if (r.error) throw remoteFailed(target, r.error.message);
    const stderr = r.stderr.toString("utf8");
    if (r.status === SSH_FAILED) throw remoteFailed(target, stderr);
    return { status: r.status ?? 1, stdout: r.stdout, stderr };
  }

  const notFound = (path: string, stderr: string) =>
    Object.assign(new Error(`${path}: ${stderr.trim() || "no such file"}`), { code: "ENOENT" });

  const q = shellQuote;
  const fs: RunFs = {
    readText(path) {
      const r = sh(`cat -- ${q(path)}`);
      if (r.status !== 0) throw notFound(path, r.stderr);
      return r.stdout.toString("utf8");
    },
    exists: (path) => sh(`test -e ${q(path)}`).status === 0,
    stat(path): FileStat {
      // GNU stat: type, size, modification time in seconds with its fraction
      const r = sh(`stat -L -c '%F|%s|%.9Y' -- ${q(path)}`);
      if (r.status !== 0) throw notFound(path, r.stderr);
      const [type = "", size = "0", mtime = "0"] = r.stdout.toString("utf8").trim().split("|");
      return { isDirectory: type === "directory", size: Number(size), mtimeMs: Number(mtime) * 1000 };
    },
    list(dir) {
      const r = sh(`cd ${q(dir)} && ls -A1`);
      if (r.status !== 0) throw notFound(dir, r.stderr);
      return r.stdout.toString("utf8").split("\n").filter(Boolean);
    },
    realpath(path) {
      const r = sh(`realpath -e -- ${q(path)}`);
      if (r.status !== 0) throw notFound(path, r.stderr);
      return r.stdout.toString("utf8").trim();
    },
    readRange(path, from, to) {
      const r = sh(`tail -c +${from + 1} -- ${q(path)} | head -c ${Math.max(0, to - from)}`);
      if (r.status !== 0) throw notFound(path, r.stderr);
      return r.stdout.toString("utf8");
    },
    writeDir(target, files) {
      // One round trip: a tar stream unpacked into a temporary sibling, renamed into place (mv -T
      // refuses an existing target); anything that fails removes the temporary directory.
      const parent = dirname(target);
      const script = [
        "set -e",
        `mkdir -p -- ${q(parent)}`,
        `tmp=$(mktemp -d ${q(join(parent, `.tmp-${basename(target)}-XXXXXX`))})`,
        `trap 'rm -rf -- "$tmp"' EXIT`,
        `tar -x -f - -C "$tmp"`,
        `mv -T -- "$tmp" ${q(target)}`,
        "trap - EXIT",
      ].join("\n");
      const r = sh(script, tarFiles({ ...files }, ["logs"]));
      if (r.status !== 0)
        throw ioError(`cannot write the run directory ${target} on ${spec}`, new Error(r.stderr.trim()));
    },
    writeFile(path, text) {
      const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
      const r = sh(
        `cat > ${q(tmp)} && mv -f -- ${q(tmp)} ${q(path)} || { rm -f -- ${q(tmp)}; exit 1; }`,
        text,
      );
      if (r.status !== 0) throw ioError(`cannot write ${path}`, new Error(r.stderr.trim()));
    },
    link(link, targetPath) {
      const r = sh(
        `mkdir -p -- ${q(dirname(link))} && ln -sfn -- ${q(relative(dirname(link), targetPath))} ${q(link)}`,
      );
      if (r.status !== 0) throw ioError(`cannot link ${link}`, new Error(r.stderr.trim()));
    },
    remove(path) {
      sh(`rm -rf -- ${q(path)}`);
    },
    makeDirs(path) {
      const r = sh(
        `mkdir -p -- ${q(path)} && { test -w ${q(path)} && test -x ${q(path)} || { echo "not writable" >&2; exit 1; }; }`,
      );
      if (r.status !== 0) throw new Error(`${r.stderr.trim() || "mkdir failed"} (on ${spec})`);
    },
  };

  return {
    remote: target.spec,
    fs,
    home() {
      if (loginDir === undefined) {
        const r = sh("pwd");
        loginDir = r.stdout.toString("utf8").trim();
      }
      return loginDir;
    },
    async run(command, args, options) {
      connect();
      const [cmd = "ssh", ...sshArgs] = client;
      const r: RunResult = await runLocal(
        cmd,
        [...sshArgs, "--", remoteCommand(command, args, options?.cwd)],
        env,
        { ...(options?.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}) },
      );
      if (r.code === SSH_FAILED) throw remoteFailed(target, r.stderr);
      // the login shell's "command not found"
      return r.code === 127 ? { ...r, missing: true } : r;
    },
  };
}
