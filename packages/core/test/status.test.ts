/** The status-file reducer `dyn status` and `dyn deploy --wait` share. */
import { describe, expect, it } from "vitest";
import { parseStatusLines, type StatusEvent, summarizeStatus } from "../src/index.js";

const ev = (event: string, fields: Record<string, unknown> = {}, t = 1): StatusEvent => ({
  t,
  event,
  ...fields,
});

describe("parseStatusLines", () => {
  it("keeps whole JSON events and skips blank, partial or foreign lines", () => {
    const text = [
      '{"t":1,"event":"job-started","job":"42"}',
      "",
      '{"t":2,"event":"node","index":0,"name":"n0","ip":"10.0.0.1"}',
      '{"t":3,"event":"no-close"',
      '{"t":4}',
      "not json",
      '{"t":5,"event":"ready","url":"http://x"}',
    ].join("\n");
    expect(parseStatusLines(text).map((e) => e.event)).toEqual(["job-started", "node", "ready"]);
    expect(parseStatusLines("")).toEqual([]);
  });
});

describe("summarizeStatus", () => {
  it("no events: pending", () => {
    expect(summarizeStatus([])).toMatchObject({
      state: "pending",
      url: undefined,
      infraUp: false,
      nodes: [],
      started: [],
    });
  });

  it("a deployment on its way: starting, with nodes, infra, steps and the latest counts", () => {
    const s = summarizeStatus([
      ev("job-started", { job: "42" }),
      ev("node", { index: 0, name: "n0", ip: "10.0.0.1" }),
      ev("node", { index: 1, name: "n1", ip: "10.0.0.2" }),
      ev("infra-up", { etcd: "http://10.0.0.1:10000" }),
      ev("started", { step: "etcd" }),
      ev("started", { step: "frontend-0" }),
      ev("progress", { registered: "backend=0/1" }),
      ev("progress", { registered: "backend=1/2" }),
    ]);
    expect(s).toMatchObject({
      state: "starting",
      infraUp: true,
      registered: "backend=1/2",
      started: ["etcd", "frontend-0"],
      nodes: [
        { index: 0, name: "n0", ip: "10.0.0.1" },
        { index: 1, name: "n1", ip: "10.0.0.2" },
      ],
      failed: undefined,
    });
  });

  it("a failure keeps the process's exit code when there is one", () => {
    const exited = summarizeStatus([
      ev("failed", { component: "decode-w0", message: "exited with code 3", code: 3 }),
    ]);
    expect(exited.failed).toEqual({ component: "decode-w0", message: "exited with code 3", code: 3 });
    expect(summarizeStatus([ev("failed", { component: "readiness", message: "not ready" })]).failed).toEqual({
      component: "readiness",
      message: "not ready",
    });
  });

  it("the port window the job claimed, and the one it preferred", () => {
    expect(summarizeStatus([ev("job-started")]).ports).toBeUndefined();
    const s = summarizeStatus([
      ev("job-started"),
      ev("port-window-taken", { window: 5, nodes: "n1 (port 10500 in use)" }),
      ev("ports", { window: 6, base: 10600, end: 10611, preferred: 5 }),
    ]);
    expect(s.ports).toEqual({ window: 6, base: 10600, end: 10611, preferred: 5 });
    // A requeued attempt claims its own.
    expect(summarizeStatus([...s.events, ev("job-started", { attempt: 2 })]).ports).toBeUndefined();
  });

  it("ready: the url and the final counts", () => {
    const s = summarizeStatus([
      ev("progress", { registered: "a=0/1" }),
      ev("ready", { url: "http://h:1", registered: "a=1/1" }),
    ]);
    expect(s).toMatchObject({ state: "ready", url: "http://h:1", registered: "a=1/1" });
    // A ready event without counts keeps the last progress.
    expect(
      summarizeStatus([ev("progress", { registered: "a=1/1" }), ev("ready", { url: "u" })]).registered,
    ).toBe("a=1/1");
  });

  it("failed wins over a later stopped, and names the component", () => {
    const s = summarizeStatus([
      ev("ready", { url: "u" }),
      ev("failed", { component: "decode-w0", message: "exited with code 3" }),
      ev("stopped", { signal: "TERM" }),
    ]);
    expect(s.state).toBe("failed");
    expect(s.failed).toEqual({ component: "decode-w0", message: "exited with code 3" });
  });

  it("stopped after ready (scancel, time limit)", () => {
    expect(summarizeStatus([ev("ready", { url: "u" }), ev("stopped", { signal: "TERM" })]).state).toBe(
      "stopped",
    );
  });

  it("keeps every event for callers that want the log, and ignores unknown events", () => {
    const events = [ev("job-started"), ev("container-ready"), ev("something-new", { x: 1 })];
    const s = summarizeStatus(events);
    expect(s.events).toEqual(events);
    expect(s.state).toBe("starting");
  });
});

describe("summarizeStatus: end reasons and requeued attempts", () => {
  it("an ended event carries SLURM's reason", () => {
    const s = summarizeStatus([
      ev("job-started"),
      ev("ready", { url: "http://x:1" }),
      ev("stopped", { signal: "TERM" }),
      ev("ended", { reason: "TIMEOUT" }),
    ]);
    expect(s).toMatchObject({ state: "stopped", endReason: "TIMEOUT", attempt: 1, previous: undefined });
  });
  it("a requeued attempt starts afresh and remembers how the last one ended", () => {
    const s = summarizeStatus([
      ev("job-started", { attempt: 1 }),
      ev("failed", { component: "decode-w0", message: "exited with code 1" }),
      ev("job-started", { attempt: 2 }),
      ev("started", { step: "etcd" }),
    ]);
    expect(s).toMatchObject({
      state: "starting",
      attempt: 2,
      failed: undefined,
      started: ["etcd"],
      previous: { state: "failed", failed: { component: "decode-w0" } },
    });
  });
});
