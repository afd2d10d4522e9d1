/**
 * #14 item 10: one documented --json schema per command. Every --json run of the whole suite is
 * already checked by json-check.ts (strict parse with the schema its format names, ok = exit 0);
 * here each command is run once on purpose (bench: bench-command.test.ts, against a real server),
 * the schemas are shown to be strict, `dyn schema` prints them, and docs/cli.md names every field.
 */
import { appendFileSync, readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DOCUMENT_NAMES, DOCUMENTS } from "../src/json/index.js";
import { FakeSlurm, queued, run, tmp } from "./helpers.js";

const SG = ["--backend", "sglang"];
const doc = (stdout: string) => JSON.parse(stdout) as Record<string, unknown>;

/** Run with --json and return the document (json-check.ts has validated it against its schema). */
async function json(argv: string[], opts: Parameters<typeof run>[1] = {}) {
  const r = await run([...argv, "--json"], opts);
  return { code: r.code, doc: doc(r.stdout), stderr: r.stderr };
}

function emit(cwd: string, jobId: string, ...events: object[]) {
  const dir = realpathSync(join(cwd, "dyn-runs", "by-job", jobId));
  appendFileSync(
    join(dir, "status.jsonl"),
    events.map((e) => `${JSON.stringify({ t: 1, ...e })}\n`).join(""),
  );
}

describe("each command's --json is its documented document", () => {
  it("plan: dyn.plan/v1, ports as numbers", async () => {
    const { doc: p } = await json(["plan", ...SG, "--http-port", "8000"]);
    expect(p).toMatchObject({ schemaVersion: 1, format: "dyn.plan/v1", ok: true, components: null });
    expect((p.frontend as { port: unknown }).port).toEqual({ kind: "fixed", port: 8000 });
    const ports = (p.processes as Array<{ ports: Record<string, unknown> }>).flatMap((x) =>
      Object.values(x.ports),
    );
    expect(ports.length).toBeGreaterThan(0);
    for (const port of ports) expect(port).toEqual(expect.objectContaining({ kind: expect.any(String) }));
  });

  it("deploy: a dry run is not_submitted, a submission submitted, --wait the job's state", async () => {
    const dry = await json(["deploy", ...SG, "--dry-run"]);
    expect(dry.doc).toMatchObject({
      format: "dyn.deploy/v1",
      ok: true,
      state: "not_submitted",
      jobId: null,
      wait: null,
    });
    const sub = await json(["deploy", ...SG], { slurm: new FakeSlurm() });
    expect(sub.doc).toMatchObject({ ok: true, state: "submitted", jobId: "4242", wait: null });

    const cwd = tmp();
    const slurm = new FakeSlurm();
    slurm.nextJobId = "7";
    slurm.onQueue = (n) => {
      if (n === 2) slurm.jobs.set("7", queued("7", "RUNNING"));
      if (n === 2)
        emit(cwd, "7", {
          event: "ready",
          url: "http://10.0.0.1:10004",
          registered: "prefill=1/1 backend=1/1",
        });
    };
    const ready = await json(["deploy", ...SG, "--wait"], { cwd, slurm });
    expect(ready.code).toBe(0);
    expect(ready.doc).toMatchObject({
      ok: true,
      state: "ready",
      wait: { outcome: "ready", url: "http://10.0.0.1:10004" },
    });

    const failing = new FakeSlurm();
    failing.onQueue = (n) => {
      if (n === 2) failing.jobs.delete("4242");
    };
    const gone = await json(["deploy", ...SG, "--wait"], { slurm: failing });
    expect(gone.code).toBe(1);
    expect(gone.doc).toMatchObject({ ok: false, wait: { outcome: "failed" } });
  });

  it("status, list and stop: one state vocabulary, SLURM's words in slurmState", async () => {
    const cwd = tmp();
    const slurm = new FakeSlurm();
    for (const id of ["11", "12"]) {
      slurm.nextJobId = id;
      expect((await run(["deploy", ...SG], { cwd, slurm })).code).toBe(0);
    }
    await run(["deploy", ...SG, "--dry-run"], { cwd });
    emit(cwd, "11", { event: "ready", url: "http://10.0.0.1:10004", registered: "prefill=1/1 backend=1/1" });
    slurm.jobs.set("11", queued("11", "RUNNING"));
    const status = await json(["status", "--timeline"], { cwd, slurm });
    expect(status.doc).toMatchObject({ format: "dyn.status/v1", ok: true });
    const states = (
      status.doc.deployments as Array<{ state: string; queue: { slurmState: string } | null }>
    ).map((d) => [d.state, d.queue?.slurmState ?? null]);
    expect(states.sort()).toEqual([
      ["not_submitted", null],
      ["queued", "PENDING"],
      ["ready", "RUNNING"],
    ]);
    const list = await json(["list"], { cwd, slurm });
    expect((list.doc.deployments as Array<{ state: string }>).map((d) => d.state).sort()).toEqual([
      "not_submitted",
      "queued",
      "ready",
    ]);
    const stop = await json(["stop", "12"], { cwd, slurm });
    expect(stop.doc).toMatchObject({ format: "dyn.stop/v1", ok: true, cancelled: true, state: "cancelled" });
    const again = await json(["stop", "12"], { cwd, slurm });
    // not in the queue any more: nothing cancelled, how it ended from sacct
    expect(again.doc).toMatchObject({
      cancelled: false,
      state: "cancelled",
      slurmState: "CANCELLED",
      seconds: null,
    });
    const unknown = await json(["status", "999"], { cwd, slurm });
    expect(unknown).toMatchObject({ code: 1, doc: { ok: false } });
  });

  it("doctor: each check has a state", async () => {
    const { code, doc: d } = await json(["doctor"], { slurm: new FakeSlurm() });
    expect(code).toBe(1);
    expect(d).toMatchObject({ format: "dyn.doctor/v1", ok: false });
    for (const c of d.checks as Array<Record<string, unknown>>) {
      expect(c).toHaveProperty("state");
      expect(c).not.toHaveProperty("status");
    }
  });

  it("backends, backends show, backends new", async () => {
    expect((await json(["backends"])).doc).toMatchObject({ format: "dyn.backends/v1", ok: true });
    const show = await json(["backends", "show", "vllm"]);
    expect(show.doc).toMatchObject({ format: "dyn.backends-show/v1", ok: true, name: "vllm" });
    const cwd = tmp();
    const made = await json(["backends", "new", "x"], { cwd });
    expect(made.doc).toMatchObject({ format: "dyn.backends-new/v1", ok: true, package: "dyn-backend-x" });
  });

  it("errors: one dyn.error/v1 document for every command, exit code unchanged", async () => {
    const usage = await json(["plan", ...SG, "--nodes", "x"]);
    expect(usage).toMatchObject({
      code: 2,
      doc: { format: "dyn.error/v1", ok: false, error: { code: "DYN_USAGE" } },
    });
    const commander = await json(["status", "--no-such-flag"]);
    expect(commander).toMatchObject({
      code: 2,
      doc: { error: { code: "DYN_USAGE", hint: null, problems: null } },
    });
    const spec = await json(["plan", ...SG, "--nodes", "0", "--gpus-per-node", "0"]);
    expect(spec.code).toBe(2);
    expect(spec.doc).toMatchObject({ format: "dyn.error/v1", error: { code: "DYN_SPEC_INVALID" } });
    const failed = new FakeSlurm();
    failed.submitError = Object.assign(new Error("sbatch: error: Batch job submission failed"), {});
    const internal = await json(["deploy", ...SG], { slurm: failed });
    expect(internal.code).toBe(1);
    expect(internal.doc).toMatchObject({ format: "dyn.error/v1", ok: false });
  });
});

