/** Failure attribution: the first failing component, its node, exit code, log lines and category. */
import { describe, expect, it } from "vitest";
import { ATTRIBUTION_RULES, attributeFailure, lastAttempt, nodeOfStep } from "../src/index.js";

const steps = [
  { id: "etcd", role: "etcd", nodes: [0] },
  { id: "frontend-0", role: "frontend", nodes: [0] },
  { id: "decode-w0", role: "decode", nodes: [1], registers: "backend" },
];
const nodes = [
  { index: 0, name: "node1" },
  { index: 1, name: "node2" },
];

describe("attributeFailure: one case per category", () => {
  it("infrastructure: the network preflight, naming the node from its message", () => {
    const a = attributeFailure({
      failed: {
        component: "preflight",
        message:
          "node2: cannot reach etcd on node 0 at 10.0.0.1:20000 (TCP connect refused or timed out for 5 s)",
      },
    });
    expect(a).toMatchObject({
      category: "infrastructure",
      rule: "dyn-infra-step",
      node: "node2",
      code: null,
    });
  });

  it("configuration: argparse's usage error and exit 2 in the worker's log", () => {
    const a = attributeFailure({
      failed: { component: "decode-w0", message: "exited with code 2 (log: logs/decode-w0.log)", code: 2 },
      node: nodeOfStep("decode-w0", steps, nodes),
      logTail: [
        "usage: python3 -m dynamo.sglang [-h] [--model-path MODEL_PATH] ...",
        "python3 -m dynamo.sglang: error: unrecognized arguments: --no-such-flag",
      ],
    });
    expect(a).toMatchObject({ category: "configuration", rule: "rejected-argument", node: "node2", code: 2 });
    expect(a.logTail.at(-1)).toContain("--no-such-flag");
  });

  it("engine: a worker that exits 1 after it started", () => {
    const a = attributeFailure({
      failed: { component: "decode-w0", message: "exited with code 1 (log: logs/decode-w0.log)", code: 1 },
      node: "node2",
      logTail: [
        "loading weights",
        "Traceback (most recent call last):",
        "RuntimeError: CUDA error: out of memory",
      ],
    });
    expect(a).toMatchObject({ category: "engine", rule: "engine-exit", code: 1 });
  });
});

describe("attributeFailure: the rules", () => {
  const exit = (code: number, log: string[] = []) => ({
    failed: { component: "prefill-w0", message: `exited with code ${code}`, code },
    logTail: log,
  });

  it("exit 2 without a usage message is the engine's, not a rejected argument", () => {
    expect(attributeFailure(exit(2, ["segfault"])).category).toBe("engine");
  });

  it("clap's and click's rejections are configuration too", () => {
    expect(attributeFailure(exit(2, ["error: unexpected argument '--x' found"])).rule).toBe(
      "rejected-argument",
    );
    expect(attributeFailure(exit(2, ["Usage: dynamo serve", "Error: No such option: --x"])).rule).toBe(
      "rejected-argument",
    );
  });

  it("a release without the component is configuration (exit 1)", () => {
    const a = attributeFailure(
      exit(1, ["/usr/bin/python3: No module named dynamo.trtllm (Dynamo stand-in …)"]),
    );
    expect(a).toMatchObject({ category: "configuration", rule: "release-refused" });
  });

  it("a lost node outranks whatever the steps said", () => {
    const a = attributeFailure({ ...exit(1), endReason: "NODE_FAIL" });
    expect(a).toMatchObject({ category: "infrastructure", rule: "slurm-node" });
  });

  it("exit 127 and pyxis errors are infrastructure", () => {
    expect(attributeFailure(exit(127)).rule).toBe("command-not-found");
    expect(
      attributeFailure(exit(1, ["pyxis: importing docker image", "pyxis: couldn't start container"])).rule,
    ).toBe("container-setup");
    // pyxis's progress lines alone are not an error
    expect(attributeFailure(exit(1, ["pyxis: importing docker image: /x.sqsh"])).rule).toBe("engine-exit");
  });

  it("etcd/NATS identity, allocation, node setup, container import: infrastructure", () => {
    for (const component of ["etcd", "nats", "allocation", "node-setup", "container-preload"])
      expect(attributeFailure({ failed: { component, message: "x" } }).category).toBe("infrastructure");
    const setup = attributeFailure({
      failed: {
        component: "node-setup",
        message: "no routable IPv4 address on node3 (set network.interface)",
      },
    });
    expect(setup.node).toBeNull();
    expect(
      attributeFailure({
        failed: { component: "node-setup", message: "port 8000 (pinned in the spec) is in use on node3" },
      }).node,
    ).toBe("node3");
  });

  it("a missing secret is configuration", () => {
    expect(
      attributeFailure({ failed: { component: "secrets", message: "secret HF_TOKEN is not set" } }).category,
    ).toBe("configuration");
  });

  it("the token gate: HTTP 5xx and an empty answer are the engine's", () => {
    const smoke = (message: string) => attributeFailure({ failed: { component: "smoke", message } });
    expect(
      smoke("the first request through the frontend failed: POST answered HTTP 503: busy"),
    ).toMatchObject({
      category: "engine",
      rule: "smoke-http-5xx",
    });
    expect(smoke("… answered HTTP 200 with no tokens").rule).toBe("smoke");
  });

  it("readiness: a timeout is the engine's, the watcher failing is infrastructure", () => {
    expect(
      attributeFailure({
        failed: { component: "readiness", message: "not ready after 600 s; not registered: decode" },
      }).category,
    ).toBe("engine");
    expect(
      attributeFailure({ failed: { component: "readiness", message: "the /health watcher failed (log: x)" } })
        .category,
    ).toBe("infrastructure");
  });

  it("every rule has an id, a category and a reason, ids unique; the last rule matches anything", () => {
    const ids = ATTRIBUTION_RULES.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const r of ATTRIBUTION_RULES) expect(r.reason.length).toBeGreaterThan(10);
    expect(attributeFailure({ failed: { component: "mystery", message: "?" } }).rule).toBe("other");
  });
});

describe("nodeOfStep and lastAttempt", () => {
  it("a step's node name from the plan's node index and the status file's node events", () => {
    expect(nodeOfStep("frontend-0", steps, nodes)).toBe("node1");
    expect(nodeOfStep("decode-w0", steps, nodes)).toBe("node2");
    expect(nodeOfStep("nope", steps, nodes)).toBeNull();
    expect(nodeOfStep("decode-w0", steps, [])).toBeNull();
  });

  it("only the events after the last job-started", () => {
    const e = (event: string, t: number) => ({ t, event });
    expect(lastAttempt([e("job-started", 1), e("failed", 2), e("job-started", 3), e("ready", 4)])).toEqual([
      e("job-started", 3),
      e("ready", 4),
    ]);
  });
});
