#!/usr/bin/env bash
# testbed/up.sh — bring up a REAL multi-node Slurm 22.05 cluster on ONE Debian machine (root only).
#
# Why: `dyn` renders sbatch scripts; the only convincing test is to submit them to a real slurmctld
# with several nodes that have their own hostname and IP, so multi-node srun steps, --overlap,
# scancel, gres and the NATS/etcd/frontend/worker wiring behave like on a real cluster.
#
# Layout (defaults):
#   bridge  stbbr0  10.77.0.1/24 in the root netns; slurmctld listens there with UTS hostname "slurmhead"
#   nodeK   own network namespace stb-nodeK (veth "eth0" = 10.77.0.(10+K), NO default route) and own
#           UTS namespace (hostname nodeK), each running its own slurmd
#   /etc/hosts            marked block slurmhead + node1..nodeN (removed by down.sh, byte-identical)
#   /etc/slurm/{slurm,gres,cgroup}.conf   marked "slurm-testbed" (default path: no SLURM_CONF needed)
#   $TB_ROOT              state, spool, logs, pid files, fake GPU devices, pyxis-kind (which pyxis
#                         is loaded), the real pyxis' runtime dir pyxis/ and per-node enroot storage
#                         enroot/<node>-<uid>/, or fakepyxis.so and its request log (wiped by down.sh)
#   pyxis                 TB_PYXIS=real (default): NVIDIA pyxis + enroot, built once per machine by
#                         pyxis/build.sh; TB_PYXIS=fake: fakepyxis.c; never both in plugstack
#   accounting            TB_ACCOUNTING=1 (default): slurmdbd + MariaDB (accounting.sh), so sacct
#                         answers for finished jobs; TB_ACCOUNTING=0: accounting_storage/none
# Idempotent: always runs down.sh first, so "up.sh; up.sh" gives a fresh, empty cluster.
set -euo pipefail

: "${TB_NODES:=4}"           # compute nodes node1..nodeN
: "${TB_CPUS:=2}"            # CPUs advertised per node (config_overrides lets this exceed the real cores)
: "${TB_MEM:=4000}"          # RealMemory (MB) per node; --mem above it is rejected by Slurm
: "${TB_GPUS:=8}"            # fake gpu gres per node; 0 = no GresTypes=gpu
: "${TB_GPU_TYPE:=}"         # optional gres type, e.g. h100 -> Gres=gpu:h100:8
: "${TB_NET:=10.77.0}"       # /24 prefix: head = .1, nodeK = .(10+K)
: "${TB_BRIDGE:=stbbr0}"
: "${TB_NS_PREFIX:=stb-}"
: "${TB_ROOT:=/var/lib/slurm-testbed}"
: "${TB_CONF_DIR:=/etc/slurm}"
: "${TB_PARTITION:=batch}"
# A second partition over a subset of the nodes (heterogeneous jobs: prefill in one partition, decode
# in the other). The default partition keeps every node, so jobs that name no partition are unchanged.
# Empty TB_PARTITION2 = none; TB_PARTITION2_NODES defaults to the upper half (node3,node4 of 4).
: "${TB_PARTITION2=gpu2}"
: "${TB_PARTITION2_NODES:=}"
: "${TB_HEAD:=slurmhead}"
: "${TB_INSTALL:=1}"         # 1: apt-get install whatever is missing (CI runs this on a fresh machine)
: "${TB_EXTRA_PKGS:=}"       # more Debian packages to make sure of
: "${TB_SERVICES:=1}"        # 1: make sure nats-server + etcd (server and client) + curl are installed
: "${TB_WAIT:=60}"           # seconds to wait for every node to be idle
: "${TB_PROCTRACK:=auto}"    # auto | cgroup | linuxproc | pgid
: "${TB_PYXIS:=}"            # real (default): NVIDIA pyxis + enroot | fake: fakepyxis.c | none
: "${TB_PYXIS_ARGS:=container_scope=job}"   # extra plugstack arguments for the real pyxis
: "${TB_SMOKE:=1}"           # 1: finish with "srun -N<all> hostname" and check the names
: "${TB_ACCOUNTING:=1}"      # 1: slurmdbd + MariaDB (testbed/accounting.sh); 0: no accounting (no sacct)
: "${TB_DBD_PORT:=6819}"     # slurmdbd's port

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
T0=$(date +%s.%N)
log() { printf '[up %6.2fs] %s\n' "$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')" "$*"; }
die() { echo "up.sh: ERROR: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"
[[ "$TB_NODES" =~ ^[0-9]+$ ]] && [ "$TB_NODES" -ge 1 ] && [ "$TB_NODES" -le 200 ] || die "TB_NODES must be 1..200"
[[ "$TB_GPUS" =~ ^[0-9]+$ ]] || die "TB_GPUS must be a number"
if [ -z "$TB_PYXIS" ]; then
  # TB_FAKE_PYXIS is the older switch: 1 = the fake, 0 = no pyxis at all
  case "${TB_FAKE_PYXIS:-}" in 1) TB_PYXIS=fake ;; 0) TB_PYXIS=none ;; *) TB_PYXIS=real ;; esac
