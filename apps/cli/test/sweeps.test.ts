/**
 * Sweeps (docs/cli.md, Sweeps): `matrix:` in the config file, every point planned before anything is
 * submitted, the concurrency cap as SLURM dependencies, the sweep record, `dyn list` grouping,
 * `dyn stop --sweep` and `dyn bench --sweep`'s combined table.
 */
import { appendFileSync, existsSync, readdirSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeSlurm, queued, run, tmp, writeConfig } from "./helpers.js";

const BASE = "backend: sglang\nmodel: org/served\n";
const SWEEP = `${BASE}matrix:\n  roles.decode.workers: [1, 2]\n  roles.prefill.workers: [1, 3]\n`;

function sweepProject(text = SWEEP): string {
  const cwd = tmp();
  writeConfig(cwd, text, "sweep.yaml");
  return cwd;
}

// biome-ignore lint/suspicious/noExplicitAny: the --json documents, read as the tests assert them
type Doc = any;
const json = (text: string): Doc => JSON.parse(text);

async function deploySweep(cwd: string, slurm: FakeSlurm, extra: string[] = []) {
  slurm.countIds = true;
  const r = await run(["deploy", "-f", "sweep.yaml", "--json", ...extra], { cwd, slurm });
  expect(r.code, r.stderr).toBe(0);
  return json(r.stdout);
}

describe("dyn plan -f sweep.yaml", () => {
  it("plans every point, in the documented order, with --json's sweep fields", async () => {
    const cwd = sweepProject();
    const r = await run(["plan", "-f", "sweep.yaml", "--json"], { cwd });
    expect(r.code, r.stderr).toBe(0);
    const doc = json(r.stdout);
    expect(doc.format).toBe("dyn.sweep-plan/v1");
    expect(doc.matrix).toEqual([
      { key: "roles.decode.workers", values: [1, 2] },
      { key: "roles.prefill.workers", values: [1, 3] },
    ]);
    expect(doc.points.map((p: Doc) => [p.index, p.label])).toEqual([
      [0, "decode.workers=1,prefill.workers=1"],
      [1, "decode.workers=1,prefill.workers=3"],
      [2, "decode.workers=2,prefill.workers=1"],
      [3, "decode.workers=2,prefill.workers=3"],
    ]);
    expect(doc.points[3]?.values).toEqual({ "roles.decode.workers": 2, "roles.prefill.workers": 3 });
    // each point's plan is the one its values make
    const workers = (p: Doc, role: string) => p.plan.spec.roles[role].workers as number;
    expect(doc.points.map((p: Doc) => [workers(p, "decode"), workers(p, "prefill")])).toEqual([
      [1, 1],
      [1, 3],
      [2, 1],
      [2, 3],
    ]);
    const text = await run(["plan", "--config", "sweep.yaml"], { cwd });
    expect(text.stdout).toContain("── point 2 (decode.workers=2,prefill.workers=1)\n");
    const one = await run(["plan", "-f", "sweep.yaml", "--point", "1", "--json"], { cwd });
    expect(JSON.parse(one.stdout).spec.roles.prefill.workers).toBe(3);
  });

  it("says a warning every point has once", async () => {
    const cwd = sweepProject(
      "backend: vllm\nmodel: /m\ndynamo: { version: 0.3.2 }\nroles:\n  prefill: { workers: 1 }\nmatrix:\n  roles.decode.workers: [1, 2]\n",
    );
    const r = await run(["plan", "-f", "sweep.yaml"], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.trimEnd().split("\n")).toEqual([
      'warning: sweep.yaml:2:1 model.path: no process is given "/m" at Dynamo 0.3.2 (the dynamo serve graph reads it from its graph config)',
    ]);
  });

  it("names matrix mistakes at their line and column, all at once, exit 2", async () => {
    const cwd = sweepProject(
      `${BASE}matrix:\n  roles.decode.worker: [1]\n  slurm.nodes: 3\n  slurm.time: []\n  roles.prefill.workers: [1, 1]\n`,
    );
    const r = await run(["deploy", "-f", "sweep.yaml"], { cwd, slurm: new FakeSlurm() });
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n").slice(0, 5)).toEqual([
      "error: 4 problems (DYN_CONFIG_INVALID)",
      "  sweep.yaml:4:3 matrix.roles.decode.worker: unknown key (did you mean roles.decode.workers?)",
      "  sweep.yaml:5:3 matrix.slurm.nodes: must be a list of values (e.g. [1, 2]), got a number",
      "  sweep.yaml:6:3 matrix.slurm.time: is an empty list: give at least one value",
      "  sweep.yaml:7:30 matrix.roles.prefill.workers[1]: 1 repeats item 0 (each value once)",
    ]);
    expect(existsSync(join(cwd, "dyn-runs"))).toBe(false);
  });

  it("refuses more than 256 points", async () => {
    const values = `[${Array.from({ length: 17 }, (_, i) => i + 1).join(", ")}]`;
    const cwd = sweepProject(
      `${BASE}matrix:\n  roles.decode.workers: ${values}\n  roles.prefill.workers: ${values}\n`,
    );
    const r = await run(["plan", "-f", "sweep.yaml"], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toBe(
      "error: matrix: 17 × 17 = 289 points, more than the limit of 256 (DYN_CONFIG_INVALID)",
    );
  });
});

