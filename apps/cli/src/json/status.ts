/** `dyn status --json`: `dyn.status/v1`, one entry per deployment. */
import { z } from "@dyn/core";
import {
  Attribution,
  componentResources,
  DEPLOYMENT_STATES,
  DeploymentState,
  End,
  envelope,
  Failed,
  int,
  nonNegative,
  port,
  str,
  Timeline,
} from "./common.js";

/** A role's readiness: registered instances (null before the first count) of those expected. */
export const RoleReadiness = z.strictObject({
  role: z.enum(["prefill", "decode", "aggregated"]),
  component: str,
  registered: nonNegative().nullable(),
  expected: nonNegative(),
  /** Heterogeneous jobs: the --het-group the role runs in; null for an ordinary job. */
  hetGroup: nonNegative().nullable(),
});

/** A heterogeneous job's component: its resources, roles and nodes. */
export const ComponentPlacement = z.strictObject({
  index: nonNegative(),
  ...componentResources,
  image: str.nullable(),
  roles: z.array(str),
  nodes: z.array(nonNegative()),
  hosts: z.array(str).nullable(),
});

/** A keep-alive chain's attempt. */
export const ChainAttempt = z.strictObject({
  attempt: int().positive(),
  jobId: str.nullable(),
  state: z.enum([...DEPLOYMENT_STATES, "handed_over"]),
  live: z.boolean(),
  url: str.nullable(),
  submittedBy: str.nullable(),
  handedOver: z.boolean(),
  refused: str.nullable(),
});

export const StatusEntry = z.strictObject({
  jobId: str.nullable(),
  name: str.nullable(),
  remote: str.nullable(),
  runDir: str.nullable(),
  state: DeploymentState,
  live: z.boolean(),
  url: str.nullable(),
  lastUrl: str.nullable(),
  end: End.nullable(),
  queue: z.strictObject({ slurmState: str, reason: str, nodes: str, time: str }).nullable(),
  accounting: z.strictObject({ slurmState: str, exitCode: str, by: str.nullable() }).nullable(),
  roles: z.array(RoleReadiness),
  components: z.array(ComponentPlacement).nullable(),
  failed: Failed.nullable(),
  attribution: Attribution.nullable(),
  attempt: int().positive(),
  previous: z
    .strictObject({
      state: z.enum(["pending", "starting", "ready", "failed", "stopped"]),
      failed: Failed.nullable(),
    })
    .nullable(),
  ports: z
    .strictObject({ window: nonNegative(), base: port(), end: port(), preferred: nonNegative() })
    .nullable(),
  timeline: Timeline.nullable(),
  chain: z.array(ChainAttempt).nullable(),
});

export const StatusDocument = envelope("dyn.status/v1", { deployments: z.array(StatusEntry) });
