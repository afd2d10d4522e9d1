/** Time to ready, phase by phase, from the status file's events. */
import { describe, expect, it } from "vitest";
import { computeTimeline, PHASES, type StatusEvent } from "../src/index.js";

const T = 1_000_000;
const ev = (dt: number, event: string, fields: Record<string, unknown> = {}): StatusEvent => ({
  t: T + dt,
  event,
  ...fields,
});
const steps = [
  { id: "etcd", role: "etcd", nodes: [0] },
  { id: "nats", role: "nats", nodes: [0] },
  { id: "frontend-0", role: "frontend", nodes: [0] },
  { id: "prefill-w0", role: "prefill", nodes: [0], registers: "prefill" },
  { id: "decode-w0", role: "decode", nodes: [1], registers: "backend" },
];
const healthy: StatusEvent[] = [
  ev(0, "job-started", { job: "7", attempt: 1 }),
  ev(0.3, "ports", { window: 1, base: 20010, end: 20019, preferred: 1 }),
  ev(0.3, "node", { index: 0, name: "node1", ip: "10.0.0.1" }),
  ev(0.3, "node", { index: 1, name: "node2", ip: "10.0.0.2" }),
  ev(2.3, "container-ready"),
  ev(2.5, "preflight-ok"),
  ev(2.51, "started", { step: "etcd" }),
  ev(2.52, "started", { step: "nats" }),
  ev(2.8, "infra-up"),
  ev(2.81, "started", { step: "frontend-0" }),
  ev(2.82, "started", { step: "prefill-w0" }),
  ev(2.83, "started", { step: "decode-w0" }),
  ev(3.0, "progress", { registered: "backend=0/1 prefill=0/1" }),
  ev(3.5, "progress", { registered: "backend=0/1 prefill=1/1" }),
  ev(4.4, "smoke", { tokens: 8, ttft_ms: 30, model: "m" }),
  ev(4.41, "ready", { url: "http://10.0.0.1:20014", registered: "backend=1/1 prefill=1/1" }),
];