describe("dyn deploy -f sweep.yaml", () => {
  it("plans every point before submitting any: each failing point on its own line, exit 2, nothing written", async () => {
    const cwd = sweepProject(
      `${BASE}slurm:\n  nodes: 2\n  gpusPerNode: 4\nroles:\n  prefill:\n    workers: 1\n    gpusPerWorker: 4\nmatrix:\n  roles.decode.workers: [0, 1, 9]\n  roles.decode.gpusPerWorker: [4]\n`,
    );
    const slurm = new FakeSlurm();
    const r = await run(["deploy", "-f", "sweep.yaml"], { cwd, slurm });
    expect(r.code).toBe(2);
    const lines = r.stderr.split("\n");
    expect(lines[0]).toBe("error: 2 of 3 sweep points fail (DYN_SPEC_INVALID)");
    expect(lines[1]).toMatch(
      /^ {2}point 0 \(decode.workers=0,decode.gpusPerWorker=4\): sweep\.yaml:11:26 matrix\.roles\.decode\.workers\[0\]: /,
    );
    expect(lines[2]).toMatch(/^ {2}point 2 \(decode.workers=9,decode.gpusPerWorker=4\): .*slurm\.nodes: /);
    expect(lines[3]).toBe(
      "hint: nothing was written or submitted; dyn plan -f sweep.yaml --point <n> shows one point",
    );
    expect(slurm.count("sbatch")).toBe(0);
    expect(existsSync(join(cwd, "dyn-runs"))).toBe(false);
  });

  it("refuses a flag that sets a swept key, and the sweep flags without a sweep", async () => {
    const cwd = sweepProject();
    const clash = await run(["deploy", "-f", "sweep.yaml", "--decode-workers", "3"], { cwd });
    expect(clash.code).toBe(2);
    expect(clash.stderr.split("\n")[0]).toBe(
      "error: --decode-workers: sets roles.decode.workers, which the sweep's matrix sets for each point (sweep.yaml:4:3 matrix.roles.decode.workers) (DYN_USAGE)",
    );
    const plain = tmp();
    writeConfig(plain, BASE);
    const cap = await run(["deploy", "--sweep-concurrency", "2", "--dry-run"], { cwd: plain });
    expect(cap.code).toBe(2);
    expect(cap.stderr.split("\n")[0]).toBe(
      "error: --sweep-concurrency: only applies to a config file with matrix: (a sweep) (DYN_USAGE)",
    );
    const bad = await run(["deploy", "-f", "sweep.yaml", "--sweep-concurrency", "0"], {
      cwd,
      slurm: new FakeSlurm(),
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr.split("\n")[0]).toBe(
      'error: --sweep-concurrency: expected a number of points ≥ 1, got "0" (DYN_USAGE)',
    );
    const wait = await run(["deploy", "-f", "sweep.yaml", "--wait"], { cwd, slurm: new FakeSlurm() });
    expect(wait.code).toBe(2);
    expect(wait.stderr.split("\n")[0]).toBe(
      "error: --wait: follows one deployment, and a sweep is several (DYN_USAGE)",
    );
    const render = await run(["render", "-f", "sweep.yaml"], { cwd });
    expect(render.code).toBe(2);
    expect(render.stderr.split("\n")[0]).toMatch(/^error: --point: sweep\.yaml is a sweep of 4 points/);
    expect(existsSync(join(cwd, "dyn-runs"))).toBe(false);
  });

  it("--dry-run shows each point's plan and writes nothing", async () => {
    const cwd = sweepProject();
    const r = await run(["deploy", "-f", "sweep.yaml", "--dry-run", "--sweep-concurrency", "2"], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("── point 0 (decode.workers=1,prefill.workers=1)\n");
    expect(r.stdout).toContain("── point 3 (decode.workers=2,prefill.workers=3), after point 1\n");
    expect(r.stdout).toContain(
      "dry run: 4 points of roles.decode.workers × roles.prefill.workers planned (at most 2 at once); nothing written or submitted\n",
    );
    expect(existsSync(join(cwd, "dyn-runs"))).toBe(false);
    const j = await run(["deploy", "-f", "sweep.yaml", "--dry-run", "--json"], { cwd });
    const doc = json(j.stdout);
    expect(doc).toMatchObject({
      format: "dyn.sweep-deploy/v1",
      dryRun: true,
      sweep: { id: null, concurrency: null },
    });
    expect(doc.points.map((p: Doc) => p.after)).toEqual([null, null, null, null]);
  });

  it("submits each point into its own run directory, chains them under a cap, and records the sweep", async () => {
    const cwd = sweepProject();
    const slurm = new FakeSlurm();
    const doc = await deploySweep(cwd, slurm, ["--sweep-concurrency", "2"]);
    // every point planned and checked (sinfo) before the first sbatch
    const cmds = slurm.calls.map((c) => c.cmd);
    expect(cmds.lastIndexOf("sinfo")).toBeLessThan(cmds.indexOf("sbatch"));
    expect(slurm.count("sinfo")).toBe(1); // the partitions asked once for the four points
    const sbatch = slurm.calls.filter((c) => c.cmd === "sbatch").map((c) => c.args as Record<string, string>);
    expect(sbatch.map((a) => a.afterAny)).toEqual([undefined, undefined, "4242", "4243"]);
    expect(doc.format).toBe("dyn.sweep-deploy/v1");
    expect(doc.sweep.id).toMatch(/^sweep-\d{8}-\d{6}$/);
    expect(doc.sweep.concurrency).toBe(2);
    expect(doc.points.map((p: Record<string, unknown>) => [p.index, p.jobId, p.after])).toEqual([
      [0, "4242", null],
      [1, "4243", null],
      [2, "4244", 0],
      [3, "4245", 1],
    ]);
    const dir = join(cwd, "dyn-runs", "sweeps", doc.sweep.id);
    expect(doc.sweep.dir).toBe(dir);
    const record = JSON.parse(readFileSync(join(dir, "sweep.json"), "utf8"));
    expect(record).toMatchObject({
      format: "dyn.sweep/v1",
      id: doc.sweep.id,
      config: join(cwd, "sweep.yaml"),
      concurrency: 2,
      matrix: [
        { key: "roles.decode.workers", values: [1, 2] },
        { key: "roles.prefill.workers", values: [1, 3] },
      ],
    });
    expect(record.points.map((p: Record<string, unknown>) => [p.label, p.jobId, p.after])).toEqual([
      ["decode.workers=1,prefill.workers=1", "4242", null],
      ["decode.workers=1,prefill.workers=3", "4243", null],
      ["decode.workers=2,prefill.workers=1", "4244", 0],
      ["decode.workers=2,prefill.workers=3", "4245", 1],
    ]);
    // each run directory says which point it is; its spec has the point's values
    const runDirs = new Set(record.points.map((p: { runDir: string }) => p.runDir));
    expect(runDirs.size).toBe(4);
    for (const p of record.points as Array<{ runDir: string; index: number; values: object }>) {
      expect(JSON.parse(readFileSync(join(p.runDir, "job.json"), "utf8")).sweep).toEqual({
        id: doc.sweep.id,
        index: p.index,
        label: record.points[p.index].label,
        values: p.values,
        dir,
      });
      expect(readdirSync(p.runDir).sort()).toEqual([
        "job.json",
        "job.sbatch",
        "logs",
        "plan.json",
        "spec.json",
      ]);
      const spec = JSON.parse(readFileSync(join(p.runDir, "spec.json"), "utf8"));
      expect([spec.roles.decode.workers, spec.roles.prefill.workers]).toEqual(Object.values(p.values));
    }
  });

  it("text output names each point and job, --quiet prints the sweep id", async () => {
    const cwd = sweepProject(`${BASE}matrix:\n  roles.decode.workers: [1, 2]\n`);
    const slurm = new FakeSlurm();
    slurm.countIds = true;
    const r = await run(["deploy", "-f", "sweep.yaml", "--sweep-concurrency", "1", "-q"], { cwd, slurm });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^sweep-\d{8}-\d{6}\n$/);
    expect(r.stderr).toContain("point 0 (decode.workers=1): job 4242  ");
    expect(r.stderr).toContain("point 1 (decode.workers=2): job 4243 (starts after job 4242 ends)  ");
    expect(r.stderr).toContain(`next: dyn list  |  dyn bench --sweep ${r.stdout.trim()}`);
  });

  it("a submission that fails part-way keeps the queued points recorded and says how to stop them", async () => {
    const cwd = sweepProject(`${BASE}matrix:\n  roles.decode.workers: [1, 2, 3]\n`);
    const slurm = new FakeSlurm();
    slurm.countIds = true;
    const { DynError } = await import("@dyn/core");
    slurm.submitError = new DynError("DYN_SLURM_FAILED", "sbatch: QOSMaxSubmitJobPerUserLimit");
    slurm.failSubmission = 2;
    const r = await run(["deploy", "-f", "sweep.yaml"], { cwd, slurm });
    expect(r.code).toBe(1);
    const [error, hint] = r.stderr.split("\n");
    expect(error).toBe(
      "error: point 1 (decode.workers=2): sbatch: QOSMaxSubmitJobPerUserLimit (DYN_SLURM_FAILED)",
    );
    expect(hint).toMatch(
      /^hint: points 0…0 are queued \(job 4242\): dyn stop --sweep sweep-\d{8}-\d{6} ends them/,
    );
    const sweeps = readdirSync(join(cwd, "dyn-runs", "sweeps"));
    const record = JSON.parse(
      readFileSync(join(cwd, "dyn-runs", "sweeps", sweeps[0] as string, "sweep.json"), "utf8"),
    );
    expect(record.points.map((p: { jobId: string }) => p.jobId)).toEqual(["4242"]);
    // the failed point's run directory is gone; only point 0's is left
    const runDirs = readdirSync(join(cwd, "dyn-runs")).filter((n) => n.startsWith("dynamo-"));
    expect(runDirs).toEqual([record.points[0].runDir.split("/").pop()]);
  });
});

describe("dyn list with sweeps", () => {
  it("groups a sweep's points in point order, with the sweep id, index and label (text and --json)", async () => {
    const cwd = sweepProject();
    const slurm = new FakeSlurm();
    slurm.nextJobId = "100";
    const single = await run(["deploy", "-f", "sweep.yaml", "--point", "0"], { cwd, slurm });
    expect(single.code, single.stderr).toBe(0);
    slurm.nextJobId = "200";
    const doc = await deploySweep(cwd, slurm);
    const l = await run(["list", "--json"], { cwd, slurm });
    expect(l.code, l.stderr).toBe(0);
    const list = JSON.parse(l.stdout);
    const rows = list.deployments.map((d: Doc) => [d.jobId, d.sweep?.index ?? null]);
    // the lone deployment (--point 0 is no sweep) and the sweep's four points together, in order
    expect(rows.filter((r: unknown[]) => r[1] !== null)).toEqual([
      ["200", 0],
      ["201", 1],
      ["202", 2],
      ["203", 3],
    ]);
    expect(rows).toContainEqual(["100", null]);
    const member = list.deployments.find((d: Doc) => d.jobId === "202");
    expect(member.sweep).toEqual({
      id: doc.sweep.id,
      index: 2,
      label: "decode.workers=2,prefill.workers=1",
      values: { "roles.decode.workers": 2, "roles.prefill.workers": 1 },
    });
    expect(list.sweeps).toEqual([
      {
        id: doc.sweep.id,
        dir: doc.sweep.dir,
        config: join(cwd, "sweep.yaml"),
        matrix: doc.sweep.matrix,
        concurrency: null,
        points: 4,
        jobIds: ["200", "201", "202", "203"],
      },
    ]);
    const text = await run(["list"], { cwd, slurm });
    const lines = text.stdout.split("\n");
    expect(lines[0]).toMatch(/^SWEEP +POINT +NAME +JOB +STATE/);
    const sweepLines = lines.filter((line) => line.startsWith(doc.sweep.id));
    expect(sweepLines).toHaveLength(4);
    expect(sweepLines[1]).toMatch(
      new RegExp(`^${doc.sweep.id} +1 decode\\.workers=1,prefill\\.workers=3 +dynamo-`),
    );
    expect(lines.some((line) => /^- +- +dynamo-\S+ +100 /.test(line))).toBe(true);
  });
});

describe("dyn status --sweep", () => {
  it("shows every point of the sweep, in point order", async () => {
    const cwd = sweepProject();
    const slurm = new FakeSlurm();
    const doc = await deploySweep(cwd, slurm);
    const r = await run(["status", "--sweep", doc.sweep.id, "--json"], { cwd, slurm });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).deployments.map((d: Doc) => [d.jobId, d.state])).toEqual([
      ["4242", "queued"],
      ["4243", "queued"],
      ["4244", "queued"],
      ["4245", "queued"],
    ]);
    const both = await run(["status", "4242", "--sweep", doc.sweep.id], { cwd, slurm });
    expect(both.code).toBe(2);
  });
});

