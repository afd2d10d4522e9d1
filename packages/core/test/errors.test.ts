/** Every error a user can hit in spec parsing and planning: code, key and message. */
import { describe, expect, it } from "vitest";
import { type Backend, DeploymentSpec, DynError, parseOrThrow, renderScript } from "../src/index.js";
import { planForTest, type TestSpec } from "../src/testing.js";
import { legacy, perNode, picky } from "./fixtures/backends.js";

/** The DynError a function throws, as plain data (fails the test if it does not throw one). */
function dynError(fn: () => unknown): { code: string; key: string | undefined; message: string } {
  try {
    fn();
  } catch (e) {
    if (!DynError.is(e)) throw e;
    return { code: e.code, key: e.key, message: e.message };
  }
  throw new Error("expected a DynError");
}
const planError = (spec: TestSpec, backend: Backend = perNode) =>
  dynError(() => planForTest(backend, { model: { path: "m" }, ...spec }));

describe("node count errors say what each role needs and what the allocation has", () => {
  it("too few nodes", () => {
    const e = planError({
      slurm: { nodes: 2 },
      roles: { prefill: { workers: 2, gpusPerWorker: 8 }, decode: { workers: 1, gpusPerWorker: 16 } },
    });
    expect(e.code).toBe("DYN_PLAN_INVALID");
    expect(e.key).toBe("slurm.nodes");
    expect(e.message).toContain("2 nodes × 8 GPUs (16 GPUs) is too few");
    expect(e.message).toContain("the plan needs 4 nodes (32 GPUs)");
    expect(e.message).toContain("prefill 2 workers × 8 GPUs = 16 GPUs on 2 nodes");
    expect(e.message).toContain("decode 1 worker × 16 GPUs = 16 GPUs on 2 nodes (2 whole nodes per worker)");
    expect(e.message).toContain("frontend and infra share node 0");
  });

  it("too many nodes", () => {
    const e = planError({
      slurm: { nodes: 3, gpusPerNode: 4 },
      roles: { aggregated: { workers: 2, gpusPerWorker: 2 }, frontend: { placement: "dedicated" } },
    });
    expect(e).toMatchInlineSnapshot(`
      {
        "code": "DYN_PLAN_INVALID",
        "key": "slurm.nodes",
        "message": "slurm.nodes: 3 nodes × 4 GPUs (12 GPUs) is too many (the rest would sit idle): the plan needs 2 nodes (8 GPUs) — aggregated 2 workers × 2 GPUs = 4 GPUs on 1 node; frontend 1 dedicated node (no GPUs used)",
      }
    `);
  });

  it("the default split needs two worker nodes", () => {
    expect(planError({ slurm: { nodes: 1 } })).toMatchInlineSnapshot(`
      {
        "code": "DYN_PLAN_INVALID",
        "key": "slurm.nodes",
        "message": "slurm.nodes: 1 node × 8 GPUs cannot hold the default split (at least one prefill worker of 8 GPUs and one decode worker of 8 GPUs)",
      }
    `);
    expect(planError({ slurm: { nodes: 2 }, roles: { frontend: { placement: "dedicated" } } }).key).toBe(
      "slurm.nodes",
    );
  });
});