fi
case "$TB_PYXIS" in real | fake | none) ;; *) die "TB_PYXIS must be real, fake or none (got '$TB_PYXIS')" ;; esac
case "$TB_ACCOUNTING" in 0 | 1) ;; *) die "TB_ACCOUNTING must be 1 or 0 (got '$TB_ACCOUNTING')" ;; esac

# On failure: show the log tails, keep a copy of the logs, tear the half-built testbed down so a
# failed up.sh never leaves namespaces or daemons behind.
on_exit() {
  local rc=$?
  [ "$rc" = 0 ] && return
  if [ -d "$TB_ROOT/log" ]; then
    tail -n 15 "$TB_ROOT"/log/*.log >&2 2>/dev/null || true
    echo "up.sh: failed (rc=$rc); logs copied to /tmp/slurm-testbed-failed-logs" >&2
  fi
  TB_KEEP_LOGS=/tmp/slurm-testbed-failed-logs TB_QUIET=1 bash "$HERE/down.sh" || true
}
trap on_exit EXIT

# ------------------------------------------------------------------ 0. packages
# CI starts from a fresh machine: install what is missing. The cached package lists may be stale or
# absent, so a failed install is retried once after "apt-get update".
pk="slurmctld slurmd slurm-client munge iproute2 util-linux"
[ "$TB_SERVICES" = 1 ] && pk="$pk nats-server etcd-server etcd-client curl"
[ "$TB_PYXIS" = fake ] && pk="$pk libslurm-dev gcc libc6-dev"
[ "$TB_PYXIS" = real ] && pk="$pk $(bash "$HERE/pyxis/build.sh" --packages) $(bash "$HERE/image/build.sh" --packages)"
[ "$TB_ACCOUNTING" = 1 ] && pk="$pk $(bash "$HERE/accounting.sh" --packages)"
need=()
for p in $pk $TB_EXTRA_PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  [ "$TB_INSTALL" = 1 ] || die "missing packages: ${need[*]}"
  log "apt-get install ${need[*]}"
  # No systemd here: postinst scripts cannot start the daemons, which is what we want.
  inst() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null; }
  inst || { apt-get update -q >/dev/null && inst; } || die "apt-get install ${need[*]} failed"
fi
log "packages ok"
if [ "$TB_PYXIS" = real ]; then
  # Once per machine (cached, ~0.05 s when nothing changed). No silent fallback to the fake.
  TB_INSTALL="$TB_INSTALL" bash "$HERE/pyxis/build.sh" \
    || die "TB_PYXIS=real: building enroot + pyxis failed (see above); TB_PYXIS=fake selects the stand-in plugin"
  read -r pyxis_v enroot_v pyxis_so < <(bash "$HERE/pyxis/build.sh" --versions | sed 's/[a-z]*=//g')
  [ "$(bash "$HERE/pyxis/build.sh" --installed)" = "enroot=$enroot_v" ] || die "TB_PYXIS=real: enroot $enroot_v is not working"
  [ -r "$pyxis_so" ] || die "TB_PYXIS=real: $pyxis_so missing"
  log "pyxis $pyxis_v + enroot $enroot_v installed"
fi

# ------------------------------------------------------------------ 1. clean slate (idempotent)
TB_ROOT="$TB_ROOT" TB_BRIDGE="$TB_BRIDGE" TB_NS_PREFIX="$TB_NS_PREFIX" TB_CONF_DIR="$TB_CONF_DIR" \
  TB_QUIET=1 bash "$HERE/down.sh"
mkdir -p "$TB_ROOT"/{ctld,spool,log,run,dev}
chmod 0755 "$TB_ROOT"
# down.sh reads these back, so it tears down exactly what this run created even with other knobs
echo "$TB_NODES $TB_BRIDGE $TB_NS_PREFIX $TB_CONF_DIR $TB_PYXIS" > "$TB_ROOT/params"
if [ "$TB_PROCTRACK" = auto ]; then
  # cgroup kills every process of a cancelled job (setsid, double fork); linuxproc leaks them and
  # keeps the job COMPLETING for ~65 s. Slurm 22.05 here needs the cgroup-v1 freezer.
  if [ -e /sys/fs/cgroup/freezer/release_agent ]; then TB_PROCTRACK=cgroup; else TB_PROCTRACK=linuxproc; fi
fi
log "previous testbed (if any) torn down"

# ------------------------------------------------------------------ 2. munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  if [ ! -s /etc/munge/munge.key ]; then mkdir -p /etc/munge; mungekey --create --keyfile=/etc/munge/munge.key; fi
  chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge 2>/dev/null || true
  chmod 0700 /etc/munge; chmod 0400 /etc/munge/munge.key
  mkdir -p /run/munge; chown munge:munge /run/munge; chmod 0755 /run/munge
  # --force: tolerate a stale socket/lock from a killed munged. One munged serves every node: its
  # unix socket lives on the shared filesystem, which network namespaces do not separate.
  runuser -u munge -- /usr/sbin/munged --force --pid-file=/run/munge/munged.pid
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
  munge -n | unmunge >/dev/null || die "munged not working (see /var/log/munge/munged.log)"
  cat /run/munge/munged.pid > "$TB_ROOT/run/munged.pid"   # marker: down.sh stops only a munged we started
  log "munged started"
else
  log "munged already running (left alone)"
fi

# ------------------------------------------------------------------ 3. network: bridge + one netns per node
# We only ever talk to addresses we create, so refuse a subnet that is already in use here.
if ip -4 -o addr show | grep -qF " $TB_NET." || [ -n "$(ip -4 route show "$TB_NET.0/24")" ]; then
  die "$TB_NET.0/24 is already in use on this machine; pick another TB_NET"
fi
ip link add "$TB_BRIDGE" type bridge
ip addr add "$TB_NET.1/24" dev "$TB_BRIDGE"
ip link set "$TB_BRIDGE" up
for k in $(seq 1 "$TB_NODES"); do
  ns="${TB_NS_PREFIX}node$k"
  ip netns add "$ns"
  ip link add "${TB_NS_PREFIX}v$k" type veth peer name eth0 netns "$ns"
  ip link set "${TB_NS_PREFIX}v$k" master "$TB_BRIDGE" up
  ip -n "$ns" addr add "$TB_NET.$((10 + k))/24" dev eth0
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
  # deliberately no default route: jobs can reach only testbed addresses (no internet, not the host's 127.0.0.1)
done
log "network: $TB_BRIDGE $TB_NET.1/24 + $TB_NODES namespaces"

# ------------------------------------------------------------------ 4. /etc/hosts block
# Job scripts resolve node names (scontrol show hostnames, getent hosts nodeK) like on a real cluster.
[ -z "$(tail -c1 /etc/hosts)" ] || echo >> /etc/hosts
{
  echo "# BEGIN slurm-testbed"
  echo "$TB_NET.1 $TB_HEAD"
  for k in $(seq 1 "$TB_NODES"); do echo "$TB_NET.$((10 + k)) node$k"; done
  echo "# END slurm-testbed"
} >> /etc/hosts

# ------------------------------------------------------------------ 5. config files
mkdir -p "$TB_CONF_DIR"
gres_node=""
if [ "$TB_GPUS" -gt 0 ]; then
  if [ -n "$TB_GPU_TYPE" ]; then gres_node="Gres=gpu:$TB_GPU_TYPE:$TB_GPUS"; else gres_node="Gres=gpu:$TB_GPUS"; fi
  # slurmd insists that gres File= is a char/block device, so make char devices with /dev/null's numbers
  for g in $(seq 0 $((TB_GPUS - 1))); do mknod -m 0666 "$TB_ROOT/dev/nvidia$g" c 1 3; done
fi
{
  echo "# slurm-testbed: generated by $HERE/up.sh — removed by down.sh"
  cat <<EOF
ClusterName=testbed
SlurmctldHost=$TB_HEAD($TB_NET.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$TB_ROOT/ctld
SlurmdSpoolDir=$TB_ROOT/spool/%n
SlurmctldPidFile=$TB_ROOT/run/slurmctld.pid
SlurmdPidFile=$TB_ROOT/run/slurmd-%n.pid
SlurmctldLogFile=$TB_ROOT/log/slurmctld.log
SlurmdLogFile=$TB_ROOT/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/$TB_PROCTRACK
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# batch_sched_delay defaults to 3 s: every sbatch would wait up to 3 s for the next scheduling pass
SchedulerParameters=batch_sched_delay=0
# let nodes advertise more CPUs/memory than the machine has (otherwise they are drained)
SlurmdParameters=config_overrides
# a node whose slurmd died comes back by itself when it re-registers
ReturnToService=2
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
SlurmctldTimeout=30
SlurmdTimeout=30
MessageTimeout=10
InactiveLimit=0
KillWait=5
MinJobAge=300
EOF
  if [ "$TB_ACCOUNTING" = 1 ]; then
    # slurmctld records every job in slurmdbd (testbed/accounting.sh); sacct and sacctmgr ask it, from
    # the host and from the nodes (slurmhead is the bridge address)
    echo "AccountingStorageType=accounting_storage/slurmdbd"
    echo "AccountingStorageHost=$TB_HEAD"
    echo "AccountingStoragePort=$TB_DBD_PORT"
  else
    echo "AccountingStorageType=accounting_storage/none"
  fi
  [ "$TB_GPUS" -gt 0 ] && echo "GresTypes=gpu"
  for k in $(seq 1 "$TB_NODES"); do
    echo "NodeName=node$k NodeAddr=$TB_NET.$((10 + k)) CPUs=$TB_CPUS RealMemory=$TB_MEM $gres_node State=UNKNOWN"
  done
  echo "PartitionName=$TB_PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
  if [ -n "$TB_PARTITION2" ] && [ "$TB_NODES" -ge 2 ]; then
    p2=$TB_PARTITION2_NODES
    [ -n "$p2" ] || p2=$(seq -s, -f 'node%g' $((TB_NODES / 2 + 1)) "$TB_NODES")
    echo "PartitionName=$TB_PARTITION2 Nodes=$p2 Default=NO MaxTime=INFINITE State=UP"
  fi
} > "$TB_CONF_DIR/slurm.conf"
{
  echo "# slurm-testbed: generated by $HERE/up.sh — removed by down.sh"
  echo "AutoDetect=off"   # there is no NVML; the devices are fake
  if [ "$TB_GPUS" -gt 0 ]; then
    tp=""; [ -n "$TB_GPU_TYPE" ] && tp="Type=$TB_GPU_TYPE "
    echo "NodeName=node[1-$TB_NODES] Name=gpu ${tp}File=$TB_ROOT/dev/nvidia[0-$((TB_GPUS - 1))]"
  fi
} > "$TB_CONF_DIR/gres.conf"
if [ "$TB_PROCTRACK" = cgroup ]; then
  # Without cgroup.conf every job fails with "cgroup namespace 'freezer' not mounted". Debian's build
  # has MULTIPLE_SLURMD, so each slurmd uses its own /sys/fs/cgroup/<ctrl>/slurm_<node> tree.
  cat > "$TB_CONF_DIR/cgroup.conf" <<EOF
# slurm-testbed: generated by $HERE/up.sh — removed by down.sh
CgroupPlugin=cgroup/v1
CgroupMountpoint=/sys/fs/cgroup
ConstrainCores=no
ConstrainRAMSpace=no
ConstrainSwapSpace=no
ConstrainDevices=no
EOF
fi
if [ "$TB_PYXIS" != none ]; then
  mkdir -p "$TB_CONF_DIR/plugstack.conf.d"
  if [ ! -e "$TB_CONF_DIR/plugstack.conf" ]; then
    # Debian ships this file (slurm-wlm-basic-plugins); recreate it only if missing, marked for down.sh
    printf '# slurm-testbed: generated by up.sh — removed by down.sh\ninclude %s/plugstack.conf.d/*.conf\n' \
      "$TB_CONF_DIR" > "$TB_CONF_DIR/plugstack.conf"
  elif ! grep -qs 'plugstack.conf.d' "$TB_CONF_DIR/plugstack.conf"; then
    echo "include $TB_CONF_DIR/plugstack.conf.d/*.conf # slurm-testbed" >> "$TB_CONF_DIR/plugstack.conf"
  fi
  # the two plugins claim the same options: exactly one of them is ever configured
  rm -f "$TB_CONF_DIR"/plugstack.conf.d/slurm-testbed-{fakepyxis,pyxis}.conf
fi
if [ "$TB_PYXIS" = fake ]; then
  gcc -O2 -Wall -Werror -shared -fPIC -o "$TB_ROOT/fakepyxis.so" "$HERE/fakepyxis.c"
  # world-writable request log: steps of non-root users append to it too
  : > "$TB_ROOT/pyxis-requests.log"; chmod 0666 "$TB_ROOT/pyxis-requests.log"
  echo "optional $TB_ROOT/fakepyxis.so log=$TB_ROOT/pyxis-requests.log" \
    > "$TB_CONF_DIR/plugstack.conf.d/slurm-testbed-fakepyxis.conf"
fi
if [ "$TB_PYXIS" = real ]; then
  # The nodes share one mount namespace and filesystem, so enroot's storage is split per node (else
  # a step would find, and join, another node's container of the same name) and per user (a user
  # cannot write into root's directories). enroot evaluates $(...) in its config files in the step's
  # own context, where uname -n is the node's name (its UTS namespace). pyxis ignores ENROOT_*_PATH
  # from the job's environment, so this file is the place.
  mkdir -p "$TB_ROOT/enroot" "$TB_ROOT/pyxis"
  chmod 1777 "$TB_ROOT/enroot"
  mkdir -p /etc/enroot/enroot.conf.d
  {
    echo "# slurm-testbed: generated by $HERE/up.sh — removed by down.sh"
    for v in RUNTIME:run CACHE:cache DATA:data; do
      # shellcheck disable=SC2016 # evaluated by enroot, per step
      printf 'ENROOT_%s_PATH %s/enroot/$(uname -n)-$(id -u)/%s\n' "${v%%:*}" "$TB_ROOT" "${v#*:}"
    done
  } > /etc/enroot/enroot.conf.d/50-slurm-testbed.conf
  # required: slurmd and srun refuse to start if the plugin cannot be loaded (no silent fallback).
  # runtime_path is one directory for all nodes; pyxis keeps only registry imports there.
  # container_scope=job: a --container-name becomes pyxis_<jobid>_<name>, removed at the job's end.
  echo "required $pyxis_so runtime_path=$TB_ROOT/pyxis $TB_PYXIS_ARGS" \
    > "$TB_CONF_DIR/plugstack.conf.d/slurm-testbed-pyxis.conf"
fi
for k in $(seq 1 "$TB_NODES"); do mkdir -p "$TB_ROOT/spool/node$k"; done
log "config written (proctrack/$TB_PROCTRACK, pyxis $TB_PYXIS)"

# ------------------------------------------------------------------ 6. daemons
if [ "$TB_ACCOUNTING" = 1 ]; then
  # before slurmctld, which registers with slurmdbd at start. The database comes from a cached
  # template (the first run on a machine builds it: about 3 s).
  TB_ROOT="$TB_ROOT" TB_CONF_DIR="$TB_CONF_DIR" TB_HEAD="$TB_HEAD" TB_DBD_PORT="$TB_DBD_PORT" TB_WAIT="$TB_WAIT" \
    bash "$HERE/accounting.sh" up || die "accounting (slurmdbd + MariaDB) did not start; TB_ACCOUNTING=0 runs without"
  log "accounting: slurmdbd + MariaDB up"
fi
# slurmctld stays in the root netns (reachable from the host and from every node over the bridge) but
# gets its own UTS namespace: it refuses to start unless gethostname() equals SlurmctldHost.
unshare --uts -- sh -c "hostname $TB_HEAD && exec slurmctld -f $TB_CONF_DIR/slurm.conf" \
  || die "slurmctld did not start; see $TB_ROOT/log/slurmctld.log"
for k in $(seq 1 "$TB_NODES"); do
  # nsenter --net, NOT "ip netns exec": the latter remounts /sys, hiding /sys/fs/cgroup, and slurmd
  # 22.05 always initialises its cgroup plugin ("No filesystem mounted on /sys/fs/cgroup" -> exits).
  # unshare --uts + hostname: slurmd takes its NodeName from gethostname(), and job steps inherit both
  # namespaces, so `hostname` inside a step says nodeK.
  nsenter --net="/run/netns/${TB_NS_PREFIX}node$k" unshare --uts -- \
    sh -c "hostname node$k && exec slurmd -f $TB_CONF_DIR/slurm.conf" \
    || die "slurmd node$k did not start; see $TB_ROOT/log/slurmd-node$k.log"
done
log "daemons started"

# ------------------------------------------------------------------ 7. wait until every node is idle
deadline=$(( $(date +%s) + TB_WAIT ))
while :; do
  states=$(sinfo -h -N -p "$TB_PARTITION" -o '%N %T' 2>/dev/null | sort -u || true)
  nidle=$(echo "$states" | grep -c ' idle$' || true)
  [ "$nidle" -eq "$TB_NODES" ] && break
  for n in $(echo "$states" | awk '$2 ~ /down|drain|fail/ {print $1}'); do
    scontrol update nodename="$n" state=resume 2>/dev/null || true
  done
  [ "$(date +%s)" -lt "$deadline" ] || { echo "$states" >&2; die "nodes not idle after ${TB_WAIT}s; see $TB_ROOT/log/"; }
  sleep 0.2
done
log "cluster up: $TB_NODES nodes idle"

# ------------------------------------------------------------------ 8. smoke test
if [ "$TB_SMOKE" = 1 ]; then
  got=$(timeout 30 srun -N "$TB_NODES" --ntasks-per-node=1 hostname | sort -V | tr '\n' ' ')
  want=$(for k in $(seq 1 "$TB_NODES"); do printf 'node%s ' "$k"; done)
  [ "$got" = "$want" ] || die "smoke test: srun hostname gave '$got', expected '$want'"
  log "smoke test ok: $got"
fi

# ------------------------------------------------------------------ 9. which pyxis is loaded (checked, not assumed)
# srun loads plugstack itself: the options must be there. Each slurmd logs the plugin it loaded.
if [ "$TB_PYXIS" != none ]; then
  srun --help 2>&1 | grep -q -- '--container-image' || die "pyxis ($TB_PYXIS): srun does not offer --container-image"
fi
if [ "$TB_PYXIS" = real ]; then
  for k in $(seq 1 "$TB_NODES"); do
    grep -q "pyxis: version v$pyxis_v" "$TB_ROOT/log/slurmd-node$k.log" \
      || die "pyxis $pyxis_v is not loaded by slurmd on node$k (see $TB_ROOT/log/slurmd-node$k.log)"
  done
  if [ "$TB_SMOKE" = 1 ]; then
    # one real container step: enroot create + start (hooks, mounts, switchroot) on node1
    img=$(bash "$HERE/image/build.sh") || die "TB_PYXIS=real: building the test image failed"
    got=$(timeout 60 srun -N1 -w node1 --container-image="$img" cat /etc/dynamo-release 2>&1) \
      || die "TB_PYXIS=real: a container step failed: $got"
    log "container smoke test ok: $img (release $got)"
    # pyxis' job-end clean-up keeps the node COMPLETING a little longer: wait for it to be idle
    for _ in $(seq 100); do [ "$(sinfo -h -n node1 -o %T)" = idle ] && break; sleep 0.1; done
  fi
  kind="real pyxis=$pyxis_v enroot=$enroot_v"
  line="pyxis real $pyxis_v (enroot $enroot_v)"
elif [ "$TB_PYXIS" = fake ]; then
  kind="fake"
  line="pyxis fake (testbed/fakepyxis.c; request log $TB_ROOT/pyxis-requests.log)"
else
  kind="none"
  line="pyxis none (no --container-* options)"
fi
# one line for tests: "real pyxis=<v> enroot=<v>", "fake" or "none"
echo "$kind" > "$TB_ROOT/pyxis-kind"
if [ "$TB_ACCOUNTING" = 1 ]; then
  echo "slurmdbd" > "$TB_ROOT/accounting-kind"
  acct="accounting $(bash "$HERE/accounting.sh" --versions)"
else
  echo "none" > "$TB_ROOT/accounting-kind"
  acct="accounting none (no sacct)"
fi
sinfo -N -p "$TB_PARTITION" -o '%N %T %c %m %G'
echo "testbed: $acct"
echo "testbed: $line"
exit 0
