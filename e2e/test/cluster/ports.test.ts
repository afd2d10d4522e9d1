/**
 * Port windows on a shared node (#13 items 1 and 7), on the real testbed:
 *  - two jobs on node3 whose ids are congruent modulo ports.slots (forced with ports.slots: 2 and a
 *    throwaway job to align the next id): the second finds the first's lock and moves to the next
 *    window; both serve;
 *  - a stranger listening on a port of the job's window: the job moves to the next window;
 *  - every window taken: node setup fails naming the windows, before any process starts;
 *  - a job killed with `scancel --batch --signal=KILL` leaves its scratch and locks; the next dyn
 *    job on the node removes them once SLURM no longer runs it.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, expect, it } from "vitest";
import { chat, deploy, inQueue, statusEvents, stopDeployed, waitFor } from "./harness.js";

const LOCKS = "/var/tmp/dyn-ports";
const squatters: ChildProcess[] = [];

afterEach(() => {
  for (const p of squatters.splice(0)) p.kill("SIGKILL");
});
afterAll(async () => {
  expect(await stopDeployed()).toEqual([]);
});

/** A config file with a small number of port windows (so job ids collide on purpose). */
function config(slots: number, base = 20000): string {
  const dir = mkdtempSync("/tmp/dyn-e2e-ports-cfg-");
  const file = join(dir, "dyn.yaml");
  writeFileSync(file, `ports:\n  base: ${base}\n  slot: 100\n  slots: ${slots}\n`);
  return file;
}

const ONE_NODE = [
  "--backend",
  "vllm",
  "--nodes",
  "1",
  "--gpus-per-node",
  "2",
  "--aggregated-workers",
  "1",
  "--gpus-per-aggregated",
  "1",
  "--sbatch-arg",
  "--nodelist=node3",
];

/** Submit (and at once cancel) throwaway jobs until the next job id is ≡ residue (mod m). */
function alignNextJobId(m: number, residue: number): void {
  for (let i = 0; i < m; i++) {
    const id = Number(
      execFileSync("sbatch", ["--parsable", "--hold", "--job-name=dyn-e2e-id", "--wrap=true"], {
        encoding: "utf8",
      }).trim(),
    );
    execFileSync("scancel", [String(id)]);
    if ((id + 1) % m === residue) return;
  }
  throw new Error("could not align the next job id");
}

