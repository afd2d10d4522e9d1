#!/usr/bin/env bash
# testbed/down.sh — tear down what up.sh made. Safe to run when nothing is up (idempotent), root only.
# Stops ONLY what up.sh started: every process inside the stb-node* namespaces (slurmd, slurmstepd,
# job processes such as etcd/nats/stand-ins), slurmctld, slurmdbd and mariadbd (pid files; also those
# of a half-built accounting template), munged (only if up.sh started it); then removes the
# namespaces, the bridge, the /etc/hosts block, the marked config files (slurm, slurmdbd, plugstack
# entries of either pyxis, the enroot.conf.d drop-in) and $TB_ROOT (with the accounting database, the
# real pyxis' runtime dir and every node's enroot containers). The munge key, installed packages, the
# enroot + pyxis build and the accounting template (/var/cache/dyn-testbed) and built images
# (/var/lib/dyn-testbed/images) are kept.
set -uo pipefail

: "${TB_ROOT:=/var/lib/slurm-testbed}"
: "${TB_BRIDGE:=stbbr0}"
: "${TB_NS_PREFIX:=stb-}"
: "${TB_CONF_DIR:=/etc/slurm}"
: "${TB_KEEP_LOGS:=}"     # non-empty: copy $TB_ROOT/log there before wiping (used by up.sh on failure)
: "${TB_QUIET:=}"
say() { [ -n "$TB_QUIET" ] || echo "[down] $*"; }

[ "$(id -u)" = 0 ] || { echo "down.sh: must run as root" >&2; exit 1; }
# tear down with the parameters the cluster was built with, whatever the caller's env says now
if [ -r "$TB_ROOT/params" ]; then read -r _n TB_BRIDGE TB_NS_PREFIX TB_CONF_DIR _pyxis < "$TB_ROOT/params"; fi

