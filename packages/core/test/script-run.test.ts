/**
 * The FULL rendered script executed by bash against stub srun/scontrol/python3 (helpers/harness.ts):
 * hostile user values arrive byte-exact in every step's argv and env, the status file tells the
 * story, TERM stops every step, and failures (a step dying, readiness timing out, a bad allocation,
 * a missing secret, a failed image import, no routable IP) end the job with a `failed` event naming
 * the culprit.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import {
  type Backend,
  baseRelease,
  type DeploymentSpecInput,
  DYNAMO_IMAGES,
  type Plan,
  type PlannedStep,
  parseImageRef,
  renderScript,
} from "../src/index.js";
import { CONTAINER_HF_HOME, EXEC_CHECK } from "../src/render/steps.js";
import { planForTest, type TestSpec } from "../src/testing.js";
import { legacy, mpi, perNode } from "./fixtures/backends.js";
import { JOB_ID, nodeIp, ScriptRun, splitRecorded } from "./helpers/harness.js";
import { dirName, hostile, mountPart } from "./helpers/hostile.js";
import { type Runtime, resolveArg, resolveEnv } from "./helpers/resolve.js";

const runs: ScriptRun[] = [];
afterEach(() => {
  for (const r of runs.splice(0)) r.dispose();
});
const newRun = () => {
  const run = new ScriptRun();
  runs.push(run);
  return run;
};

/**
 * The run's node-local scratch: `$TMPDIR/dyn-<job>-<random>` (random so a reset cluster reusing job
 * ids never finds a stale etcd data dir). Read back from the etcd/NATS argv the stub recorded.
 */
function scratchOf(plan: Plan, run: ScriptRun): string {
  const infra = plan.steps.find((s) => s.role === "etcd" || s.role === "nats");
  if (!infra) return `${run.scratch}/dyn-${JOB_ID}-unused`;
  const argv = run.argv(infra.id) ?? [];
  const dir = argv.find((a) => a.startsWith(`${run.scratch}/dyn-${JOB_ID}-`)) ?? "";
  const scratch = dir.replace(/\/(etcd|nats)$/, "");
  expect(scratch).toMatch(new RegExp(`^${run.scratch}/dyn-${JOB_ID}-\\d+$`));
  return scratch;
}

/** This run's infra identity (DYN_INFRA_ID), read back from etcd's --name or NATS's --server_name. */
function infraIdOf(plan: Plan, run: ScriptRun): string {
  const infra = plan.steps.find((s) => s.role === "etcd" || s.role === "nats");
  if (!infra) return "unused";
  const argv = run.argv(infra.id) ?? [];
  const id = argv[argv.indexOf(infra.role === "etcd" ? "--name" : "--server_name") + 1] ?? "";
  expect(id).toMatch(new RegExp(`^dyn-${JOB_ID}-\\d+$`));
  return id;
}

/** The runtime values the script computes, as the stubs make them. */
function runtimeOf(plan: Plan, run: ScriptRun): Runtime {
  const p = plan.spec.ports;
  const portBase = p.base + (JOB_ID % p.slots) * p.slot;
  const vars: Record<string, string> = {
    SLURM_JOB_ID: String(JOB_ID),
    DYN_RUN_DIR: run.runDir,
    DYN_SCRATCH: scratchOf(plan, run),
    DYN_INFRA_ID: infraIdOf(plan, run),
    DYN_HF_CACHE: plan.spec.hfCache ?? `${run.home}/.cache/huggingface`,
  };
  for (let k = 0; k < plan.nodes; k++) {
    vars[`DYN_NODE_IP_${k}`] = nodeIp(k);
    vars[`DYN_HOST_${k}`] = `node${k}`;
  }
  const infraPort = (role: string, name: string) => {
    const ref = plan.steps.find((s) => s.role === role)?.ports[name];
    return ref?.kind === "job" ? portBase + ref.offset : ref?.port;
  };
  const { etcd, nats } = plan.spec.infra;
  const ip = nodeIp(plan.infraNode);
  if (etcd.mode === "managed") vars.DYN_ETCD_ENDPOINTS = `http://${ip}:${infraPort("etcd", "etcd")}`;
  if (etcd.mode === "external") vars.DYN_ETCD_ENDPOINTS = etcd.url as string;
  if (nats.mode === "managed") vars.DYN_NATS_SERVER = `nats://${ip}:${infraPort("nats", "nats")}`;
  if (nats.mode === "external") vars.DYN_NATS_SERVER = nats.url as string;
  return { vars, portBase };
}

