/** `dyn plan --json` and plan.json (core's planToJson): `dyn.plan/v1`. */
import { DeploymentSpec, z } from "@dyn/core";
import { componentResources, int, nonNegative, port, str } from "./common.js";

/** A port: a fixed number, or an offset in the job's window (base + (job id mod slots) × slot). */
export const Port = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("fixed"), port: port() }),
  z.strictObject({ kind: z.literal("offset"), offset: nonNegative() }),
]);

const WorkerRole = z.enum(["prefill", "decode", "aggregated"]);

export const PlanProfile = z.strictObject({
  name: str,
  from: str,
  chain: z.array(str),
  sources: z.array(z.strictObject({ scope: z.enum(["site", "user"]), file: str, profile: str })),
  unused: z.array(str),
});

/** The plan document without its envelope's `ok` (plan.json and deploy --json's `plan`). */
export const planShape = {
  schemaVersion: z.literal(1),
  format: z.literal("dyn.plan/v1"),
  backend: str,
  release: z.strictObject({
    version: str,
    requested: str.nullable(),
    source: z.enum(["explicit", "image", "default"]),
    origin: str,
    notes: z.array(str),
    unknown: z.boolean(),
  }),
  warnings: z.array(z.strictObject({ key: str, message: str })),
  profile: PlanProfile.nullable(),
  nodes: int().positive(),
  gpusPerNode: nonNegative(),
  groups: z.array(
    z.strictObject({
      role: WorkerRole,
      workers: nonNegative(),
      gpusPerWorker: nonNegative(),
      nodesPerWorker: int().positive(),
      component: str,
      alias: str,
      dynamo: str,
      hetGroup: nonNegative().nullable(),
    }),
  ),
  components: z
    .array(
      z.strictObject({
        index: nonNegative(),
        roles: z.array(WorkerRole),
        firstNode: nonNegative(),
        nodes: int().positive(),
        ...componentResources,
        container: DeploymentSpec.shape.container,
      }),
    )
    .nullable(),
  expected: z.record(str, nonNegative()),
  smokeCounters: z
    .union([
      z.strictObject({ metric: str, endpointLabel: str, endpoint: str }),
      z.strictObject({ skipped: str }),
    ])
    .nullable(),
  ports: z.strictObject({ base: port(), slot: int().positive(), slots: int().positive() }),
  frontend: z.strictObject({ node: nonNegative(), port: Port }),
  processes: z.array(
    z.strictObject({
      id: str,
      role: z.enum(["frontend", "prefill", "decode", "aggregated", "etcd", "nats"]),
      worker: nonNegative(),
      rank: nonNegative(),
      nodes: z.array(nonNegative()),
      gpus: z.array(nonNegative()),
      ports: z.record(str, Port),
      command: z.array(str),
      env: z.record(str, str),
      registers: str.nullable(),
      log: str,
    }),
  ),
  /** The resolved spec (schema/dyn.schema.json describes its input form). */
  spec: DeploymentSpec,
};

/** plan.json and deploy --json's `plan`: the plan document without `ok`. */
export const PlanFile = z.strictObject(planShape);

/** `dyn plan --json`. */
export const PlanDocument = z.strictObject({ ...planShape, ok: z.boolean() });
