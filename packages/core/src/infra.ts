/**
 * etcd and NATS as steps of the job (mode "managed"): on the infra node, bound to its routable IP,
 * data in node-local scratch (etcd's Raft times out on network filesystems), on job-scoped ports.
 */
import type { PlannedStep } from "./plan.js";
import type { DeploymentSpec } from "./spec.js";
import { type Arg, join, type PortRef, port, variable, w } from "./word.js";

const ip = (node: number) => variable(`DYN_NODE_IP_${node}`);
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
  const client = join("http://", ip(node), ":", port(ports.etcd as PortRef));
  const peer = join("http://", ip(node), ":", port(ports.etcdPeer as PortRef));
  return infraStep("etcd", node, { etcd: ports.etcd as PortRef, etcdPeer: ports.etcdPeer as PortRef }, [
    "etcd",
    "--name",
    "dyn",
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
    w`dyn=${peer}`,
  ]);
}

export function natsStep(node: number, ports: Record<string, PortRef>, maxPayloadMb: number): PlannedStep {
  return {
    ...infraStep("nats", node, { nats: ports.nats as PortRef, natsMonitor: ports.natsMonitor as PortRef }, [
      "nats-server",
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

/** Env every Dynamo process gets for discovery and events (values resolved by the script). */
export function infraEnv(spec: DeploymentSpec): Record<string, Arg> {
  const env: Record<string, Arg> = {};
  if (spec.infra.etcd.mode !== "off") env.ETCD_ENDPOINTS = variable("DYN_ETCD_ENDPOINTS");
  if (spec.infra.nats.mode !== "off") env.NATS_SERVER = variable("DYN_NATS_SERVER");
  // Dynamo's event plane defaults to NATS; without NATS it must be told to use ZMQ.
  else env.DYN_EVENT_PLANE = "zmq";
  return env;
}