/** What the srun of a step must carry, resolved: the env prefix and the process argv. */
function expectedProcess(plan: Plan, step: PlannedStep, rt: Runtime) {
  const env = resolveEnv(step.env, rt);
  const infra = step.role === "etcd" || step.role === "nats";
  if (!infra)
    env.HF_HOME = plan.spec.container.kind === "pyxis" ? CONTAINER_HF_HOME : (rt.vars.DYN_HF_CACHE ?? "");
  // The plan's GPU indices are slots on the node; the start wrapper maps them onto SLURM's GPUs.
  if (env.CUDA_VISIBLE_DEVICES !== undefined) {
    env.DYN_GPU_SLOTS = env.CUDA_VISIBLE_DEVICES;
    delete env.CUDA_VISIBLE_DEVICES;
  }
  const argv = step.argv.map((a) => resolveArg(a, rt));
  const c = plan.spec.container;
  const setup = c.kind === "none" ? c.setup : undefined;
  // Every process starts through the bash check (the step id is its $0), after the setup if any.
  return { env, command: ["bash", "-c", setup ? `${setup}\n${EXEC_CHECK}` : EXEC_CHECK, step.id, ...argv] };
}

function expectedSrunFlags(plan: Plan, step: PlannedStep, rt: Runtime): string[] {
  const flags = [`--nodelist=${step.nodes.map((n) => `node${n}`).join(",")}`, `--job-name=${step.id}`];
  const c = plan.spec.container;
  if (c.kind === "pyxis") {
    // The user's mounts first, then dyn's (so none hides them): services get the model cache and
    // the run directory, etcd/NATS their own container with the run directory and the scratch.
    const infra = step.role === "etcd" || step.role === "nats";
    const own = infra
      ? [`${rt.vars.DYN_RUN_DIR}:${rt.vars.DYN_RUN_DIR}`, `${rt.vars.DYN_SCRATCH}:${rt.vars.DYN_SCRATCH}`]
      : [`${rt.vars.DYN_HF_CACHE}:${CONTAINER_HF_HOME}`, `${rt.vars.DYN_RUN_DIR}:${rt.vars.DYN_RUN_DIR}`];
    flags.push(
      `--container-image=${c.image}`,
      `--container-mounts=${[...c.mounts, ...own].join(",")}`,
      `--container-name=dyn-${JOB_ID}${infra ? "-infra" : ""}`,
    );
    const workdir = step.cwd ?? c.workdir;
    if (workdir !== undefined) flags.push(`--container-workdir=${workdir}`);
  } else if (step.cwd) {
    flags.push(`--chdir=${step.cwd}`);
  }
  return flags;
}

const SECRET = "HF_TOKEN";

const BACKENDS: Record<string, Backend> = { pernode: perNode, mpi, legacy };

interface Hostile {
  /** By name, so a counterexample prints without the backend's source. */
  backend: string;
  spec: TestSpec;
  secret: string;
}

const envKey = fc.stringMatching(/^[A-Z][A-Z0-9_]{0,5}$/).map((k) => `U_${k}`);
const hostileEnv = fc.dictionary(envKey, hostile(), { maxKeys: 2 });
const infraArb = (scheme: string) =>
  fc.oneof(
    fc.constant({ mode: "managed" as const }),
    fc.constant({ mode: "off" as const }),
    hostile(3).map((s) => ({ mode: "external" as const, url: `${scheme}://${s}` })),
  );

/**
 * A hostile engine-arg word. The spec refuses one shape of list item on purpose, an option name then
 * a blank (`--max-model-len 8192`, YAML for one item): every other word must arrive byte-exact.
 */
const argWord = hostile().filter((w) => !/^--?[A-Za-z][A-Za-z0-9_.-]*\s/.test(w));