describe("dyn stop --sweep", () => {
  it("cancels every point, the last first, and waits until none is in the queue", async () => {
    const cwd = sweepProject();
    const slurm = new FakeSlurm();
    const doc = await deploySweep(cwd, slurm, ["--sweep-concurrency", "1"]);
    slurm.calls = [];
    const r = await run(["stop", "--sweep", doc.sweep.id, "--json"], { cwd, slurm });
    expect(r.code, r.stderr).toBe(0);
    expect(slurm.calls.filter((c) => c.cmd === "scancel").map((c) => c.args)).toEqual([
      "4245",
      "4244",
      "4243",
      "4242",
    ]);
    expect(slurm.jobs.size).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ format: "dyn.sweep-stop/v1", sweep: doc.sweep.id });
    expect(out.points.map((p: { cancelled: boolean }) => p.cancelled)).toEqual([true, true, true, true]);
    const again = await run(["stop", "--sweep", doc.sweep.id], { cwd, slurm });
    expect(again.stdout).toContain("nothing to stop");
    const unknown = await run(["stop", "--sweep", `${doc.sweep.id.slice(0, -1)}x`], { cwd, slurm });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.split("\n")[0]).toContain(`(did you mean ${doc.sweep.id}?)`);
    const none = await run(["stop"], { cwd, slurm });
    expect(none.code).toBe(2);
    expect(none.stderr.split("\n")[0]).toBe(
      "error: stop: give a job id or run directory, or --sweep <id> (DYN_USAGE)",
    );
  });
});