describe("plan errors", () => {
  it("a GPU count that does not tile nodes", () => {
    expect(planError({ roles: { aggregated: { workers: 1, gpusPerWorker: 12 } } })).toMatchInlineSnapshot(`
      {
        "code": "DYN_PLAN_INVALID",
        "key": "roles.aggregated.gpusPerWorker",
        "message": "roles.aggregated.gpusPerWorker: 12 GPUs do not tile 8-GPU nodes",
      }
    `);
  });

  it("disaggregated with only prefill (or only decode)", () => {
    expect(planError({ roles: { prefill: { workers: 1 } } })).toMatchInlineSnapshot(`
      {
        "code": "DYN_SPEC_INVALID",
        "key": "roles.decode",
        "message": "roles.decode: a disaggregated deployment needs both prefill and decode workers",
      }
    `);
    expect(planError({ roles: { decode: { workers: 1 } } }).key).toBe("roles.prefill");
  });

  it("a group with no workers", () => {
    expect(planError({ roles: { prefill: { workers: 1 }, decode: { workers: 0 } } })).toMatchInlineSnapshot(`
      {
        "code": "DYN_SPEC_INVALID",
        "key": "roles.decode.workers",
        "message": "roles.decode.workers: a disaggregated deployment needs at least one decode worker",
      }
    `);
    expect(planError({ roles: { aggregated: { workers: 0 } } }).key).toBe("roles.aggregated.workers");
  });

  it("aggregated combined with prefill", () => {
    expect(
      planError({ roles: { aggregated: { workers: 1 }, prefill: { workers: 1 } } }),
    ).toMatchInlineSnapshot(`
      {
        "code": "DYN_SPEC_INVALID",
        "key": "roles.aggregated",
        "message": "roles.aggregated: cannot be combined with prefill/decode groups (choose aggregated or disaggregated)",
      }
    `);
  });

  it("a role the backend does not have", () => {
    expect(planError({ roles: { aggregated: { workers: 1 } } }, picky)).toMatchInlineSnapshot(`
      {
        "code": "DYN_UNSUPPORTED",
        "key": "roles.aggregated",
        "message": "roles.aggregated: backend picky has no aggregated component in Dynamo 1.5.1",
      }
    `);
  });

  it("multi-node workers the backend cannot run", () => {
    expect(
      planError({ roles: { prefill: { workers: 1 }, decode: { workers: 1, gpusPerWorker: 16 } } }, picky),
    ).toMatchInlineSnapshot(`
        {
          "code": "DYN_UNSUPPORTED",
          "key": "roles.decode.gpusPerWorker",
          "message": "roles.decode.gpusPerWorker: 16 GPUs span 2 nodes, but with Dynamo 1.5.1 decode workers fit on one node",
        }
      `);
    expect(
      planError({ roles: { prefill: { workers: 1, gpusPerWorker: 16 }, decode: { workers: 1 } } }, legacy)
        .code,
    ).toBe("DYN_UNSUPPORTED");
  });

  it("a backend veto", () => {
    expect(
      planError({ roles: { prefill: { workers: 1 }, decode: { workers: 5 } } }, picky),
    ).toMatchInlineSnapshot(`
      {
        "code": "DYN_UNSUPPORTED",
        "key": "roles.decode.workers",
        "message": "roles.decode.workers: at most 4 decode workers",
      }
    `);
  });

  it("a legacy graph cannot have a dedicated frontend node", () => {
    expect(
      planError(
        { roles: { frontend: { placement: "dedicated" }, prefill: { workers: 1 }, decode: { workers: 1 } } },
        legacy,
      ),
    ).toMatchInlineSnapshot(`
        {
          "code": "DYN_UNSUPPORTED",
          "key": "roles.frontend.placement",
          "message": "roles.frontend.placement: the legacy graph runs a worker inside the frontend process, so the frontend cannot have a dedicated GPU-less node",
        }
      `);
  });

  it("port slot overflow", () => {
    const e = planError({ ports: { slot: 16 }, roles: { aggregated: { workers: 8, gpusPerWorker: 1 } } });
    expect(e).toMatchInlineSnapshot(`
      {
        "code": "DYN_PLAN_INVALID",
        "key": "ports.slot",
        "message": "ports.slot: node 0 needs more than 16 ports for this job's processes",
      }
    `);
  });

  it("pinned frontend ports past 65535", () => {
    expect(
      planError({ roles: { frontend: { count: 2, httpPort: 65535 }, aggregated: { workers: 1 } } }),
    ).toMatchInlineSnapshot(`
      {
        "code": "DYN_PLAN_INVALID",
        "key": "roles.frontend.httpPort",
        "message": "roles.frontend.httpPort: 2 frontends sharing node 0 need ports 65535-65536, above 65535",
      }
    `);
  });

  it("no model and no backend default", () => {
    expect(
      dynError(() => planForTest(perNode, { roles: { aggregated: { workers: 1 } } })),
    ).toMatchInlineSnapshot(`
      {
        "code": "DYN_SPEC_INVALID",
        "key": "model.path",
        "message": "model.path: no model given and the backend has no default",
      }
    `);
  });

  it("bad backend options name backend.options.<key>", () => {
    expect(planError({ options: { cwd: 3 } as never, roles: { aggregated: { workers: 1 } } })).toMatchObject({
      code: "DYN_OPTIONS_INVALID",
      key: "backend.options.cwd",
    });
    expect(
      planError({ options: { bogus: true } as never, roles: { aggregated: { workers: 1 } } }),
    ).toMatchObject({
      code: "DYN_OPTIONS_INVALID",
      message: expect.stringContaining("bogus"),
    });
  });

  it("a backend using a port it did not declare is an internal error, named", () => {
    expect(
      planError(
        { options: { undeclaredPort: true }, roles: { prefill: { workers: 1 }, decode: { workers: 1 } } },
        picky,
      ),
    ).toMatchInlineSnapshot(`
        {
          "code": "DYN_INTERNAL",
          "key": undefined,
          "message": "backend picky used port "nope" it did not declare",
        }
      `);
  });

  it("a run directory that cannot appear in #SBATCH lines", () => {
    const plan = planForTest(perNode, { model: { path: "m" }, roles: { aggregated: { workers: 1 } } });
    for (const runDir of ["relative/dir", "/with space", "/quo'te"]) {
      expect(dynError(() => renderScript(plan, { runDir })).key).toBe("--run-dir");
    }
  });
});