const hostileCase: fc.Arbitrary<Hostile> = fc
  .record({
    shape: fc.constantFrom("disaggregated", "packed", "multi-node", "mpi", "legacy"),
    pyxis: fc.boolean(),
    model: hostile(),
    servedName: fc.option(hostile(), { nil: undefined }),
    args: fc.array(argWord, { maxLength: 3 }),
    frontendArgs: fc.array(argWord, { maxLength: 2 }),
    roleEnv: hostileEnv,
    frontendEnv: hostileEnv,
    env: hostileEnv,
    image: hostile(),
    mounts: fc.array(fc.tuple(mountPart, mountPart), { maxLength: 2 }),
    workdir: fc.option(hostile(), { nil: undefined }),
    cache: dirName,
    cwd: fc.option(hostile(), { nil: undefined }),
    etcd: infraArb("http"),
    nats: infraArb("nats"),
    iface: fc.option(fc.constantFrom("ib0", "enP6p9s0np0"), { nil: undefined }),
    secret: hostile(),
  })
  .map((h) => {
    const group = { args: h.args, env: h.roleEnv };
    const shapes: Record<
      string,
      { backend: Backend; roles: DeploymentSpecInput["roles"]; slurm?: object; options?: object }
    > = {
      disaggregated: {
        backend: perNode,
        roles: {
          prefill: { workers: 1, gpusPerWorker: 4, ...group },
          decode: { workers: 1, gpusPerWorker: 4, ...group },
          colocate: true,
        },
      },
      packed: {
        backend: perNode,
        roles: { aggregated: { workers: 2, gpusPerWorker: 2, ...group } },
        slurm: { gpusPerNode: 4 },
      },
      "multi-node": {
        backend: perNode,
        roles: {
          prefill: { workers: 1, gpusPerWorker: 8, ...group },
          decode: { workers: 1, gpusPerWorker: 16, ...group },
        },
      },
      mpi: { backend: mpi, roles: { aggregated: { workers: 1, gpusPerWorker: 16, ...group } } },
      legacy: {
        backend: legacy,
        roles: { prefill: { workers: 1, ...group }, decode: { workers: 2, ...group } },
      },
    };
    const shape = shapes[h.shape] as (typeof shapes)[string];
    // etcd off needs file discovery, which Dynamo runs on one machine only: the one-node shapes.
    const oneNode = h.shape === "disaggregated" || h.shape === "packed";
    const etcd = h.etcd.mode === "off" && !oneNode ? { mode: "managed" as const } : h.etcd;
    const spec: TestSpec = {
      model: { path: h.model, ...(h.servedName === undefined ? {} : { servedName: h.servedName }) },
      roles: { ...shape.roles, frontend: { args: h.frontendArgs, env: h.frontendEnv } },
      slurm: { ...shape.slurm },
      env: etcd.mode === "off" ? { ...h.env, DYN_DISCOVERY_BACKEND: "file" } : h.env,
      infra: { etcd, nats: h.nats },
      hfCache: `/__CACHE__/${h.cache}`,
      secrets: [SECRET],
      readiness: { timeoutSeconds: 30 },
      ...(h.iface ? { network: { interface: h.iface } } : {}),
      container: h.pyxis
        ? {
            kind: "pyxis",
            // Anything after a leading / is an image file path to pyxis: hostile bytes included.
            image: `/images/${h.image}`,
            mounts: h.mounts.map(([a, b]) => `${a}:${b}`),
            ...(h.workdir === undefined ? {} : { workdir: h.workdir }),
          }
        : { kind: "none" },
      options:
        h.shape === "legacy"
          ? { hosted: "decode" }
          : h.shape === "mpi" || h.cwd === undefined
            ? {}
            : { cwd: h.cwd },
    };
    // The secret is hostile bytes too, marked so it differs from every other value drawn from the same
    // pool: the script may contain a hostile model path, never the secret.
    return { backend: shape.backend.name, spec, secret: `${h.secret}\u00a7secret` };
  })
  // A hostile image whose tag reads as a Dynamo release (or that names a Dynamo image) would choose
  // the release: a different test (releases.test.ts). Here the image is only a value to deliver.
  .filter(({ spec }) => {
    if (spec.container?.kind !== "pyxis") return true;
    const ref = parseImageRef(spec.container.image);
    return (
      DYNAMO_IMAGES[ref.name] === undefined && (ref.tag === undefined || baseRelease(ref.tag) === undefined)
    );
  });

