// How a job ended (#13 item 6): SLURM's own word first (sacct, then squeue --states=all for jobs
// slurmctld still remembers), the job's status file only where SLURM has none; a job SLURM ended from
// outside is never a component failure; after the end the URL and the counts are history.
import { appendFileSync, existsSync, readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { type StatusSummary, summarizeStatus } from "@dyn/core";
import { describe, expect, it } from "vitest";
import { combine, END_REASONS, endOf, endSentence, endText } from "../src/observe.js";
import {
  type AccountingEntry,
  createSlurm,
  exitCodeOfStatus,
  parseAccounting,
  parseEndedQueue,
  parsePasswd,
  type QueueEntry,
} from "../src/slurm.js";
import { FakeSlurm, queued, run, tmp } from "./helpers.js";
import { fails, says, stubBin } from "./stubs.js";

const ended = (jobId: string, state: string, exitCode?: string): QueueEntry => ({
  ...queued(jobId, state, "None"),
  ...(exitCode ? { exitCode } : {}),
});
const acct = (jobId: string, state: string, exitCode = "0:0", by?: string): AccountingEntry => ({
  jobId,
  state,
  exitCode,
  ...(by ? { by } : {}),
});
const summary = (...events: object[]): StatusSummary =>
  summarizeStatus(events.map((e, i) => ({ t: i, ...e }) as { t: number; event: string }));
const READY = { event: "ready", url: "http://10.77.0.11:8000", registered: "prefill=1/1 backend=1/1" };
/** What a step that exited on the cancel signal used to leave: a "failed" that is not the cause. */
const RACED = { event: "failed", component: "prefill-w62", message: "exited with code 0" };
const target = { jobId: "7", deployment: undefined };

describe("parsing SLURM's answers", () => {
  it("squeue --states=all -O …: state, reason, a name with '|', the raw wait status as code:signal", () => {
    const q = parseEndedQueue(
      [
        "3|FAILED|NonZeroExitCode|node1|a job|with a bar|0:00|1024|",
        "4|CANCELLED|None|node[1-2]|wrap|0:01|15|",
        "5|TIMEOUT|TimeLimit|node2|dynamo|1:02|0|",
        "6|RUNNING|None|node3|dynamo|0:05|0|",
        "",
      ].join("\n"),
    );
    expect(q.get("3")).toEqual({
      jobId: "3",
      state: "FAILED",
      reason: "NonZeroExitCode",
      nodes: "node1",
      name: "a job|with a bar",
      time: "0:00",
      exitCode: "4:0",
    });
    expect(q.get("4")).toMatchObject({ state: "CANCELLED", nodes: "node[1-2]", exitCode: "0:15" });
    expect(q.get("5")).toMatchObject({
      state: "TIMEOUT",
      reason: "TimeLimit",
      time: "1:02",
      exitCode: "0:0",
    });
    expect(q.get("6")?.state).toBe("RUNNING");
    expect(q.size).toBe(4);
  });
  it("exit codes: a wait status is (code << 8) | signal", () => {
    expect(exitCodeOfStatus("256")).toBe("1:0");
    expect(exitCodeOfStatus("9")).toBe("0:9");
    expect(exitCodeOfStatus("0")).toBe("0:0");
    expect(exitCodeOfStatus("N/A")).toBeUndefined();
  });
  it("sacct: the first word of State, 'CANCELLED by <uid>' gives who, steps are skipped", () => {
    const a = parseAccounting(
      "8|CANCELLED by 1000|0:0\n8.batch|CANCELLED|0:15\n9|TIMEOUT|0:0\n10|FAILED|1:0\n",
    );
    expect([...a.values()]).toEqual([
      { jobId: "8", state: "CANCELLED", exitCode: "0:0", by: "1000" },
      { jobId: "9", state: "TIMEOUT", exitCode: "0:0" },
      { jobId: "10", state: "FAILED", exitCode: "1:0" },
    ]);
  });
  it("getent passwd: uid → name", () => {
    const p = parsePasswd("root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n");
    expect(Object.fromEntries(p)).toEqual({ "0": "root", "1000": "alice" });
  });
});

describe("endOf / combine: how a job ended", () => {
  it("scancel: sacct's CANCELLED by whom; a raced step 'failure' is not reported", () => {
    const o = combine(
      target,
      ended("7", "CANCELLED", "0:15"),
      acct("7", "CANCELLED", "0:0", "alice"),
      summary(READY, RACED),
    );
    expect(o).toMatchObject({ state: "cancelled", live: false, failed: null, url: null, lastUrl: READY.url });
    expect(o.end).toEqual({
      slurmState: "CANCELLED",
      by: "alice",
      exitCode: "0:0",
      component: null,
      message: null,
      source: "sacct",
    });
    expect(endText(o.end as NonNullable<typeof o.end>)).toBe("cancelled by alice");
  });
  it("a component that failed: FAILED with SLURM's exit code and the component from the status file", () => {
    const failed = {
      event: "failed",
      component: "decode-w0",
      message: "exited with code 3 (log: logs/decode-w0.log)",
    };
    const o = combine(target, undefined, acct("7", "FAILED", "1:0"), summary(READY, failed));
    expect(o.state).toBe("failed");
    expect(o.failed).toEqual({ component: "decode-w0", message: failed.message });
    expect(o.end).toMatchObject({
      slurmState: "FAILED",
      exitCode: "1:0",
      component: "decode-w0",
      source: "sacct",
    });
    expect(endSentence(o.end as NonNullable<typeof o.end>)).toBe(
      "FAILED: failed: decode-w0: exited with code 3 (log: logs/decode-w0.log) (exit code 1:0; sacct)",
    );
  });
  it("OUT_OF_MEMORY names the component; NODE_FAIL, PREEMPTED, TIMEOUT do not", () => {
    const s = summary(READY, { event: "failed", component: "decode-w0", message: "exited with code 137" });
    expect(combine(target, undefined, acct("7", "OUT_OF_MEMORY", "0:125"), s)).toMatchObject({
      state: "out_of_memory",
      failed: { component: "decode-w0" },
      end: { slurmState: "OUT_OF_MEMORY", component: "decode-w0" },
    });
    for (const reason of ["NODE_FAIL", "PREEMPTED", "TIMEOUT", "CANCELLED", "DEADLINE", "BOOT_FAIL"])
      expect(combine(target, undefined, acct("7", reason), s)).toMatchObject({
        state: END_REASONS[reason]?.state,
        failed: null,
        end: { slurmState: reason, component: null },
      });
  });
  it("without accounting: squeue's final state (slurmctld's memory) and its exit code", () => {
    const o = combine(
      target,
      ended("7", "TIMEOUT", "0:15"),
      undefined,
      summary(READY, { event: "stopped", signal: "TERM" }),
    );
    expect(o).toMatchObject({ state: "timeout", live: false, url: null, lastUrl: READY.url });
    expect(o.end).toMatchObject({ slurmState: "TIMEOUT", exitCode: "0:15", by: null, source: "squeue" });
  });
  it("sacct lagging behind (still RUNNING) does not hide squeue's final state", () => {
    expect(endOf(ended("7", "TIMEOUT", "0:0"), acct("7", "RUNNING"), null)).toMatchObject({
      slurmState: "TIMEOUT",
      source: "squeue",
    });
  });
  it("forgotten by slurmctld and no accounting: the status file's reason, or FAILED with the component", () => {
    const timedOut = summary(
      READY,
      { event: "stopped", signal: "TERM" },
      { event: "ended", reason: "TIMEOUT" },
    );
    expect(combine(target, undefined, undefined, timedOut)).toMatchObject({
      state: "timeout",
      end: { slurmState: "TIMEOUT", source: "status-file", exitCode: null },
    });
    const cancelled = summary(
      READY,
      RACED,
      { event: "stopped", signal: "TERM" },
      { event: "ended", reason: "CANCELLED" },
    );
    expect(combine(target, undefined, undefined, cancelled)).toMatchObject({
      state: "cancelled",
      failed: null,
    });
    const failed = summary({ event: "failed", component: "etcd", message: "port 2379 in use" });
    expect(combine(target, undefined, undefined, failed)).toMatchObject({
      state: "failed",
      failed: { component: "etcd" },
      end: { slurmState: "FAILED", component: "etcd", source: "status-file" },
    });
    // a signal and no word on why: stopped, reason unknown
    expect(
      combine(target, undefined, undefined, summary(READY, { event: "stopped", signal: "TERM" })),
    ).toMatchObject({
      state: "stopped",
      end: { slurmState: "UNKNOWN", source: "status-file" },
    });
  });
  it("nothing known anywhere: unknown, no end", () => {
    expect(combine(target, undefined, undefined, null)).toMatchObject({
      state: "unknown",
      end: null,
      live: false,
    });
  });
  it("while the job runs: no end, the URL is live; a failing component shows at once", () => {
    expect(combine(target, queued("7", "RUNNING"), undefined, summary(READY))).toMatchObject({
      state: "ready",
      live: true,
      url: READY.url,
      end: null,
    });
    const failing = summary(READY, {
      event: "failed",
      component: "decode-w0",
      message: "exited with code 3",
    });
    expect(combine(target, queued("7", "RUNNING"), undefined, failing)).toMatchObject({
      state: "failed",
      live: true,
      failed: { component: "decode-w0" },
      end: null,
    });
  });
});

describe("createSlurm: sacct and the name service, real processes", () => {
  it("one sacct call; 'CANCELLED by <uid>' becomes the user's name (unknown uids stay numbers)", async () => {
    const log = join(tmp(), "calls");
    const bin = stubBin({
      sacct: `echo "sacct $*" >> ${log}\n${says("8|CANCELLED by 1000|0:0\n8.batch|CANCELLED|0:15\n9|CANCELLED by 4242|0:0\n10|TIMEOUT|0:0")}`,
      // getent exits 2 when some key is unknown, and prints the others
      getent: `echo "getent $*" >> ${log}\n${says("alice:x:1000:1000::/home/alice:/bin/sh", 2)}`,
    });
    const a = await createSlurm({ PATH: bin }).accounting(["8", "9", "10"]);
    expect(a.get("8")).toEqual({ jobId: "8", state: "CANCELLED", exitCode: "0:0", by: "alice" });
    expect(a.get("9")?.by).toBe("uid 4242");
    expect(a.get("10")).toEqual({ jobId: "10", state: "TIMEOUT", exitCode: "0:0" });
    expect(readFileSync(log, "utf8")).toBe(
      "sacct -n -X -P -j 8,9,10 -o JobID,State,ExitCode\ngetent passwd 1000 4242\n",
    );
  });
  it("a cluster without accounting: sacct fails, nothing is known, and it is not asked again", async () => {
    const log = join(tmp(), "calls");
    const bin = stubBin({ sacct: `echo sacct >> ${log}\n${fails("Slurm accounting storage is disabled")}` });
    const slurm = createSlurm({ PATH: bin });
    expect((await slurm.accounting(["8"])).size).toBe(0);
    expect((await slurm.accounting(["9"])).size).toBe(0);
    expect(readFileSync(log, "utf8")).toBe("sacct\n");
  });
  it("no sacct at all: nothing is known", async () => {
    expect((await createSlurm({ PATH: stubBin({}) }).accounting(["8"])).size).toBe(0);
  });
  it("squeue --states=all for the jobs slurmctld still remembers", async () => {
    const log = join(tmp(), "calls");
    const bin = stubBin({
      squeue: `echo "$*" >> ${log}\n${says("5|TIMEOUT|TimeLimit|node2|dynamo|1:02|0|")}`,
    });
    const q = await createSlurm({ PATH: bin }).queue(["5", "6"], { ended: true });
    expect(q.get("5")).toMatchObject({ state: "TIMEOUT", exitCode: "0:0" });
    expect(readFileSync(log, "utf8")).toBe(
      "-h --states=all -j 5,6 -O JobID:|,State:|,Reason:|,NodeList:|,Name:|,TimeUsed:|,exit_code:|\n",
    );
  });
});

/** dyn deploy with the fake, then status events in the run directory. */
async function deployed(cwd: string, slurm: FakeSlurm, jobId: string, ...events: object[]) {
  slurm.nextJobId = jobId;
  expect((await run(["deploy", "--backend", "sglang"], { cwd, slurm })).code).toBe(0);
  const dir = realpathSync(join(cwd, "dyn-runs", "by-job", jobId));
  if (events.length > 0)
    appendFileSync(
      join(dir, "status.jsonl"),
      events.map((e) => `${JSON.stringify({ t: 1, ...e })}\n`).join(""),
    );
  expect(existsSync(dir)).toBe(true);
  return dir;
}

describe("dyn status / list / deploy --wait after the end", () => {
  it("status: cancelled by whom, timeout, failed with the component; the URL and counts marked history", async () => {
    const cwd = tmp();
    const slurm = new FakeSlurm();
    await deployed(cwd, slurm, "21", READY);
    await deployed(
      cwd,
      slurm,
      "22",
      READY,
      { event: "stopped", signal: "TERM" },
      { event: "ended", reason: "TIMEOUT" },
    );
    await deployed(cwd, slurm, "23", READY, {
      event: "failed",
      component: "decode-w0",
      message: "exited with code 3",
    });
    await deployed(cwd, slurm, "24", READY);
    for (const id of ["21", "22", "23"]) slurm.jobs.delete(id);
    slurm.jobs.set("24", queued("24", "RUNNING"));
    slurm.acct.set("21", acct("21", "CANCELLED", "0:0", "alice"));
    slurm.ended.set("22", ended("22", "TIMEOUT", "0:15")); // no accounting for 22: slurmctld's memory
    slurm.acct.set("23", acct("23", "FAILED", "1:0"));
    slurm.calls = [];
    const j = await run(["status", "--json"], { cwd, slurm });
    expect(slurm.calls.map((c) => c.cmd)).toEqual(["squeue", "sacct"]);
    expect((slurm.calls[1]?.args as string[] | undefined)?.toSorted()).toEqual(["21", "22", "23"]);
    const by = Object.fromEntries(
      JSON.parse(j.stdout).deployments.map((d: { jobId: string }) => [d.jobId, d]),
    ) as Record<string, Record<string, unknown>>;
    expect(by["21"]).toMatchObject({
      state: "cancelled",
      live: false,
      url: null,
      lastUrl: READY.url,
      failed: null,
      end: { slurmState: "CANCELLED", by: "alice", source: "sacct" },
      accounting: { slurmState: "CANCELLED", by: "alice" },
    });
    expect(by["22"]).toMatchObject({
      state: "timeout",
      end: { slurmState: "TIMEOUT", exitCode: "0:15", source: "squeue" },
    });
    expect(by["23"]).toMatchObject({
      state: "failed",
      end: { slurmState: "FAILED", exitCode: "1:0", component: "decode-w0", message: "exited with code 3" },
    });
    expect(by["24"]).toMatchObject({ state: "ready", live: true, url: READY.url, end: null });

    const t = await run(["status"], { cwd, slurm });
    const row = (id: string) => t.stdout.split("\n").find((l) => l.startsWith(`${id} `)) ?? "";
    expect(row("21")).toMatch(
      /^21 +cancelled by alice +was prefill 1\/1, decode 1\/1 +was http:\/\/10\.77\.0\.11:8000 /,
    );
    expect(row("22")).toMatch(/^22 +timeout +was prefill 1\/1, decode 1\/1 +was http:/);
    expect(row("23")).toMatch(/^23 +failed: decode-w0 +was /);
    expect(row("24")).toMatch(/^24 +ready +prefill 1\/1, decode 1\/1 +http:\/\/10\.77\.0\.11:8000 /);
    expect(t.stdout).toContain("  21: CANCELLED: cancelled by alice (exit code 0:0; sacct)\n");
    expect(t.stdout).toContain("  22: TIMEOUT: reached its time limit (exit code 0:15; squeue)\n");
    expect(t.stdout).toContain("  23: FAILED: failed: decode-w0: exited with code 3 (exit code 1:0; sacct)");
  });

  it("list: the state and how each job ended", async () => {
    const cwd = tmp();
    const slurm = new FakeSlurm();
    await deployed(cwd, slurm, "31", READY);
    await deployed(cwd, slurm, "32");
    slurm.jobs.delete("31");
    slurm.acct.set("31", acct("31", "CANCELLED", "0:0", "bob"));
    const j = await run(["list", "--json"], { cwd, slurm });
    const rows = JSON.parse(j.stdout).deployments as Array<Record<string, unknown>>;
    expect(rows.find((r) => r.jobId === "31")).toMatchObject({
      slurmState: null,
      state: "cancelled",
      end: { slurmState: "CANCELLED", by: "bob" },
    });
    expect(rows.find((r) => r.jobId === "32")).toMatchObject({
      slurmState: "PENDING",
      state: "queued",
      end: null,
    });
    const t = await run(["list"], { cwd, slurm });
    expect(t.stdout).toMatch(/\n\S+ +31 +cancelled by bob +sglang /);
  });

  it("deploy --wait: a failed component waits (bounded) for SLURM to end the job, then says how", async () => {
    const cwd = tmp();
    const slurm = new FakeSlurm();
    slurm.nextJobId = "41";
    slurm.onQueue = (n) => {
      const dir = realpathSync(join(cwd, "dyn-runs", "by-job", "41"));
      if (n === 1) {
        slurm.jobs.set("41", queued("41", "RUNNING"));
        appendFileSync(
          join(dir, "status.jsonl"),
          `${JSON.stringify({ t: 1, event: "failed", component: "decode-w0", message: "exited with code 3" })}\n`,
        );
      }
      if (n === 3) {
        slurm.jobs.delete("41");
        slurm.acct.set("41", acct("41", "FAILED", "1:0"));
      }
    };
    const r = await run(["deploy", "--backend", "sglang", "--wait", "--json"], { cwd, slurm });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "error: job 41 failed: decode-w0: exited with code 3 (exit code 1:0, sacct) (DYN_JOB_FAILED)",
    );
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, state: "failed" });
    expect(JSON.parse(r.stdout).wait).toMatchObject({
      outcome: "failed",
      end: { slurmState: "FAILED", exitCode: "1:0", component: "decode-w0" },
    });
    // the same "failure" while SLURM was cancelling the job: cancelled, no failed component
    const cwd2 = tmp();
    const slurm2 = new FakeSlurm();
    slurm2.nextJobId = "42";
    slurm2.onQueue = (n) => {
      const dir = realpathSync(join(cwd2, "dyn-runs", "by-job", "42"));
      if (n === 1) appendFileSync(join(dir, "status.jsonl"), `${JSON.stringify({ t: 1, ...RACED })}\n`);
      if (n === 2) {
        slurm2.jobs.delete("42");
        slurm2.acct.set("42", acct("42", "CANCELLED", "0:0", "root"));
      }
    };
    const c = await run(["deploy", "--backend", "sglang", "--wait", "--json"], { cwd: cwd2, slurm: slurm2 });
    expect(c.stderr).toContain(
      "error: job 42 ended before it was ready: CANCELLED: cancelled by root (exit code 0:0; sacct)",
    );
    expect(JSON.parse(c.stdout).state).toBe("cancelled");
    expect(JSON.parse(c.stdout).wait).toMatchObject({
      failed: null,
      end: { by: "root" },
    });
  });

  it("deploy --wait: a job that ends before it is ready says how (and --json wait.end)", async () => {
    const slurm = new FakeSlurm();
    slurm.onQueue = (n) => {
      if (n !== 2) return;
      slurm.jobs.delete("4242");
      slurm.ended.set("4242", ended("4242", "TIMEOUT", "0:0"));
      slurm.acct.set("4242", acct("4242", "TIMEOUT"));
    };
    const r = await run(["deploy", "--backend", "sglang", "--wait"], { slurm });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "error: job 4242 ended before it was ready: TIMEOUT: reached its time limit (exit code 0:0; sacct) (DYN_JOB_FAILED)",
    );
    const slurm2 = new FakeSlurm();
    slurm2.onQueue = (n) => {
      if (n !== 2) return;
      slurm2.jobs.delete("4242");
      slurm2.acct.set("4242", acct("4242", "CANCELLED", "0:0", "carol"));
    };
    const j = await run(["deploy", "--backend", "sglang", "--wait", "--json"], { slurm: slurm2 });
    expect(JSON.parse(j.stdout).state).toBe("cancelled");
    expect(JSON.parse(j.stdout).wait).toMatchObject({
      outcome: "failed",
      failed: null,
      end: { slurmState: "CANCELLED", by: "carol", source: "sacct" },
    });
  });
});