describe("the schemas are strict", () => {
  it("an unknown field, an old name or a port as a string fails", async () => {
    const { doc: p } = await json(["plan", ...SG]);
    const plan = await DOCUMENTS.plan();
    expect(plan.safeParse(p).success).toBe(true);
    expect(plan.safeParse({ ...p, extra: 1 }).success).toBe(false);
    expect(plan.safeParse({ ...p, frontend: { node: 0, port: "+4" } }).success).toBe(false);
    const { doc: d } = await json(["doctor"], { slurm: new FakeSlurm() });
    const checks = (d.checks as Array<{ state: string }>).map(({ state, ...c }) => ({ ...c, status: state }));
    expect((await DOCUMENTS.doctor()).safeParse({ ...d, checks }).success).toBe(false);
    const error = await DOCUMENTS.error();
    expect(
      error.safeParse({ ok: false, error: { code: "DYN_USAGE", message: "m", hint: null } }).success,
    ).toBe(false);
  });
});

describe("dyn schema", () => {
  it("prints each document's JSON Schema: strict objects with the envelope", async () => {
    for (const name of DOCUMENT_NAMES) {
      const r = await run(["schema", ...name.split("-")]);
      expect(r.code, r.stderr).toBe(0);
      const s = JSON.parse(r.stdout);
      expect(s.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
      expect(s.additionalProperties).toBe(false);
      expect(s.required).toEqual(expect.arrayContaining(["schemaVersion", "format", "ok"]));
      expect(s.properties.format.const).toBe(`dyn.${name}/v1`);
    }
    const all = JSON.parse((await run(["schema"])).stdout);
    expect(Object.keys(all)).toEqual(DOCUMENT_NAMES);
    expect(all["backends-show"]).toEqual(JSON.parse((await run(["schema", "backends-show"])).stdout));
  });

  it("an unknown name is bad input naming the known ones", async () => {
    const r = await run(["schema", "nope"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `error: <command>: no --json document named "nope" (DYN_USAGE)\nhint: one of: ${DOCUMENT_NAMES.join(", ")}\n`,
    );
    expect(r.stdout).toBe("");
  });
});

describe("docs/cli.md (JSON output) documents every field", () => {
  it("each document's top-level fields are named in its section", async () => {
    const text = readFileSync(join(import.meta.dirname, "../../../docs/cli.md"), "utf8");
    const start = text.indexOf("\n## JSON output");
    const section = text.slice(start, text.indexOf("\n## ", start + 1));
    for (const name of DOCUMENT_NAMES) {
      expect(section, name).toContain(`\`dyn.${name}/v1\``);
      const shape = (await DOCUMENTS[name]()).shape as Record<string, unknown>;
      const missing = Object.keys(shape).filter(
        (k) => !section.includes(`\`${k}\``) && !section.includes(`\`${k}[]\``),
      );
      expect(missing, `dyn.${name}/v1`).toEqual([]);
    }
  });
});