/** Plan and render for a run directory; hfCache's placeholder becomes a directory of the run. */
function prepare(run: ScriptRun, backend: Backend, spec: TestSpec): { plan: Plan; script: string } {
  const withCache =
    typeof spec.hfCache === "string"
      ? { ...spec, hfCache: spec.hfCache.replace("/__CACHE__", `${run.dir}/cache`) }
      : spec;
  const plan = planForTest(backend, withCache);
  return {
    plan,
    script: renderScript(plan, { runDir: run.runDir, graceSeconds: 2, infraTimeoutSeconds: 5 }),
  };
}

describe("the whole rendered script under bash", () => {
  it("delivers hostile values byte-exact to every step, reports progress, and stops every step on TERM", async () => {
    await fc.assert(
      fc.asyncProperty(hostileCase, async ({ backend, spec, secret }) => {
        const run = newRun();
        try {
          const { plan, script } = prepare(run, BACKENDS[backend] as Backend, spec);
          expect(script).not.toContain(secret);
          const iface = plan.spec.network.interface;
          run.start(script, { nodes: plan.nodes, env: { [SECRET]: secret }, ...(iface ? { iface } : {}) });
          const ready = await run.untilEvent("ready");
          const rt = runtimeOf(plan, run);
          const services = plan.steps;
          await run.until("every step's srun", () =>
            services.every((s) => run.argv(s.id)) ? true : undefined,
          );

          for (const step of services) {
            const recorded = splitRecorded(run.argv(step.id) as string[]);
            const want = expectedProcess(plan, step, rt);
            expect(recorded.env, step.id).toEqual(want.env);
            // etcd and NATS never see the secrets; the Dynamo processes inherit them.
            const infraStep = step.role === "etcd" || step.role === "nats";
            expect(recorded.unset, step.id).toEqual(infraStep ? [SECRET] : []);
            expect(recorded.command, step.id).toEqual(want.command);
            expect(recorded.srun, step.id).toEqual(expect.arrayContaining(expectedSrunFlags(plan, step, rt)));
            if (plan.spec.container.kind === "pyxis") {
              // Forced into the Dynamo processes' containers only, never into etcd's or NATS's.
              const infra = step.role === "etcd" || step.role === "nats";
              expect(recorded.srun.includes(`--container-env=${SECRET}`), step.id).toBe(!infra);
            }
            // Passed by name: the step inherits the secret from the job's environment.
            expect(run.recorded(`${step.id}.secret`), step.id).toBe(secret);
          }

          // Node setup got the interface and the cache verbatim, and really created the cache.
          const setup = run.argv("node-setup") as string[];
          const args = setup.slice(setup.lastIndexOf("node-setup") + 1);
          expect(args.slice(0, 2)).toEqual([iface ?? "", rt.vars.DYN_HF_CACHE]);
          expect(existsSync(rt.vars.DYN_HF_CACHE as string)).toBe(true);

          const events = run.events();
          const names = events.map((e) => e.event);
          expect(names[0]).toBe("job-started");
          expect(events.filter((e) => e.event === "node")).toEqual(
            Array.from({ length: plan.nodes }, (_, k) =>
              expect.objectContaining({ index: k, name: `node${k}`, ip: nodeIp(k) }),
            ),
          );
          // Each node's own setup start and end (epoch seconds, for the timeline), in order, near now.
          for (const e of events.filter((x) => x.event === "node")) {
            const [a, b] = [e.setup_start, e.setup_end] as number[];
            expect(typeof a === "number" && typeof b === "number" && a <= b, JSON.stringify(e)).toBe(true);
            expect(Math.abs((a as number) - Date.now() / 1000)).toBeLessThan(600);
          }
          // Every line is one valid JSON event, even with control characters in an external URL.
          expect(run.statusLines().map((l) => JSON.parse(l))).toEqual(events);
          const infraUp = events.find((e) => e.event === "infra-up");
          expect(infraUp?.etcd).toBe(rt.vars.DYN_ETCD_ENDPOINTS);
          expect(infraUp?.nats).toBe(rt.vars.DYN_NATS_SERVER);
          if (plan.spec.container.kind === "pyxis") expect(names).toContain("container-ready");
          // Every step started once: etcd and NATS first, then the services (per-node launches start
          // after the steps of their own, so not in plan order).
          const startedIds = events.filter((e) => e.event === "started").map((e) => String(e.step));
          const infraIds = services.filter((s) => s.role === "etcd" || s.role === "nats").map((s) => s.id);
          expect(startedIds.slice(0, infraIds.length)).toEqual(infraIds);
          expect([...startedIds].sort()).toEqual(services.map((s) => s.id).sort());
          const frontendPort =
            plan.frontend.port.kind === "job"
              ? rt.portBase + plan.frontend.port.offset
              : plan.frontend.port.port;
          const url = `http://${nodeIp(plan.frontend.node)}:${frontendPort}`;
          expect(ready.url).toBe(url);
          expect(run.recorded("health.url")).toBe(`${url}/health`);

          run.signal("SIGTERM");
          const exit = await run.waitExit();
          expect(exit.code).toBe(143);
          expect(run.events().at(-1)).toMatchObject({ event: "stopped", signal: "TERM" });
          for (const step of services) expect(run.alive(step.id), `${step.id} still running`).toBe(false);
        } finally {
          run.dispose();
        }
      }),
      {
        numRuns: Number(process.env.DYN_SCRIPT_RUNS ?? 10),
        ...(process.env.DYN_SCRIPT_SEED
          ? {
              seed: Number(process.env.DYN_SCRIPT_SEED),
              ...(process.env.DYN_SCRIPT_PATH ? { path: process.env.DYN_SCRIPT_PATH } : {}),
              endOnFailure: true,
            }
          : {}),
      },
    );
  }, 600_000);
});

