/**
 * The per-node launcher (runtime.ts DYN_LAUNCHER) under real bash with real processes: each process
 * gets its own log, its exit code is written to logs/.exit/<id> as it ends (127 for a command that
 * does not exist), the others keep running, and TERM reaches every process.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { RUNTIME_LIBRARY } from "../src/render/runtime.js";

const assignment = /^DYN_LAUNCHER='(?:[^']|'\\'')*'$/m.exec(RUNTIME_LIBRARY)?.[0];
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function until<T>(what: string, probe: () => T | undefined, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("the per-node launcher", () => {
  it("is one shell assignment in the runtime library", () => {
    expect(assignment).toBeDefined();
  });

  it("starts each process with its own log, records exit codes as they end, forwards TERM", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dyn-launch-"));
    dirs.push(dir);
    const logs = join(dir, "logs");
    mkdirSync(join(logs, ".exit"), { recursive: true });
    const procs: Array<[string, string[]]> = [
      // a long-running process that writes its pid, and a word with spaces and quotes kept whole
      [
        "frontend-0",
        ["sh", "-c", 'echo "$$" >"$0"; echo "arg: $1"; exec sleep 60', join(dir, "pid"), "a b 'c\""],
      ],
      ["decode-w0", ["sh", "-c", "echo crashing; exit 3"]],
      ["prefill-w0", ["/nonexistent/dynamo-worker", "--flag"]],
    ];
    const args = procs.flatMap(([id, words]) => [id, String(words.length), ...words]);
    const child = spawn(
      "bash",
      ["-c", `${assignment}\nexec bash -c "$DYN_LAUNCHER" launch-0 "$@"`, "x", logs, ...args],
      {
        stdio: "ignore",
      },
    );
    const exitCode = (id: string) => {
      const f = join(logs, ".exit", id);
      return existsSync(f) ? readFileSync(f, "utf8") : undefined;
    };
    expect(await until("decode-w0's exit", () => exitCode("decode-w0"))).toBe("3\n");
    expect(await until("prefill-w0's exit", () => exitCode("prefill-w0"))).toBe("127\n");
    expect(readFileSync(join(logs, "decode-w0.log"), "utf8")).toBe("crashing\n");
    expect(readFileSync(join(logs, "prefill-w0.log"), "utf8")).toMatch(/nonexistent\/dynamo-worker/);
    const pid = Number(
      await until("frontend's pid", () =>
        existsSync(join(dir, "pid")) ? readFileSync(join(dir, "pid"), "utf8") : undefined,
      ),
    );
    expect(
      await until("frontend's log", () => {
        const text = existsSync(join(logs, "frontend-0.log"))
          ? readFileSync(join(logs, "frontend-0.log"), "utf8")
          : "";
        return text.includes("arg:") ? text : undefined;
      }),
    ).toBe("arg: a b 'c\"\n");
    // the others ended; this one still runs, and has no exit file
    expect(alive(pid)).toBe(true);
    expect(exitCode("frontend-0")).toBeUndefined();
    const ended = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    child.kill("SIGTERM");
    expect(await ended).toBe(143);
    await until("the frontend to end", () => (alive(pid) ? undefined : true));
  });
});