describe("release and infrastructure errors name the key, the release and what to do", () => {
  const agg = { roles: { aggregated: { workers: 1 } } } as const;

  it("a release dyn does not know lists the known ones", () => {
    expect(planError({ ...agg, dynamo: { version: "9.9.9" } })).toMatchInlineSnapshot(`
      {
        "code": "DYN_UNSUPPORTED",
        "key": "dynamo.version",
        "message": "dynamo.version: Dynamo 9.9.9 is not a release dyn knows; known releases of pernode: 0.3.2, 0.4.1, 0.6.1, 0.9.0, 1.0.0, 1.0.1, 1.0.2, 1.1.0, 1.1.1, 1.2.0, 1.2.1, 1.3.0, 1.3.1, 1.4.0, 1.4.1, 1.4.2, 1.5.0, 1.5.1",
      }
    `);
  });

  it("an explicit release that disagrees with the image tag names both", () => {
    const e = planError({
      ...agg,
      dynamo: { version: "1.4" },
      container: { kind: "pyxis", image: "registry.example/dynamo:1.3.0" },
    });
    expect(e).toMatchObject({ code: "DYN_UNSUPPORTED", key: "dynamo.version" });
    expect(e.message).toContain("1.4 disagrees with the container image registry.example/dynamo:1.3.0");
    expect(e.message).toContain("Dynamo 1.3.0");
  });

  it("NATS off where the release's runtime always connects to NATS", () => {
    expect(
      planError({ ...agg, dynamo: { version: "0.9.0" }, infra: { nats: { mode: "off" } } }),
    ).toMatchInlineSnapshot(`
        {
          "code": "DYN_UNSUPPORTED",
          "key": "infra.nats.mode",
          "message": "infra.nats.mode: Dynamo 0.9.0 cannot run without NATS (its runtime always connects to NATS_SERVER, default nats://localhost:4222)",
        }
      `);
  });

  it("etcd off needs a discovery backend that works across the job's nodes", () => {
    const off = (env: Record<string, string>, extra: TestSpec = {}) =>
      planError({ ...agg, infra: { etcd: { mode: "off" } }, env, ...extra }).message;
    expect(off({})).toBe(
      "infra.etcd.mode: off needs another discovery backend: every component discovers through etcd unless DYN_DISCOVERY_BACKEND names another backend",
    );
    expect(off({ DYN_DISCOVERY_BACKEND: "file" }, { roles: { aggregated: { workers: 2 } } })).toContain(
      "discovery backend file is single-machine only and this plan spans 2 nodes",
    );
    expect(off({ DYN_DISCOVERY_BACKEND: "mem" })).toContain("cannot connect processes on SLURM nodes");
    expect(off({ DYN_DISCOVERY_BACKEND: "file" }, { dynamo: { version: "0.6.1" } })).toContain(
      "DYN_DISCOVERY_BACKEND=file is not a discovery backend of Dynamo 0.6.1 (it has only etcd)",
    );
    expect(off({ DYN_DISCOVERY_BACKEND: "consul" })).toContain("(file, mem, kubernetes)");
  });
});

describe("spec errors name the path", () => {
  const specError = (input: unknown) =>
    dynError(() => parseOrThrow(DeploymentSpec, input, { code: "DYN_SPEC_INVALID" }));
  const backend = { name: "x" };

  it.each([
    ["top-level unknown key", { backend, nodes: 2 }],
    ["nested unknown key", { backend, roles: { prefil: { workers: 1 } } }],
    ["unknown key in a worker group", { backend, roles: { prefill: { workers: 1, gpus: 2 } } }],
    ["infra external without url", { backend, infra: { etcd: { mode: "external" } } }],
    ["ports window past 65535", { backend, ports: { base: 60000, slot: 100, slots: 100 } }],
    ["relative hfCache", { backend, hfCache: "cache/hf" }],
    [
      "hfCache with a mount separator under pyxis",
      { backend, hfCache: "/a:b", container: { kind: "pyxis", image: "i" } },
    ],
    ["mount without a destination", { backend, container: { kind: "pyxis", image: "i", mounts: ["/a"] } }],
    ["extra sbatch that is not an option", { backend, slurm: { extraSbatch: ["rm -rf /"] } }],
    ["NUL in a user value", { backend, model: { path: "a\0b" } }],
    ["bad env name", { backend, env: { "A-B": "x" } }],
    ["bad time", { backend, slurm: { time: "1 hour" } }],
    [
      "pinned frontend port inside the job port window",
      { backend, roles: { frontend: { httpPort: 12000 } } },
    ],
    ["dynamo.version that is no release form", { backend, dynamo: { version: "one" } }],
    ["unknown key under dynamo", { backend, dynamo: { release: "1.5.1" } }],
  ])("%s", (_name, input) => {
    const e = specError(input);
    expect(e.code).toBe("DYN_SPEC_INVALID");
    expect(e.message.startsWith(`${e.key}: `)).toBe(true);
    expect(e).toMatchSnapshot();
  });
});