# kill_pids "PID:COMM ...": TERM each PID whose /proc/PID/comm is COMM (never a recycled pid),
# wait up to 5 s, then KILL
kill_pids() {
  local pc pid comm live=()
  for pc in "$@"; do
    pid=${pc%%:*}; comm=${pc#*:}
    [ -n "$pid" ] && [ -d "/proc/$pid" ] || continue
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ] || continue
    kill -TERM "$pid" 2>/dev/null && live+=("$pid")
  done
  [ ${#live[@]} -gt 0 ] || return 0
  for _ in $(seq 50); do
    local any=""; for pid in "${live[@]}"; do [ -d "/proc/$pid" ] && any=1; done
    [ -z "$any" ] && return 0; sleep 0.1
  done
  for pid in "${live[@]}"; do [ -d "/proc/$pid" ] && kill -KILL "$pid" 2>/dev/null && say "killed -9 $pid"; done
}

# 1. cancel jobs first so slurmstepd cleans up normally; harmless when slurmctld is not up
if [ -r "$TB_ROOT/run/slurmctld.pid" ] && command -v squeue >/dev/null; then
  jobs=$(timeout 5 squeue -h -o %i 2>/dev/null || true)
  if [ -n "$jobs" ]; then
    # shellcheck disable=SC2086
    timeout 5 scancel $jobs 2>/dev/null || true
    for _ in $(seq 30); do [ -z "$(timeout 5 squeue -h -t R,CG -o %i 2>/dev/null)" ] && break; sleep 0.2; done
    say "cancelled jobs: $(echo $jobs)"
  fi
fi

# 2. everything inside our node namespaces, found by namespace (so escaped/double-forked job
#    processes go too, whatever proctrack did)
nss=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${TB_NS_PREFIX}node[0-9]+$" || true)
for ns in $nss; do
  pids=$(ip netns pids "$ns" 2>/dev/null || true)
  # shellcheck disable=SC2086
  [ -n "$pids" ] && kill -TERM $pids 2>/dev/null
done
for _ in $(seq 50); do
  left=""; for ns in $nss; do left="$left$(ip netns pids "$ns" 2>/dev/null)"; done
  [ -z "$left" ] && break; sleep 0.1
done
for ns in $nss; do
  pids=$(ip netns pids "$ns" 2>/dev/null || true)
  # shellcheck disable=SC2086
  [ -n "$pids" ] && { kill -KILL $pids 2>/dev/null; say "killed -9 in $ns: $(echo $pids)"; }
done

# 3. slurmctld, the accounting daemons (testbed/accounting.sh) and munged together (each needs up
#    to ~2 s to exit after SIGTERM); munged only if ours
targets=("$(cat "$TB_ROOT/run/slurmctld.pid" 2>/dev/null):slurmctld")
for f in "$TB_ROOT"/run/slurmdbd.pid "$TB_ROOT"/run/slurmdbd-template.pid; do
  [ -r "$f" ] && targets+=("$(cat "$f"):slurmdbd")
done
for f in "$TB_ROOT"/db/mariadbd.pid "$TB_ROOT"/db-template/mariadbd.pid; do
  [ -r "$f" ] && targets+=("$(cat "$f"):mariadbd")
done
[ -r "$TB_ROOT/run/munged.pid" ] && targets+=("$(cat "$TB_ROOT/run/munged.pid"):munged")
kill_pids "${targets[@]}"
[ -r "$TB_ROOT/run/munged.pid" ] && rm -f /run/munge/munged.pid

# 4. network (deleting a namespace deletes its veth, and with it the host-side peer)
for ns in $nss; do ip netns del "$ns" 2>/dev/null; done
ip link show "$TB_BRIDGE" >/dev/null 2>&1 && ip link del "$TB_BRIDGE"

# 5. /etc/hosts block: rewrite in place (the file may be a bind mount, so no sed -i, which renames)
if grep -q '^# BEGIN slurm-testbed' /etc/hosts; then
  new=$(sed '/^# BEGIN slurm-testbed/,/^# END slurm-testbed/d' /etc/hosts)
  printf '%s\n' "$new" > /etc/hosts
fi

# 6. per-node cgroup-v1 trees left by proctrack/cgroup (empty once the processes are gone)
for d in /sys/fs/cgroup/*/slurm_node*; do
  [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
done

# 7. generated config (only files carrying our marker) + state/spool/logs/pids/devices/plugin
for f in slurm.conf slurmdbd.conf gres.conf cgroup.conf plugstack.conf; do
  head -1 "$TB_CONF_DIR/$f" 2>/dev/null | grep -q '^# slurm-testbed' && rm -f "$TB_CONF_DIR/$f"
done
if grep -qs '# slurm-testbed$' "$TB_CONF_DIR/plugstack.conf"; then
  new=$(grep -v '# slurm-testbed$' "$TB_CONF_DIR/plugstack.conf"); printf '%s\n' "$new" > "$TB_CONF_DIR/plugstack.conf"
fi
rm -f "$TB_CONF_DIR/plugstack.conf.d/slurm-testbed-fakepyxis.conf" "$TB_CONF_DIR/plugstack.conf.d/slurm-testbed-pyxis.conf"
head -1 /etc/enroot/enroot.conf.d/50-slurm-testbed.conf 2>/dev/null | grep -q '^# slurm-testbed' &&
  rm -f /etc/enroot/enroot.conf.d/50-slurm-testbed.conf
# Containers: their processes ran in the node namespaces (killed above) and their mounts lived in
# their own mount namespaces. Anything still mounted under $TB_ROOT (a fuse-mounted image, say)
# would stop the rm below, so unmount it first, deepest first.
if [ -d "$TB_ROOT" ]; then
  findmnt -rn -o TARGET 2>/dev/null | grep -E "^$TB_ROOT(/|$)" | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null && say "unmounted $m"
  done
fi
# pyxis' per-step enroot config (/tmp/.enroot_config_*), left only if a slurmstepd was killed mid-start
[ -d "$TB_ROOT/enroot" ] && find /tmp -maxdepth 1 -name '.enroot_config_*' -type f -delete 2>/dev/null
if [ -d "$TB_ROOT" ]; then
  [ -n "$TB_KEEP_LOGS" ] && [ -d "$TB_ROOT/log" ] && { mkdir -p "$TB_KEEP_LOGS"; cp -a "$TB_ROOT/log/." "$TB_KEEP_LOGS/"; }
  rm -rf "$TB_ROOT"
fi
say "testbed is down"
exit 0