describe("dyn stop --sweep, keep-alive points", () => {
  it("writes each chain's stop marker first and cancels every attempt of it", async () => {
    const cwd = sweepProject(
      `${BASE}slurm: { time: "30" }\nlifetime: { keepAlive: true }\nmatrix:\n  roles.decode.workers: [1, 2]\n`,
    );
    const slurm = new FakeSlurm();
    const doc = await deploySweep(cwd, slurm);
    const [p0, p1] = doc.points as Array<{ jobId: string; runDir: string }>;
    // point 0's chain: attempt 2 (job 900) serves; a successor (901) appears while dyn stops it
    appendFileSync(
      join(p0?.runDir as string, "chain.jsonl"),
      [
        { attempt: 1, job: p0?.jobId, event: "started" },
        { attempt: 2, job: "900", event: "submitted", by: p0?.jobId },
      ]
        .map((e) => `${JSON.stringify({ t: 1, ...e })}\n`)
        .join(""),
    );
    slurm.jobs.set("900", queued("900", "RUNNING"));
    slurm.onQueue = (n) => {
      if (n !== 1) return;
      for (const p of [p0, p1]) expect(existsSync(join(p?.runDir as string, "chain.stop"))).toBe(true);
      appendFileSync(
        join(p0?.runDir as string, "chain.jsonl"),
        `${JSON.stringify({ t: 2, attempt: 3, job: "901", event: "submitted", by: "900" })}\n`,
      );
      slurm.jobs.set("901", queued("901", "PENDING", "Resources"));
    };
    const r = await run(["stop", "--sweep", doc.sweep.id, "--json"], { cwd, slurm });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).cancelled.sort()).toEqual(["4242", "4243", "900", "901"]);
    expect(slurm.jobs.size).toBe(0);
  });
});