/** A process listening on `port` inside a node's network namespace, until the test ends. */
async function squat(node: string, port: number): Promise<void> {
  const p = spawn(
    "ip",
    [
      "netns",
      "exec",
      `stb-${node}`,
      "python3",
      "-c",
      `import socket,sys,time\ns=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(("0.0.0.0", ${port})); s.listen(); print("listening", flush=True)\ntime.sleep(600)`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  squatters.push(p);
  await new Promise<void>((ok, fail) => {
    p.stdout?.once("data", () => ok());
    p.once("exit", (code) => fail(new Error(`squatter on ${node}:${port} exited ${code}`)));
  });
}

const portsEvent = (runDir: string) => statusEvents(runDir).find((e) => e.event === "ports");

it("two jobs on one node with congruent ids get different windows; both serve", async () => {
  const cfg = config(2);
  const a = await deploy("ports-a", [...ONE_NODE, "--config", cfg]);
  expect(a.d.wait, a.run.stderr).toMatchObject({ outcome: "ready" });
  const wa = Number(a.d.jobId) % 2;
  expect(portsEvent(a.d.runDir)).toMatchObject({ window: wa, base: 20000 + wa * 100, preferred: wa });
  expect(existsSync(join(LOCKS, "node3", `window-${wa}`))).toBe(true);

  alignNextJobId(2, wa);
  const b = await deploy("ports-b", [...ONE_NODE, "--config", cfg]);
  expect(Number(b.d.jobId) % 2).toBe(wa); // congruent: the same preferred window
  expect(b.d.wait, b.run.stderr).toMatchObject({ outcome: "ready" });
  const taken = statusEvents(b.d.runDir).find((e) => e.event === "port-window-taken");
  expect(taken).toMatchObject({ window: wa, nodes: `node3 (held by job ${a.d.jobId})` });
  expect(portsEvent(b.d.runDir)).toMatchObject({
    window: 1 - wa,
    base: 20000 + (1 - wa) * 100,
    preferred: wa,
  });
  // Both deployments answer, each on its own window's port.
  expect(a.d.wait.url).not.toBe(b.d.wait.url);
  for (const d of [a.d, b.d])
    expect((await chat(d.wait.url as string, d.plan.spec.model.path)).status).toBe(200);
  expect(await stopDeployed()).toEqual([]);
  // Stopped by dyn: every lock was given back.
  expect(readdirSync(join(LOCKS, "node3")).filter((w) => /^window-[01]$/.test(w))).toEqual([]);
});

it("a stranger on the window's port moves the job to the next window", async () => {
  const cfg = config(2, 21000);
  alignNextJobId(2, 0);
  await squat("node3", 21000); // window 0's first port: the etcd of a 1-node plan
  const c = await deploy("ports-squat", [...ONE_NODE, "--config", cfg]);
  expect(Number(c.d.jobId) % 2).toBe(0);
  expect(c.d.wait, c.run.stderr).toMatchObject({ outcome: "ready" });
  expect(statusEvents(c.d.runDir).find((e) => e.event === "port-window-taken")).toMatchObject({
    window: 0,
    nodes: "node3 (port 21000 in use)",
  });
  expect(portsEvent(c.d.runDir)).toMatchObject({ window: 1, base: 21100 });
  for (const p of squatters.splice(0)) p.kill("SIGKILL"); // not a leftover of the deployment
  expect(await stopDeployed()).toEqual([]);
});

it("every window taken: node setup fails naming them, and nothing starts", async () => {
  const cfg = config(2, 22000);
  await squat("node3", 22000);
  await squat("node3", 22100);
  const d = await deploy("ports-full", [...ONE_NODE, "--config", cfg]);
  expect(d.d.wait.outcome).toBe("failed");
  expect(d.d.wait.failed?.component).toBe("node-setup");
  expect(d.d.wait.failed?.message).toMatch(
    /^no free port window after 2 tries \(window \d: node3 \(port 22\d00 in use\); window \d: node3 \(port 22\d00 in use\)\)/,
  );
  expect(statusEvents(d.d.runDir).some((e) => e.event === "started")).toBe(false);
});

it("what a KILLed job left on its node is removed by the next dyn job there", async () => {
  const cfg = config(2, 23000);
  const k = await deploy("ports-killed", [...ONE_NODE, "--config", cfg]);
  expect(k.d.wait, k.run.stderr).toMatchObject({ outcome: "ready" });
  const scratchOf = (job: string) => readdirSync("/tmp").filter((d) => d.startsWith(`dyn-${job}-`));
  const lock = join(LOCKS, "node3", `window-${Number(k.d.jobId) % 2}`);
  expect(scratchOf(k.d.jobId)).toHaveLength(1);
  execFileSync("scancel", ["--batch", "--signal=KILL", k.d.jobId]);
  await waitFor("the killed job to leave the queue", () => (inQueue(k.d.jobId) ? undefined : true), 60_000);
  // The batch shell had no chance to clean up.
  expect(scratchOf(k.d.jobId)).toHaveLength(1);
  expect(existsSync(lock)).toBe(true);

  const n = await deploy("ports-next", [...ONE_NODE, "--config", cfg]);
  expect(n.d.wait, n.run.stderr).toMatchObject({ outcome: "ready" });
  expect(scratchOf(k.d.jobId)).toEqual([]);
  // The dead job's lock is gone (or now this job's, if it preferred the same window).
  if (existsSync(lock))
    expect(readFileSync(join(lock, "owner"), "utf8")).toMatch(new RegExp(`^${n.d.jobId} `));
  expect(portsEvent(n.d.runDir)).toMatchObject({ window: Number(n.d.jobId) % 2 });
});