describe("computeTimeline", () => {
  it("every phase of a healthy containerised job, in order, with the queue wait from SLURM", () => {
    const tl = computeTimeline({
      events: healthy,
      steps,
      queue: { submit: T - 5, start: T - 0.5, source: "sacct" },
      registeredAt: T + 4.2,
    });
    expect(tl?.phases.map((p) => [p.id, p.seconds])).toEqual([
      ["queue", 4.5],
      ["batch-start", 0.5],
      ["node-setup", 0.3],
      ["container", 2],
      ["preflight", 0.2],
      ["infra", 0.3],
      ["launch", 0.03],
      ["register", 1.37],
      ["smoke", 0.2],
      ["ready", 0.01],
    ]);
    expect(tl?.outcome).toBe("ready");
    expect(tl?.toReady).toBe(9.41);
    expect(tl?.queueSource).toBe("sacct");
    // prefill was complete at +3.5; backend (decode) only when instances.json was written
    expect(tl?.processes.find((p) => p.step === "decode-w0")).toMatchObject({
      role: "decode",
      node: "node2",
      launched: 2.83,
      registered: 4.2,
    });
    expect(tl?.processes.find((p) => p.step === "prefill-w0")?.registered).toBe(3.5);
    expect(tl?.slowestProcess).toEqual({ component: "backend", steps: ["decode-w0"], seconds: 1.37 });
    expect(tl?.slowestNode).toBe("node2");
    expect(tl?.phases.find((p) => p.id === "register")?.slowest).toContain("backend (decode) complete last");
    expect(tl?.phases.find((p) => p.id === "smoke")?.slowest).toBe("first token after 30 ms, 8 tokens");
  });

  it("dyn's overhead: node setup, preflight, infra, token gate and noticing READY; not queue, container, engine", () => {
    const tl = computeTimeline({ events: healthy, steps, registeredAt: T + 4.2 });
    expect(tl?.overhead.phases).toEqual({
      "node-setup": 0.3,
      preflight: 0.2,
      infra: 0.3,
      smoke: 0.2,
      ready: 0.01,
    });
    expect(tl?.overhead.seconds).toBe(1.01);
    const counted = Object.entries(PHASES)
      .filter(([, p]) => p.overhead)
      .map(([id]) => id);
    expect(counted).toEqual(["node-setup", "preflight", "infra", "smoke", "ready"]);
  });

  it("without SLURM's queue times: no queue phase, the origin is job-started; dyn's submit record gives one", () => {
    const bare = computeTimeline({ events: healthy, steps, registeredAt: T + 4.2 });
    expect(bare?.phases[0]?.id).toBe("node-setup");
    expect(bare?.queueSource).toBeNull();
    expect(bare?.toReady).toBe(4.41);
    const dyn = computeTimeline({
      events: healthy,
      steps,
      queue: { submit: T - 2, start: null, source: "dyn" },
    });
    expect(dyn?.phases.slice(0, 2).map((p) => [p.id, p.seconds])).toEqual([
      ["queue", 2],
      ["node-setup", 0.3],
    ]);
  });

  it("a job that failed in the preflight: the timeline stops there, that phase marked failed", () => {
    const events = [
      ...healthy.slice(0, 4),
      ev(1.4, "failed", { component: "preflight", message: "node2: cannot reach etcd" }),
    ];
    const tl = computeTimeline({ events, steps });
    expect(tl?.phases.map((p) => [p.id, p.seconds, p.failed])).toEqual([
      ["node-setup", 0.3, false],
      ["preflight", 1.1, true],
    ]);
    expect(tl?.outcome).toBe("failed");
    expect(tl?.toReady).toBeNull();
    expect(tl?.overhead.phases).toEqual({ "node-setup": 0.3 });
  });

  it("a readiness timeout: the register phase failed; without instances.json registration is from the events", () => {
    const events = [
      ...healthy.slice(0, 14),
      ev(600, "failed", { component: "readiness", message: "not ready" }),
    ];
    const tl = computeTimeline({ events, steps });
    expect(tl?.phases.at(-1)).toMatchObject({ id: "register", failed: true });
    expect(tl?.slowestProcess?.component).toBe("prefill");
  });

  it("a requeued job: only the last attempt; none started yet: null", () => {
    const events = [
      ev(-100, "job-started", { attempt: 1 }),
      ev(-99, "failed", { component: "x", message: "" }),
      ...healthy,
    ];
    expect(computeTimeline({ events, steps })?.jobStarted).toBe(T);
    expect(computeTimeline({ events: [] })).toBeNull();
  });

  it("per-instance registrations name the slowest process and its node; order tells two workers on one node apart", () => {
    const two = [
      ...steps.slice(0, 3),
      { id: "decode-w0", role: "decode", nodes: [1], registers: "backend" },
      { id: "decode-w1", role: "decode", nodes: [1], registers: "backend" },
      { id: "decode-w2", role: "decode", nodes: [0], registers: "backend" },
      // a 2-node worker's second rank does not register
      { id: "decode-w3-r1", role: "decode", nodes: [0] },
    ];
    const events = [
      ...healthy.slice(0, 11),
      ev(2.83, "started", { step: "decode-w0" }),
      ev(2.84, "started", { step: "decode-w1" }),
      ev(2.85, "started", { step: "decode-w2" }),
      ev(2.86, "started", { step: "decode-w3-r1" }),
      ev(4.41, "ready", { url: "u", registered: "backend=3/3" }),
    ];
    const registrations = [
      { component: "backend", instance: "b", host: "10.0.0.2", t: T + 6.0 },
      { component: "backend", instance: "a", host: "10.0.0.2", t: T + 3.5 },
      { component: "backend", instance: "c", host: "10.0.0.1", t: T + 4.0 },
      // an address no node has: matched to nothing
      { component: "backend", instance: "z", host: "10.9.9.9", t: T + 3.0 },
    ];
    const tl = computeTimeline({ events, steps: two, registrations, registeredAt: T + 6.1 });
    const p = (id: string) => tl?.processes.find((x) => x.step === id);
    expect(p("decode-w0")).toMatchObject({ registered: 3.5, source: "instance", instance: "a" });
    expect(p("decode-w1")).toMatchObject({ registered: 6, source: "instance", instance: "b" });
    expect(p("decode-w2")).toMatchObject({ registered: 4, source: "instance", instance: "c" });
    // the non-registering rank falls back to nothing of its own: no component either
    expect(p("decode-w3-r1")).toMatchObject({ registered: null, source: null, instance: null });
    expect(tl?.slowestProcess).toEqual({ component: "backend", steps: ["decode-w1"], seconds: 3.16 });
    expect(tl?.slowestNode).toBe("node2");
  });

  it("node setup per node: the node that finished last is named in the phase and in slowestSetup", () => {
    const events = healthy.map((e) =>
      e.event === "node"
        ? { ...e, setup_start: T + 0.05 + Number(e.index) * 0.1, setup_end: T + 0.2 + Number(e.index) * 0.08 }
        : e,
    );
    const tl = computeTimeline({ events, steps });
    expect(tl?.nodes).toEqual([
      { index: 0, name: "node1", setupStart: 0.05, setupEnd: 0.2 },
      { index: 1, name: "node2", setupStart: 0.15, setupEnd: 0.28 },
    ]);
    expect(tl?.slowestSetup).toEqual({ node: "node2", seconds: 0.28 });
    expect(tl?.phases.find((x) => x.id === "node-setup")?.slowest).toBe(
      "node2 done last: began +0.15 s, took 0.13 s",
    );
    // events without the fields (older scripts): nulls, nothing named
    const old = computeTimeline({ events: healthy, steps });
    expect(old?.nodes.every((n) => n.setupStart === null && n.setupEnd === null)).toBe(true);
    expect(old?.slowestSetup).toBeNull();
    expect(old?.phases.find((x) => x.id === "node-setup")?.slowest).toBeNull();
  });
});