describe("dyn bench --sweep", () => {
  let http: Server;
  let url = "";
  const seen: string[] = [];
  async function answer(req: IncomingMessage, res: ServerResponse) {
    if (req.method === "GET" && req.url === "/v1/models") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ object: "list", data: [{ id: "org/served", object: "model" }] }));
      return;
    }
    let raw = "";
    for await (const c of req) raw += c;
    const body = JSON.parse(raw) as { max_tokens: number };
    seen.push(req.headers.host ?? "");
    res.writeHead(200, { "content-type": "text/event-stream" });
    const send = (o: unknown) => res.write(`data: ${JSON.stringify(o)}\n\n`);
    for (let i = 0; i < body.max_tokens; i++) send({ choices: [{ index: 0, delta: { content: ` w${i}` } }] });
    send({ choices: [], usage: { prompt_tokens: 4, completion_tokens: body.max_tokens } });
    res.end("data: [DONE]\n\n");
  }
  beforeAll(async () => {
    http = createServer((req, res) => {
      answer(req, res).catch((e) => res.destroy(e));
    });
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    http.closeAllConnections();
    await new Promise((r) => http.close(r));
  });

  it("benches each READY point in turn and writes one table: a row per point × concurrency step", async () => {
    const cwd = sweepProject(`${BASE}matrix:\n  roles.decode.workers: [1, 2, 4]\n`);
    const slurm = new FakeSlurm();
    const doc = await deploySweep(cwd, slurm);
    const points = doc.points as Array<{ jobId: string; runDir: string }>;
    // points 0 and 2 are ready (at the same test server), point 1 is still starting
    for (const [i, p] of points.entries()) {
      slurm.jobs.set(p.jobId, queued(p.jobId, "RUNNING"));
      const events = i === 1 ? [{ event: "job-started" }] : [{ event: "ready", url }];
      appendFileSync(
        join(p.runDir, "status.jsonl"),
        events.map((e) => `${JSON.stringify({ t: 1, ...e })}\n`).join(""),
      );
    }
    const args = ["--concurrency", "1,2", "--requests", "2", "--input-tokens", "4", "--output-tokens", "3"];
    const r = await run(["bench", "--sweep", doc.sweep.id, ...args, "--json"], { cwd, slurm });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("point 1 (decode.workers=2): starting, not ready: skipped\n");
    const out = JSON.parse(r.stdout);
    expect(out.format).toBe("dyn.sweep-bench/v1");
    expect(out.sweep.id).toBe(doc.sweep.id);
    expect(out.points.map((p: Record<string, unknown>) => [p.index, p.status, p.model])).toEqual([
      [0, "benched", "org/served"],
      [1, "skipped", null],
      [2, "benched", "org/served"],
    ]);
    expect(
      out.points[0].steps.map((s: { concurrency: number; answered: number }) => [s.concurrency, s.answered]),
    ).toEqual([
      [1, 2],
      [2, 2],
    ]);
    expect(seen).toHaveLength(8); // 2 points × 2 steps × 2 requests
    // under <runs>/sweeps/<id>/bench/<UTC timestamp>/
    const benchDir = join(doc.sweep.dir, "bench");
    const [stampDir] = readdirSync(benchDir);
    const dir = join(benchDir, stampDir as string);
    expect(dir).toMatch(/\/bench\/\d{8}-\d{6}$/);
    expect(readdirSync(dir).sort()).toEqual(["results.csv", "results.json"]);
    expect(JSON.parse(readFileSync(join(dir, "results.json"), "utf8"))).toEqual(out);
    const csv = readFileSync(join(dir, "results.csv"), "utf8").split("\r\n");
    expect(
      csv[0]?.startsWith("point,label,roles.decode.workers,job_id,concurrency,requests,answered,errors,"),
    ).toBe(true);
    expect(csv.slice(1, -1).map((l) => l.split(",").slice(0, 7))).toEqual([
      ["0", "decode.workers=1", "1", "4242", "1", "2", "2"],
      ["0", "decode.workers=1", "1", "4242", "2", "2", "2"],
      ["2", "decode.workers=4", "4", "4244", "1", "2", "2"],
      ["2", "decode.workers=4", "4", "4244", "2", "2", "2"],
    ]);
    expect(csv.at(-1)).toBe("");
    // the text table: a POINT column before the usual ones
    const text = await run(["bench", "--sweep", doc.sweep.id, ...args], { cwd, slurm });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout.split("\n")[0]).toMatch(/^POINT +CONC +REQ +ERR/);
    expect(text.stdout).toContain("2 of 3 points benched; results: ");
  });

  it("no point ready: exit 1, saying so; an unknown sweep or a target with --sweep: exit 2", async () => {
    const cwd = sweepProject(`${BASE}matrix:\n  roles.decode.workers: [1, 2]\n`);
    const slurm = new FakeSlurm();
    const doc = await deploySweep(cwd, slurm);
    const r = await run(["bench", "--sweep", doc.sweep.id], { cwd, slurm });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `error: no point of sweep ${doc.sweep.id} is ready: nothing was benched (DYN_JOB_FAILED)`,
    );
    const unknown = await run(["bench", "--sweep", "nope"], { cwd, slurm });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.split("\n")[0]).toMatch(/^error: --sweep nope: no such sweep under /);
    const both = await run(["bench", "4242", "--sweep", doc.sweep.id], { cwd, slurm });
    expect(both.code).toBe(2);
  });
});
