/**
 * Supervision after READY (#13 item 4): one node's network is cut under a running deployment. The
 * decode worker's etcd lease runs out, /health stops listing it, and the job must end within the
 * lost-grace + 5 s of that, naming the worker and its node, instead of reporting ready.
 */
import { execFileSync } from "node:child_process";
import { afterAll, expect, it } from "vitest";
import { deploy, health, SMALL, standinEnv, statusEvents, stopDeployed, waitFor } from "./harness.js";

const link = (node: string, state: "up" | "down") =>
  execFileSync("ip", ["-n", `stb-${node}`, "link", "set", "eth0", state]);

afterAll(async () => {
  link("node2", "up");
  expect(await stopDeployed()).toEqual([]);
});

it("a node cut off after READY fails the job, naming the lost worker and its node", async () => {
  const grace = 3;
  const { run, d } = await deploy("lost-node", [
    "--backend",
    "vllm",
    ...SMALL,
    "--lost-grace",
    String(grace),
  ]);
  expect(d.wait, run.stderr).toMatchObject({ outcome: "ready" });
  const url = d.wait.url as string;
  const decodeHost = (await health(url)).instances.find((i) => i.component === "backend")?.host;
  expect(decodeHost).toBe("10.77.0.12"); // node2: the decode worker runs apart from the frontend
  link("node2", "down");
  let gone: number | undefined;
  try {
    gone = await waitFor(
      "/health to stop listing the decode worker",
      async () =>
        (await health(url)).instances.some((i) => i.component === "backend") ? undefined : Date.now(),
      30_000,
    );
    const failed = await waitFor(
      "the job to fail",
      () => statusEvents(d.runDir).find((e) => e.event === "failed"),
      (grace + 15) * 1000,
    );
    const detected = Number(failed.t) * 1000 - gone;
    console.log(
      `lost-node: failed ${(detected / 1000).toFixed(1)} s after /health stopped listing the worker`,
    );
    expect(detected).toBeLessThanOrEqual((grace + 5) * 1000);
    expect(failed.component).toBe("decode-w0");
    expect(String(failed.message)).toMatch(
      /vanished after READY: backend 0\/1: \d+@10\.77\.0\.12 \[node2: decode-w0\]/,
    );
  } finally {
    link("node2", "up");
  }
});

it("a worker that leaves discovery without exiting fails the job as fast, naming it", async () => {
  const grace = 3;
  // The decode worker revokes its lease 8 s after registering and keeps running (stand-in hook).
  const env = standinEnv({ DYN_STANDIN_DEREGISTER_AFTER: "8", DYN_STANDIN_HOOKS_ONLY: "decode" });
  const { run, d } = await deploy(
    "deregistered",
    ["--backend", "vllm", ...SMALL, "--lost-grace", String(grace)],
    { env },
  );
  expect(d.wait, run.stderr).toMatchObject({ outcome: "ready" });
  const url = d.wait.url as string;
  const gone = await waitFor(
    "/health to stop listing the decode worker",
    async () =>
      (await health(url)).instances.some((i) => i.component === "backend") ? undefined : Date.now(),
    30_000,
  );
  const failed = await waitFor(
    "the job to fail",
    () => statusEvents(d.runDir).find((e) => e.event === "failed"),
    (grace + 15) * 1000,
  );
  const detected = Number(failed.t) * 1000 - gone;
  console.log(
    `deregistered: failed ${(detected / 1000).toFixed(1)} s after /health stopped listing the worker`,
  );
  expect(detected).toBeLessThanOrEqual((grace + 5) * 1000);
  expect(failed.component).toBe("decode-w0");
  expect(String(failed.message)).toMatch(
    /vanished after READY: backend 0\/1: \d+@10\.77\.0\.12 \[node2: decode-w0\]/,
  );
});
