// Scripts can use dyn: `URL=$(dyn deploy --wait --quiet)` captures only the URL (progress on
// stderr), a closed pipe (`dyn render | head -1`) ends dyn quietly, and no stack trace is printed
// without --debug. The real-process cases run bin/dyn.js (built first, as in bin.test.ts) with
// stand-in sbatch/squeue on PATH: nothing is submitted to a real cluster.
import { spawn, spawnSync } from "node:child_process";
import { appendFileSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FakeSlurm, firstLine, queued, run, tmp } from "./helpers.js";
import { fails, says, stubBin } from "./stubs.js";

const SG = ["--backend", "sglang"];
const bin = join(import.meta.dirname, "..", "bin", "dyn.js");
const cacheHome = mkdtempSync(join(tmpdir(), "dyn-code-cache-"));

/** A FakeSlurm whose job 7 becomes ready on the second queue poll, writing its status file. */
function readyOnSecondPoll(runsDir: string): FakeSlurm {
  const slurm = new FakeSlurm();
  slurm.nextJobId = "7";
  slurm.onQueue = (n) => {
    if (n !== 2) return;
    slurm.jobs.set("7", queued("7", "RUNNING"));
    const dir = join(runsDir, readdirSync(runsDir).find((d) => d.startsWith("dynamo-")) as string);
    appendFileSync(
      join(dir, "status.jsonl"),
      `${JSON.stringify({ t: 1, event: "ready", url: "http://10.0.0.1:10004", registered: "prefill=1/1 backend=1/1" })}\n`,
    );
  };
  return slurm;
}

describe("deploy --quiet: stdout is the one line a script captures", () => {
  it("--wait --quiet: only the URL on stdout, the rest on stderr", async () => {
    const cwd = tmp();
    const r = await run(["deploy", ...SG, "--wait", "--quiet"], {
      cwd,
      slurm: readyOnSecondPoll(join(cwd, "dyn-runs")),
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("http://10.0.0.1:10004\n");
    expect(r.stderr).toContain("submitted job 7");
    expect(r.stderr).toContain("run directory: ");
    expect(r.stderr).toContain("ready: prefill 1/1, decode 1/1");
  });

  it("--quiet without --wait: the job id; with --dry-run: the run directory", async () => {
    const cwd = tmp();
    const slurm = new FakeSlurm();
    slurm.nextJobId = "31";
    const r = await run(["deploy", ...SG, "-q"], { cwd, slurm });
    expect(r.stdout).toBe("31\n");
    expect(r.stderr).toContain("next: dyn status 31");
    const dry = await run(["deploy", ...SG, "--dry-run", "--quiet"], { cwd });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(new RegExp(`^${join(cwd, "dyn-runs")}/dynamo-\\d{8}-\\d{6}(-\\d+)?\\n$`));
    expect(dry.stderr).toContain("dry run: nothing submitted");
  });

  it("--quiet with --json is refused (one document only)", async () => {
    const r = await run(["deploy", ...SG, "--quiet", "--json", "--dry-run"]);
    expect(r.code).toBe(2);
    expect(firstLine(r.stderr)).toBe(
      "error: --quiet: cannot be combined with --json (one document only) (DYN_USAGE)",
    );
  });

  it("a failure with --quiet: nothing on stdout, the error on stderr, exit 1", async () => {
    const slurm = new FakeSlurm();
    slurm.onQueue = () => slurm.jobs.clear();
    const r = await run(["deploy", ...SG, "--wait", "--quiet"], { slurm });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("left the queue before it was ready (DYN_JOB_FAILED)");
  });
});

/** Every SLURM command dyn may run: a stand-in that refuses, so no test can reach a real cluster. */
const NO_CLUSTER = Object.fromEntries(
  ["sbatch", "srun", "squeue", "sacct", "scancel", "scontrol", "sinfo"].map((c) => [
    c,
    fails(`${c}: error: stand-in: no cluster here`),
  ]),
);

/** bin/dyn.js in a shell, with the stand-ins first on PATH (then the shell's tools). */
function shell(script: string, stubs: Readonly<Record<string, string>> = {}) {
  const path = `${stubBin({ ...NO_CLUSTER, ...stubs })}:/usr/bin:/bin`;
  return spawnSync("bash", ["--norc", "--noprofile", "-c", `set -o pipefail\n${script}`], {
    cwd: tmp(),
    encoding: "utf8",
    env: {
      PATH: path,
      HOME: tmp("dyn-home-"),
      XDG_CACHE_HOME: cacheHome,
      NO_COLOR: "1",
      DYN: `${process.execPath} ${bin}`,
    },
  });
}

describe("in a shell (real processes)", () => {
  it("URL=$(dyn deploy --wait --quiet) captures only the URL, with stand-in sbatch and squeue", () => {
    // sbatch runs in the run directory: the stand-in job is ready at once.
    const ready = JSON.stringify({
      t: 1,
      event: "ready",
      url: "http://10.0.0.1:10004",
      registered: "prefill=1/1 backend=1/1",
    });
    const r = shell(
      'URL=$($DYN deploy --backend sglang --wait --quiet --runs-dir "$PWD/runs")\nprintf "[%s]" "$URL"',
      {
        sbatch: `printf '%s\\n' '${ready}' > status.jsonl\n${says("77")}`,
        squeue: says("77|RUNNING|None|n1|dynamo|0:01"),
      },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe("[http://10.0.0.1:10004]");
    expect(r.stderr).toContain("submitted job 77");
  });

  it.each([
    ["dyn render | head -1", "$DYN render --backend sglang | head -1", "#!/usr/bin/env bash\n"],
    [
      "a big plan into head -1",
      "$DYN plan --backend sglang --nodes 400 --gpus-per-prefill 1 --json | head -1",
      "{\n",
    ],
    ["a reader that never reads", "$DYN render --backend sglang | true", ""],
  ])("%s: exits quietly (exit 0, nothing on stderr)", (_what, script, stdout) => {
    const r = shell(script);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(stdout);
  });

  it("stdout closed before dyn writes anything: exit 0, no stack trace", async () => {
    const child = spawn(process.execPath, [bin, "render", "--backend", "sglang"], {
      cwd: tmp(),
      env: { PATH: "/usr/bin:/bin", HOME: tmp(), XDG_CACHE_HOME: cacheHome },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });

  it("no stack trace without --debug for bad input, a failed operation or a missing command", () => {
    for (const script of [
      "$DYN plan --backend sglang --nodes -3",
      "$DYN deploy --backend sglang",
      "$DYN status 12345",
      "$DYN frobnicate",
      "$DYN logs",
    ]) {
      const r = shell(script, { squeue: says("squeue: error: Unable to contact slurm controller", 1) });
      expect(r.status, script).not.toBe(0);
      expect(r.stderr, script).not.toMatch(/^\s+at /m);
      expect(r.stderr, script).toMatch(/^error: /m);
    }
  });
});