describe("failures end the job with a failed event naming the culprit", () => {
  const disaggregated: TestSpec = {
    model: { path: "org/model" },
    roles: { prefill: { workers: 1 }, decode: { workers: 1 } },
    secrets: [SECRET],
  };
  const start = (spec: TestSpec, options: Partial<Parameters<ScriptRun["start"]>[1]> = {}) => {
    const run = newRun();
    const { plan, script } = prepare(run, perNode, spec);
    run.start(script, { nodes: plan.nodes, env: { [SECRET]: "x" }, ...options });
    return { run, plan };
  };
  const failedEvent = (run: ScriptRun) => run.events().find((e) => e.event === "failed");

  it("a step that exits after ready fails the job fast and stops the others", async () => {
    const { run, plan } = start(disaggregated, { failStep: "decode-w0" });
    await run.untilEvent("ready");
    const exit = await run.waitExit();
    expect(exit.code).toBe(1);
    expect(failedEvent(run)).toMatchObject({
      component: "decode-w0",
      message: "exited with code 3 (log: logs/decode-w0.log)",
      code: 3,
    });
    for (const step of plan.steps) expect(run.alive(step.id), step.id).toBe(false);
  });

  it("per-node launch: a launch step that ends before its processes fails the job naming its first process", async () => {
    const { run } = start(disaggregated, { env: { [SECRET]: "x", STUB_FAIL_LAUNCH: "launch-1" } });
    await run.untilEvent("ready");
    const exit = await run.waitExit();
    expect(exit.code).toBe(1);
    const failed = failedEvent(run);
    // launch-0 is the frontend's (no GPUs), launch-1 the first worker's on the same node
    expect(failed).toMatchObject({ component: "prefill-w0", code: 9 });
    expect(failed?.message).toBe(
      "the launch step on node0 (launch-1) ended with code 9 while its processes ran (log: logs/launch-1.log)",
    );
  });

  it("per-node launch: one srun client per node and options; per-process: one per step", async () => {
    const four: TestSpec = {
      ...disaggregated,
      roles: { prefill: { workers: 3, gpusPerWorker: 1 }, decode: { workers: 3, gpusPerWorker: 1 } },
    };
    const a = start(four);
    await a.run.untilEvent("ready");
    const launches = a.plan.steps.filter((s) => s.role !== "etcd" && s.role !== "nats");
    // every service was started by a launch step, none by an srun of its own
    for (const s of launches) {
      expect(a.run.argv(s.id), s.id).toContain(`--job-name=${s.id}`);
      expect(a.run.argv(s.id)?.[0], s.id).toBe("--overlap");
    }
    const launchSteps = readdirSync(join(a.run.dir, "stubs", "rec")).filter((f) =>
      /^launch-\d+\.argv$/.test(f),
    );
    const nodesUsed = new Set(launches.map((s) => s.nodes[0]));
    expect(launchSteps.length).toBeLessThan(launches.length);
    expect(launchSteps.length).toBeGreaterThanOrEqual(nodesUsed.size);
    // each launch step's one task runs many processes: never bound to one task's CPUs by a site default
    for (const f of launchSteps) {
      const argv = readFileSync(join(a.run.dir, "stubs", "rec", f), "utf8").split("\0");
      expect(argv.slice(0, argv.indexOf("bash")), f).toContain("--cpu-bind=none");
    }
    a.run.signal("SIGTERM");
    await a.run.waitExit();
    for (const s of launches) expect(a.run.alive(s.id), s.id).toBe(false);

    const b = start({ ...four, slurm: { launch: "per-process" } });
    await b.run.untilEvent("ready");
    expect(readdirSync(join(b.run.dir, "stubs", "rec")).filter((f) => f.startsWith("launch-"))).toEqual([]);
    for (const s of launches) {
      expect(b.run.argv(s.id), s.id).toContain(`--output=${b.run.runDir}/logs/${s.id}.log`);
      // a single process per step keeps the site's binding (SLURM's auto binding leaves it unbound)
      expect(b.run.argv(s.id), s.id).not.toContain("--cpu-bind=none");
    }
  });

  it("a readiness timeout names the roles that did not register", async () => {
    const { run } = start({ ...disaggregated, readiness: { timeoutSeconds: 1 } }, { health: "never" });
    const exit = await run.waitExit();
    expect(exit.code).toBe(1);
    const failed = failedEvent(run);
    expect(failed?.component).toBe("readiness");
    expect(failed?.code).toBeUndefined();
    // The stub registers the first expected component (prefill) only.
    expect(failed?.message).toBe("not ready after 1 s; not registered: decode (backend 0/1)");
    expect(run.events().find((e) => e.event === "progress")?.registered).toBe("prefill=1/1 backend=0/1");
    expect(run.events().some((e) => e.event === "ready")).toBe(false);
  });

  it("an allocation with a different node count is refused before anything starts", async () => {
    const { run, plan } = start(disaggregated, { nodes: 3 });
    expect((await run.waitExit()).code).toBe(1);
    expect(failedEvent(run)).toMatchObject({
      component: "allocation",
      message: `the job has 3 nodes but the plan needs ${plan.nodes}; submit with the script's own #SBATCH --nodes`,
    });
    expect(run.events().some((e) => e.event === "started")).toBe(false);
  });

  it("a missing secret is reported by name", async () => {
    const { run } = start(disaggregated, { env: {} });
    expect((await run.waitExit()).code).toBe(1);
    expect(failedEvent(run)).toMatchObject({
      component: "secrets",
      message: "secret HF_TOKEN is not set in the job's environment (export it before dyn deploy)",
    });
  });

  it("a failed image import stops the job before the services", async () => {
    const spec: TestSpec = { ...disaggregated, container: { kind: "pyxis", image: "nvcr.io#x/y:1" } };
    const { run } = start(spec, { preloadRc: 1 });
    expect((await run.waitExit()).code).toBe(1);
    expect(failedEvent(run)?.component).toBe("container-preload");
    expect(run.events().some((e) => e.event === "started")).toBe(false);
  });

  it("a node without an address on the chosen interface is named", async () => {
    const { run } = start({ ...disaggregated, network: { interface: "ib0" } }, { iface: "eth0" });
    expect((await run.waitExit()).code).toBe(1);
    expect(failedEvent(run)).toMatchObject({
      component: "node-setup",
      message: "no routable IPv4 address on node0 for network.interface ib0",
    });
  });
});
