/**
 * etcd and NATS as steps of the job (mode "managed"): on the infra node, bound to its routable IP,
 * data in node-local scratch (etcd's Raft times out on network filesystems), on job-scoped ports.
 */
import type { PlannedStep } from "./plan.js";
import type { RuntimeFacts } from "./releases.js";
import { nodeIpVar as ip } from "./runtime-vars.js";
import type { DeploymentSpec } from "./spec.js";
import { type Arg, join, type PortRef, port, variable, type Word, w } from "./word.js";

const url = (scheme: string, node: number, p: PortRef | undefined): Word =>
  join(scheme, ip(node), ":", port(p as PortRef));

/** The etcd client URL of the managed etcd step (ETCD_ENDPOINTS). */
export const etcdEndpoint = (step: PlannedStep): Word =>
  url("http://", step.nodes[0] as number, step.ports.etcd);
/** The NATS URL of the managed NATS step (NATS_SERVER). */
export const natsServer = (step: PlannedStep): Word =>
  url("nats://", step.nodes[0] as number, step.ports.nats);
/**
 * This run's infra identity (`dyn-<job id>-<random>`, set by the script): etcd's member name and
 * NATS's server name, checked over their HTTP endpoints before any worker starts, so a stranger
 * already listening on the port is never mistaken for this job's etcd or NATS.
 */
export const infraId = variable("DYN_INFRA_ID");
/** Node-local scratch for this job, defined by the rendered script. */
const scratch = variable("DYN_SCRATCH");

function infraStep(
  role: "etcd" | "nats",
  node: number,
  ports: Record<string, PortRef>,
  argv: Arg[],
): PlannedStep {
  return {
    id: role,
    role,
    worker: 0,
    rank: 0,
    nodes: [node],
    tasksPerNode: 1,
    gpus: [],
    ports,
    argv,
    env: {},
    mpi: false,
    log: `logs/${role}.log`,
  };
}

export function etcdStep(node: number, ports: Record<string, PortRef>): PlannedStep {
  const client = url("http://", node, ports.etcd);
  const peer = url("http://", node, ports.etcdPeer);
  return infraStep("etcd", node, { etcd: ports.etcd as PortRef, etcdPeer: ports.etcdPeer as PortRef }, [
    "etcd",
    "--name",
    infraId,
    "--data-dir",
    w`${scratch}/etcd`,
    "--listen-client-urls",
    client,
    "--advertise-client-urls",
    client,
    "--listen-peer-urls",
    peer,
    "--initial-advertise-peer-urls",
    peer,
    "--initial-cluster",
    w`${infraId}=${peer}`,
  ]);
}

export function natsStep(node: number, ports: Record<string, PortRef>, maxPayloadMb: number): PlannedStep {
  return {
    ...infraStep("nats", node, { nats: ports.nats as PortRef, natsMonitor: ports.natsMonitor as PortRef }, [
      "nats-server",
      "--server_name",
      infraId,
      "-js",
      "-sd",
      w`${scratch}/nats`,
      "-a",
      ip(node),
      "-p",
      port(ports.nats as PortRef),
      "-m",
      port(ports.natsMonitor as PortRef),
      "-c",
      w`${variable("DYN_RUN_DIR")}/nats.conf`,
    ]),
    // max_payload has no command-line flag; the renderer writes this file before starting NATS.
    files: { "nats.conf": `max_payload: ${maxPayloadMb * 1024 * 1024}\n` },
  };
}

/**
 * Env every Dynamo process gets for discovery and events (values resolved by the script). Without
 * NATS, NATS_SERVER is never exported: whenever it is set the runtime connects to it and fails
 * without a server (dynamo-releases.md § Infrastructure). 1.0–1.2 default the event plane to NATS,
 * so they are told DYN_EVENT_PLANE=zmq; from 1.3.0 zmq is the default.
 */
export function infraEnv(spec: DeploymentSpec, facts: Pick<RuntimeFacts, "nats">): Record<string, Arg> {
  const env: Record<string, Arg> = {};
  if (spec.infra.etcd.mode !== "off") env.ETCD_ENDPOINTS = variable("DYN_ETCD_ENDPOINTS");
  if (spec.infra.nats.mode !== "off") env.NATS_SERVER = variable("DYN_NATS_SERVER");
  else if (facts.nats === "event-plane") env.DYN_EVENT_PLANE = "zmq";
  return env;
}
