/**
 * The port window at run time (issue #13 item 1) and stale leftovers (item 7), with the whole
 * rendered script under bash (helpers/harness.ts): the stub nodes all live on this machine, so a
 * real listener here is "in use on every node", and /proc/net/tcp is really read.
 *  - the job-scoped window is claimed with a lock per node, and given back at exit;
 *  - a port in use, or a running job's lock, moves the job to the next window (named in the status);
 *  - a dead job's lock and scratch are removed first; nothing is removed when squeue cannot say;
 *  - no free window, or a pinned port in use, fails node setup naming the port and the node.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { renderScript } from "../src/index.js";
import { planForTest, type TestSpec } from "../src/testing.js";
import { perNode } from "./fixtures/backends.js";
import { JOB_ID, ScriptRun, type StartOptions } from "./helpers/harness.js";

const SLOT = 16;
const SLOTS = 227;
const WINDOW = JOB_ID % SLOTS; // the job-scoped window: 156

const runs: ScriptRun[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) r.dispose();
  await Promise.all(servers.splice(0).map((s) => new Promise((done) => s.close(done))));
});

/** A real listener on a free port of this machine (the OS picks it). */
async function listen(port = 0): Promise<number> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(port, "0.0.0.0", () => ok());
  });
  return (server.address() as { port: number }).port;
}

/** ports.base that puts the job-scoped window's first port at `first`. */
const baseFor = (first: number) => first - WINDOW * SLOT;

function start(spec: TestSpec, options: Partial<StartOptions> = {}) {
  const input: TestSpec = {
    model: { path: "m" },
    roles: { prefill: { workers: 1 }, decode: { workers: 1 } },
    ...spec,
  };
  const plan = planForTest(perNode, input);
  const run = new ScriptRun();
  runs.push(run);
  run.start(renderScript(plan, { runDir: run.runDir }), { nodes: plan.nodes, ...options });
  return { run, plan };
}

const lockOf = (run: ScriptRun, node: string, window: number) => join(run.locks, node, `window-${window}`);

