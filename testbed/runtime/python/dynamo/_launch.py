"""Stand-in for TensorRT-LLM's `trtllm-llmapi-launch <cmd...>` (MPI launcher of the LLM API).

Upstream runs as N MPI ranks (srun --mpi=pmix --ntasks=N): rank 0 runs <cmd> and drives the engine,
the other ranks serve as MPI workers until rank 0 is done. The stand-in keeps that shape without MPI:
  * a single task (SLURM_STEP_NUM_TASKS / SLURM_NTASKS unset or 1) simply execs <cmd>;
  * otherwise rank = SLURM_PROCID; rank 0 listens on a port derived from SLURM_JOB_ID and
    SLURM_STEP_ID (43000-44999: two steps of one job, or two jobs sharing a node, do not collide),
    waits (bounded, DYN_STANDIN_PEER_TIMEOUT, default 120 s) until every other rank checked in,
    then runs <cmd> and exits with its exit code; the other ranks connect to the FIRST host of
    SLURM_STEP_NODELIST (expanded with `scontrol show hostnames`) and stay alive until rank 0 exits.
<cmd> gets DYN_STANDIN_MPI_WORLD_SIZE=<tasks> (what MPI_Comm_size would say): the stand-in
dynamo.trtllm checks tensor_parallel_size x pipeline_parallel_size against it, as TensorRT-LLM does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from ._runtime import Fatal, Lifecycle, Log, PeerGroup, hostname

PORT_BASE, PORT_SPAN = 43000, 2000


def first_host(nodelist: str) -> str:
    try:
        out = subprocess.run(["scontrol", "show", "hostnames", nodelist], capture_output=True,
                             text=True, timeout=10)
        hosts = out.stdout.split()
        if out.returncode == 0 and hosts:
            return hosts[0]
    except (OSError, subprocess.SubprocessError):
        pass
    return nodelist.split(",")[0]   # plain "nodeA,nodeB" without brackets


def env_int(*names, default=None):
    for n in names:
        v = os.environ.get(n)
        if v not in (None, ""):
            try:
                return int(v)
            except ValueError:
                pass
    return default


def main(argv=None) -> int:
    cmd = sys.argv[1:] if argv is None else argv
    if not cmd or cmd[0] in ("-h", "--help"):
        print("usage: trtllm-llmapi-launch <command> [args...]   (Dynamo stand-in)")
        return 0 if cmd else 2
    ntasks = env_int("SLURM_STEP_NUM_TASKS", "SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", default=1)
    rank = env_int("SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMI_RANK", default=0)
    log = Log(f"trtllm-llmapi-launch rank{rank}/{ntasks} {hostname()}")
    os.environ["DYN_STANDIN_MPI_WORLD_SIZE"] = str(max(ntasks, 1))
    if ntasks <= 1:
        log(f"single task: exec {cmd!r}")
        try:
            os.execvp(cmd[0], cmd)
        except OSError as e:
            log(f"cannot exec {cmd[0]}: {e}", err=True)
            return 127
    job = env_int("SLURM_JOB_ID", "SLURM_JOBID", default=0)
    step = env_int("SLURM_STEP_ID", "SLURM_STEPID", default=0)
    port = PORT_BASE + (job * 31 + step) % PORT_SPAN
    leader = first_host(os.environ.get("SLURM_STEP_NODELIST") or os.environ.get("SLURM_NODELIST") or "localhost")
    life = Lifecycle()
    life.install_signals(log)
    peers = PeerGroup(life, log, rank, ntasks, leader, port)
    try:
        peers.start(bind_any=True)
    except Fatal as e:
        if e.code:
            log(f"fatal: {e}", err=True)
        peers.close()
        return e.code
    if rank != 0:
        log(f"MPI worker rank {rank} standing by for rank 0 on {leader}:{port}")
        life.stop.wait()
        peers.close()
        log(f"exiting ({life.reason}), code {life.code}")
        return life.code
    log(f"all {ntasks} ranks checked in; rank 0 runs {cmd!r}")
    try:
        child = subprocess.Popen(cmd)
    except OSError as e:
        log(f"cannot run {cmd[0]}: {e}", err=True)
        peers.close()
        return 127
    # forward our stop (SIGTERM / lost rank) to the command, then collect its exit code
    while child.poll() is None:
        if life.stop.wait(0.2):
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()
            break
    rc = child.wait()
    peers.close()
    log(f"command exited with {rc}")
    return rc if not life.stop.is_set() or life.code == 0 else life.code
