/**
 * Runs a whole rendered script under bash with stub executables first on PATH, so it goes top to
 * bottom without a cluster:
 *  - scontrol prints STUB_NODES hostnames (node0, node1, …);
 *  - srun records its argv NUL-separated to rec/<job-name>.argv; for node-setup it runs the real
 *    command once per node (with a stub `ip` that reports 10.9.0.<k+1>); for container-preload it
 *    exits STUB_PRELOAD_RC; service steps record their pid and HF_TOKEN, then stay alive (or, for
 *    STUB_FAIL_STEP, exit 3 once the status file says ready);
 *  - python3 (only dyn_health calls it) reports every component registered, or with
 *    STUB_HEALTH=never only the first;
 *  - timeout (only the TCP wait uses it) succeeds; sleep is shortened to 20 ms so the script's
 *    polling loops run fast. Nothing in the harness sleeps a fixed time: it polls for conditions.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseStatusLines, type StatusEvent } from "../../src/index.js";

export const JOB_ID = 4242;
export const nodeIp = (k: number) => `10.9.0.${k + 1}`;

const REAL_SLEEP = spawnSync("bash", ["-c", "command -v sleep"], { encoding: "utf8" }).stdout.trim();

/** Stub executables (see the file comment), copied into each run's PATH directory. */
const STUB_SOURCE = fileURLToPath(new URL("../fixtures/stubs/", import.meta.url));
const STUBS = ["srun", "proc", "scontrol", "squeue", "python3", "ip", "timeout", "sleep"];

export interface StartOptions {
  /** Nodes scontrol reports (the plan's node count unless testing a mismatch). */
  readonly nodes: number;
  readonly health?: "ready" | "never";
  readonly failStep?: string;
  /** The interface the stub `ip` knows (eth0 by default). */
  readonly iface?: string;
  readonly preloadRc?: number;
  /** Extra environment of the batch script (e.g. secrets). */
  readonly env?: Record<string, string>;
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export class ScriptRun {
  readonly dir = mkdtempSync(join(tmpdir(), "dyn-core-run-"));
  readonly runDir = join(this.dir, "run");
  readonly home = join(this.dir, "home");
  readonly scratch = join(this.dir, "tmp");
  readonly locks = join(this.dir, "locks");
  private readonly stubs = join(this.dir, "stubs");
  private readonly rec = join(this.stubs, "rec");
  private child: ChildProcess | undefined;
  private exitPromise: Promise<Exit> | undefined;
  exit: Exit | undefined;
  output = "";

  constructor() {
    for (const d of [this.home, this.scratch, this.rec]) mkdirSync(d, { recursive: true });
    for (const name of STUBS) {
      copyFileSync(join(STUB_SOURCE, name), join(this.stubs, name));
      chmodSync(join(this.stubs, name), 0o755);
    }
  }

  start(script: string, options: StartOptions): void {
    const path = join(this.dir, "job.sh");
    writeFileSync(path, script);
    const env: Record<string, string> = {
      PATH: `${this.stubs}:/usr/local/bin:/usr/bin:/bin`,
      HOME: this.home,
      TMPDIR: this.scratch,
      SLURM_JOB_ID: String(JOB_ID),
      SLURM_JOB_NODELIST: `node[0-${options.nodes - 1}]`,
      SLURMD_NODENAME: "node0", // the batch host is the first node
      STUB_DIR: this.stubs,
      STUB_NODES: String(options.nodes),
      STUB_STATUS: join(this.runDir, "status.jsonl"),
      STUB_SLEEP: REAL_SLEEP,
      STUB_HEALTH: options.health ?? "ready",
      STUB_FAIL_STEP: options.failStep ?? "",
      STUB_PRELOAD_RC: String(options.preloadRc ?? 0),
      // The port-window locks of the run, not the machine's /var/tmp/dyn-ports.
      DYN_PORT_LOCK_DIR: this.locks,
      ...(options.iface ? { STUB_IFACE: options.iface } : {}),
      ...options.env,
    };
    // Own process group, so the finally-cleanup can reach every stub even if the script misbehaves.
    const child = spawn("bash", [path], { env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout?.on("data", (d: Buffer) => {
      this.output += d.toString();
    });
    child.stderr?.on("data", (d: Buffer) => {
      this.output += d.toString();
    });
    this.child = child;
    this.exitPromise = new Promise((resolve) =>
      child.on("exit", (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      }),
    );
  }

  /** The status file's lines as written (to check that every one is valid JSON). */
  statusLines(): string[] {
    const file = join(this.runDir, "status.jsonl");
    return existsSync(file)
      ? readFileSync(file, "utf8")
          .split("\n")
          .filter((l) => l !== "")
      : [];
  }

  events(): StatusEvent[] {
    const file = join(this.runDir, "status.jsonl");
    return existsSync(file) ? parseStatusLines(readFileSync(file, "utf8")) : [];
  }

  /** Poll until `check` returns a value (or the script exits); fail with the script's output. */
  async until<T>(what: string, check: () => T | undefined, timeoutMs = 45_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = check();
      if (value !== undefined) return value;
      if (this.exit || Date.now() > deadline) {
        const why = this.exit ? `the script exited (${JSON.stringify(this.exit)})` : `${timeoutMs} ms passed`;
        throw new Error(`waiting for ${what}: ${why}\n--- output ---\n${this.output}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  untilEvent(event: string, timeoutMs?: number): Promise<StatusEvent> {
    return this.until(`a "${event}" event`, () => this.events().find((e) => e.event === event), timeoutMs);
  }

  /** The recorded srun argv of a step (without "srun"), once written. */
  argv(step: string): string[] | undefined {
    const file = join(this.rec, `${step}.argv`);
    if (!existsSync(file)) return undefined;
    const parts = readFileSync(file, "utf8").split("\0");
    parts.pop();
    return parts;
  }

  recorded(name: string): string | undefined {
    const file = join(this.rec, name);
    return existsSync(file) ? readFileSync(file, "utf8") : undefined;
  }

  /** Whether the stub process of a step is still running. */
  alive(step: string): boolean {
    const pid = Number(this.recorded(`${step}.pid`));
    if (!pid) return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  async waitExit(timeoutMs = 45_000): Promise<Exit> {
    const exit = this.exitPromise ?? Promise.reject(new Error("not started"));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`script did not exit in ${timeoutMs} ms\n${this.output}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([exit, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  signal(sig: NodeJS.Signals): void {
    if (this.child?.pid) process.kill(this.child.pid, sig);
  }

  /** Kill whatever is left of the process group and remove the directory. */
  dispose(): void {
    const pid = this.child?.pid;
    if (pid) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Split a recorded srun argv into srun options, the `env K=V` prefix, and the process argv. */
export function splitRecorded(argv: readonly string[]): {
  srun: string[];
  env: Record<string, string>;
  unset: string[];
  command: string[];
} {
  const first = argv.findIndex((a) => !a.startsWith("-"));
  const srun = argv.slice(0, first);
  const rest = argv.slice(first);
  if (rest[0] !== "env") throw new Error(`expected an env prefix, got ${JSON.stringify(rest.slice(0, 3))}`);
  const env: Record<string, string> = {};
  let i = 1;
  // `env -u NAME …` first: what the step must not inherit (secrets, for etcd and NATS).
  const unset: string[] = [];
  while (rest[i] === "-u") {
    unset.push(rest[i + 1] as string);
    i += 2;
  }
  for (; i < rest.length; i++) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=/s.exec(rest[i] as string);
    if (!m) break;
    env[m[1] as string] = (rest[i] as string).slice(m[0].length);
  }
  return { srun, env, unset, command: rest.slice(i) };
}