describe("the port window at run time", () => {
  it("claims the job-scoped window on every node, records it, and gives the locks back at exit", async () => {
    const first = await listen(); // a free port: its neighbours are very likely free too
    servers.pop()?.close();
    const { run, plan } = start({ ports: { base: baseFor(first), slot: SLOT, slots: SLOTS } });
    const ports = await run.untilEvent("ports");
    expect(ports).toMatchObject({ window: WINDOW, base: first, preferred: WINDOW });
    expect(ports.end).toBeGreaterThanOrEqual(first);
    await run.untilEvent("ready");
    expect(run.events().some((e) => e.event === "port-window-taken")).toBe(false);
    for (let k = 0; k < plan.nodes; k++) {
      const owner = readFileSync(join(lockOf(run, `node${k}`, WINDOW), "owner"), "utf8");
      expect(owner).toMatch(new RegExp(`^${JOB_ID} dyn-${JOB_ID}-\\d+\\n$`));
    }
    // Every process got a port of that window.
    const etcd = run.argv("etcd")?.join(" ") ?? "";
    expect(etcd).toContain(`:${first}`);
    run.signal("SIGTERM");
    await run.waitExit();
    // A cancelled job cannot start a release step: the batch host's own lock goes at once, the
    // others are stale for the next job (SLURM no longer runs this one).
    expect(existsSync(lockOf(run, "node0", WINDOW))).toBe(false);
  });

  it("gives every node's lock back when the job fails (the release step can still run)", async () => {
    const first = await listen();
    servers.pop()?.close();
    const { run, plan } = start(
      { ports: { base: baseFor(first), slot: SLOT, slots: SLOTS } },
      { failStep: "decode-w0" },
    );
    await run.untilEvent("ready");
    expect(existsSync(lockOf(run, `node${plan.nodes - 1}`, WINDOW))).toBe(true);
    expect((await run.waitExit()).code).toBe(1);
    for (let k = 0; k < plan.nodes; k++) expect(existsSync(lockOf(run, `node${k}`, WINDOW))).toBe(false);
  });

  it("moves to the next window when a port of it is in use, and says so", async () => {
    const first = await listen(); // something else listens on the window's first port
    const { run } = start({ ports: { base: baseFor(first), slot: SLOT, slots: SLOTS } });
    const taken = await run.untilEvent("port-window-taken");
    expect(taken).toMatchObject({ window: WINDOW });
    expect(String(taken.nodes)).toContain(`node0 (port ${first} in use)`);
    const ports = await run.untilEvent("ports");
    expect(ports).toMatchObject({ window: WINDOW + 1, base: first + SLOT, preferred: WINDOW });
    await run.untilEvent("ready");
    expect(run.argv("etcd")?.join(" ")).toContain(`:${first + SLOT}`);
    // The busy window's lock was given back on every node.
    expect(existsSync(lockOf(run, "node1", WINDOW))).toBe(false);
  });

  it("skips a window a running job holds, and takes over a dead job's lock", async () => {
    const first = await listen();
    servers.pop()?.close();
    const spec = { ports: { base: baseFor(first), slot: SLOT, slots: SLOTS } };
    const hold = (run: ScriptRun) => {
      mkdirSync(lockOf(run, "node1", WINDOW), { recursive: true });
      writeFileSync(join(lockOf(run, "node1", WINDOW), "owner"), "999 dyn-999-1\n");
    };

    const live = new ScriptRun();
    runs.push(live);
    hold(live);
    const plan = planForTest(perNode, { model: { path: "m" }, ...spec });
    live.start(renderScript(plan, { runDir: live.runDir }), {
      nodes: plan.nodes,
      env: { STUB_LIVE: `${JOB_ID} 999` },
    });
    const taken = await live.untilEvent("port-window-taken");
    expect(String(taken.nodes)).toBe("node1 (held by job 999)");
    expect(await live.untilEvent("ports")).toMatchObject({ window: WINDOW + 1 });
    expect(readFileSync(join(lockOf(live, "node1", WINDOW), "owner"), "utf8")).toBe("999 dyn-999-1\n");

    const dead = new ScriptRun();
    runs.push(dead);
    hold(dead);
    dead.start(renderScript(plan, { runDir: dead.runDir }), {
      nodes: plan.nodes,
      env: { STUB_LIVE: String(JOB_ID) },
    });
    expect(await dead.untilEvent("ports")).toMatchObject({ window: WINDOW });
    expect(readFileSync(join(lockOf(dead, "node1", WINDOW), "owner"), "utf8")).toMatch(
      new RegExp(`^${JOB_ID} `),
    );
  });

  it("fails node setup when no window is free, naming each window's nodes and ports", async () => {
    // Two windows, both with their first port in use.
    const a = await listen();
    const base = a - (JOB_ID % 2) * SLOT;
    const other = JOB_ID % 2 === 0 ? a + SLOT : a - SLOT;
    await listen(other);
    const { run } = start({ ports: { base, slot: SLOT, slots: 2 } });
    const failed = await run.untilEvent("failed");
    expect(failed.component).toBe("node-setup");
    expect(String(failed.message)).toMatch(
      /^no free port window after 2 tries \(window \d: node0 \(port \d+ in use\)/,
    );
    expect(String(failed.message)).toContain("raise ports.slots");
    const exit = await run.waitExit();
    expect(exit.code).toBe(1);
    expect(run.events().some((e) => e.event === "started")).toBe(false);
  });

  it("fails at once when a pinned port is in use, naming the port and the node", async () => {
    const pinned = await listen();
    const { run } = start({
      roles: { frontend: { httpPort: pinned }, prefill: { workers: 1 }, decode: { workers: 1 } },
      ports: { base: 10000, slot: SLOT, slots: SLOTS },
    });
    const failed = await run.untilEvent("failed");
    expect(failed).toMatchObject({
      component: "node-setup",
      message: `port ${pinned} (pinned in the spec) is in use on node0`,
    });
  });
});

it("etcd's and NATS's identities are asked in one python3, each at its own port", async () => {
  const { run } = start({});
  await run.untilEvent("ready");
  const ask = (run.recorded("identity.argv") ?? "").split("\0").slice(0, -1);
  expect(ask).toHaveLength(4);
  expect(ask[0]).toBe("etcd");
  expect(ask[1]).toMatch(/^http:\/\/10\.9\.0\.1:\d+$/);
  expect(ask[2]).toBe("nats");
  expect(ask[3]).toMatch(/^http:\/\/10\.9\.0\.1:\d+$/);
  expect(ask[1]).not.toBe(ask[3]);
  const infraUp = run.events().find((e) => e.event === "infra-up");
  expect(String(infraUp?.etcd)).toBe(ask[1]);
});

it("a stranger that takes the etcd port after the check fails the job as etcd, before any worker", async () => {
  const { run } = start({}, { env: { STUB_IDENTITY: "(not etcd: HTTP 501)" } });
  const failed = await run.untilEvent("failed");
  expect(failed.component).toBe("etcd");
  expect(String(failed.message)).toMatch(
    /^the etcd at 10\.9\.0\.1:\d+ is not this job's \(it says \(not etcd: HTTP 501\); expected dyn-4242-\d+\)/,
  );
  const started = run
    .events()
    .filter((e) => e.event === "started")
    .map((e) => e.step);
  expect(started.every((s) => s === "etcd" || s === "nats")).toBe(true);
});

describe("what dead dyn jobs left on the nodes", () => {
  const scratchOf = (run: ScriptRun, job: number) => join(run.scratch, `dyn-${job}-12345`);
  const leave = (run: ScriptRun, job: number) => {
    mkdirSync(scratchOf(run, job), { recursive: true });
    writeFileSync(join(scratchOf(run, job), "member"), "stale etcd data");
    mkdirSync(lockOf(run, "node1", 7), { recursive: true });
    writeFileSync(join(lockOf(run, "node1", 7), "owner"), `${job} dyn-${job}-1\n`);
  };
  const cases: Array<[string, string, boolean]> = [
    ["a job SLURM no longer runs: removed", String(JOB_ID), false],
    ["a running job: kept", `${JOB_ID} 999`, true],
    ["squeue cannot say: kept", "fail", true],
  ];
  it.each(cases)("scratch and locks of %s", async (_what, live, kept) => {
    const run = new ScriptRun();
    runs.push(run);
    leave(run, 999);
    const plan = planForTest(perNode, { model: { path: "m" } });
    run.start(renderScript(plan, { runDir: run.runDir }), { nodes: plan.nodes, env: { STUB_LIVE: live } });
    await run.untilEvent("ready");
    expect(existsSync(scratchOf(run, 999))).toBe(kept);
    expect(existsSync(lockOf(run, "node1", 7))).toBe(kept);
    // This run's own scratch is never touched.
    expect(readdirSync(run.scratch).some((d) => d.startsWith(`dyn-${JOB_ID}-`))).toBe(true);
  });
});
