/**
 * The one seam between the CLI and the machine SLURM and the run directories live on: every SLURM
 * command (slurm.ts) and every run-directory read or write (run-dir.ts, observe.ts, logs, deploy)
 * goes through the current `Host`. Locally that is node:fs and child processes; with `--remote`
 * (`DYN_REMOTE`, `remote:` in dyn.yaml) it is the user's own `ssh` to a login node (remote.ts), where
 * the run directories are on the cluster's shared filesystem. The per-user registry and the config
 * file stay local.
 *
 * File access is synchronous (the callers are), so the remote one uses spawnSync over an already
 * established multiplexed connection: each call is one round trip on the existing TCP connection.
 */
/** node:child_process on first use: `--help` and a dry run never load it (test/bin.test.ts). */
const childProcess = () => process.getBuiltinModule("node:child_process");

import {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { DynError } from "@dyn/core";

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The command does not exist (ENOENT locally, exit 127 from a remote shell). */
  readonly missing: boolean;
  readonly timedOut?: boolean;
}

export interface RunOptions {
  readonly cwd?: string | undefined;
  readonly timeoutMs?: number;
}

export interface FileStat {
  readonly isDirectory: boolean;
  readonly size: number;
  readonly mtimeMs: number;
}

/** The run-directory file operations dyn needs. Reads throw when the file is not there. */
export interface RunFs {
  readText(path: string): string;
  exists(path: string): boolean;
  stat(path: string): FileStat;
  list(dir: string): string[];
  realpath(path: string): string;
  /** Bytes [from, to) of a file as text. */
  readRange(path: string, from: number, to: number): string;
  /** A directory with these files and an empty logs/, built next to `target` and renamed into place. */
  writeDir(target: string, files: Readonly<Record<string, string>>): void;
  /** One file, written to a temporary sibling and renamed. */
  writeFile(path: string, text: string): void;
  /** `ln -sfn <relative target> link`, creating link's directory. */
  link(link: string, target: string): void;
  /** `rm -rf`. */
  remove(path: string): void;
  /** `mkdir -p` and check it is a writable directory; throws with the reason. */
  makeDirs(path: string): void;
}

/** Where the commands run: this machine, or a login node over ssh. */
export interface Host {
  /** The remote login node as the user named it (`alice@login1:2222`), undefined for this machine. */
  readonly remote: string | undefined;
  /** One command, never throws (a failed ssh connection does: DYN_REMOTE_FAILED). */
  run(command: string, args: readonly string[], options?: RunOptions): Promise<RunResult>;
  readonly fs: RunFs;
  /** Where relative runs directories are resolved: cwd locally, the login directory remotely. */
  home(): string | undefined;
}

/** A command run on this machine: our own timer, and an answer at once when it fires. */
export function runLocal(
  command: string,
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  options: RunOptions & { input?: string } = {},
): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolve) => {
    let stdout = "";
    let stderr = "";
    const child = childProcess().spawn(command, args, {
      cwd: options.cwd,
      env: env as NodeJS.ProcessEnv,
      stdio: ["pipe", "pipe", "pipe"],
    });
    child.stdin.on("error", () => {
      // a command that does not read its stdin
    });
    child.stdin.end(options.input ?? "");
    // Our own timer (spawn's `timeout` keeps the process alive when the command does not exist).
    // On expiry we answer at once: a grandchild holding the pipes open must not stretch the limit.
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      child.stdout.destroy();
      child.stderr.destroy();
      resolve({ code: null, stdout, stderr, missing: false, timedOut: true });
    }, timeoutMs);
    timer.unref();
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.on("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: stderr || err.message, missing: err.code === "ENOENT" });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, missing: false });
    });
  });
}

export const ioError = (what: string, err: unknown) =>
  new DynError("DYN_IO_FAILED", `${what}: ${(err as Error).message}`, {
    hint: "check the runs directory (--runs-dir / DYN_RUNS_DIR) exists on a writable shared filesystem",
    cause: err,
  });

function isLink(p: string): boolean {
  return lstatSync(p, { throwIfNoEntry: false })?.isSymbolicLink() === true;
}

/**
 * Write one file of this machine atomically (temp file in the same directory, then rename), its
 * directory created first unless `makeDir` is false.
 */
export function writeFileAtomic(path: string, text: string, mode = 0o644, makeDir = true): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    if (makeDir) mkdirSync(dirname(path), { recursive: true });
    writeFileSync(tmp, text, { mode });
    renameSync(tmp, path);
  } catch (err) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // its directory is not one: nothing was written
    }
    throw ioError(`cannot write ${path}`, err);
  }
}

export const localFs: RunFs = {
  readText: (path) => readFileSync(path, "utf8"),
  exists: (path) => existsSync(path),
  stat: (path) => {
    const s = statSync(path);
    return { isDirectory: s.isDirectory(), size: s.size, mtimeMs: s.mtimeMs };
  },
  list: (dir) => readdirSync(dir),
  realpath: (path) => realpathSync(path),
  readRange(path, from, to) {
    const fd = openSync(path, "r");
    try {
      const buf = Buffer.alloc(Math.max(0, to - from));
      const n = readSync(fd, buf, 0, buf.length, from);
      return buf.subarray(0, n).toString("utf8");
    } finally {
      closeSync(fd);
    }
  },
  writeDir(target, files) {
    const parent = dirname(target);
    let tmp: string | undefined;
    try {
      mkdirSync(parent, { recursive: true });
      tmp = mkdtempSync(join(parent, `.tmp-${basename(target)}-`));
      mkdirSync(join(tmp, "logs"));
      for (const [name, text] of Object.entries(files)) {
        writeFileSync(join(tmp, name), text, { mode: name.endsWith(".sbatch") ? 0o755 : 0o644 });
      }
      renameSync(tmp, target);
      tmp = undefined;
    } catch (err) {
      if (tmp) rmSync(tmp, { recursive: true, force: true });
      throw ioError(`cannot write the run directory ${target}`, err);
    }
  },
  writeFile(path, text) {
    writeFileAtomic(path, text, 0o644, false);
  },
  link(link, target) {
    try {
      mkdirSync(dirname(link), { recursive: true });
      if (existsSync(link) || isLink(link)) unlinkSync(link);
      symlinkSync(relative(dirname(link), target), link);
    } catch (err) {
      throw ioError(`cannot link ${link}`, err);
    }
  },
  remove: (path) => rmSync(path, { recursive: true, force: true }),
  makeDirs: (path) => {
    mkdirSync(path, { recursive: true });
  },
};

export function localHost(
  env: Readonly<Record<string, string | undefined>>,
  cwd: string = process.cwd(),
): Host {
  return {
    remote: undefined,
    run: (command, args, options) => runLocal(command, args, env, options),
    fs: localFs,
    home: () => cwd,
  };
}

/**
 * The current host. main() installs the local one for every invocation; a command that is given
 * --remote (or finds a job the registry says was submitted remotely) installs the ssh one.
 */
let current: Host | undefined;

export function useHost(host: Host | undefined): void {
  current = host;
}

export function currentHost(): Host {
  current ??= localHost(process.env);
  return current;
}

export const runFs = (): RunFs => currentHost().fs;
