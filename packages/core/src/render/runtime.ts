/**
 * The static part of every rendered script: event log, step supervision (fail fast, TERM then KILL),
 * TCP waits, node setup (routable IP, model cache) and the /health readiness probe. Plan-specific
 * values are shell variables set before this block, so nothing here is interpolated.
 */
export const RUNTIME_LIBRARY = `# ---- runtime helpers (static; every plan-specific value is set above) ----
declare -A DYN_PIDS=() DYN_WHERE=()
DYN_DONE=0

dyn_log() { printf '[dyn %(%H:%M:%S)T] %s\\n' -1 "$*"; }

# JSON string escaping for the script-generated texts in status events: every control character is
# escaped, so an event stays one valid JSON line whatever a URL or message contains.
dyn_json() {
  local s=\${1//\\\\/\\\\\\\\} out="" c
  s=\${s//\\"/\\\\\\"}
  s=\${s//$'\\n'/\\\\n}
  s=\${s//$'\\r'/\\\\r}
  s=\${s//$'\\t'/\\\\t}
  while [[ $s =~ ^([^[:cntrl:]]*)([[:cntrl:]])(.*)$ ]]; do
    printf -v c '\\\\u%04x' "'\${BASH_REMATCH[2]}"
    out+=\${BASH_REMATCH[1]}$c
    s=\${BASH_REMATCH[3]}
  done
  printf '"%s"' "$out$s"
}

# Append one event to the status file that \`dyn status\` and \`dyn deploy --wait\` read.
# dyn_emit <event> [<field> <json value>]...
dyn_emit() {
  local event=$1 fields=""
  shift
  while [ $# -ge 2 ]; do fields+=",\\"$1\\":$2"; shift 2; done
  # Millisecond timestamps (bash >= 5 has EPOCHREALTIME; older bash forks date). Some locales print a
  # decimal comma, which JSON would not accept.
  local t=\${EPOCHREALTIME:-$(date +%s.%N)}
  t=\${t/,/.}
  printf '{"t":%s,"event":"%s"%s}\\n' "\${t:0:14}" "$event" "$fields" >>"$DYN_STATUS"
}

# Stop every step: TERM (srun forwards it to the tasks), then KILL after the grace period.
dyn_stop_steps() {
  local pid alive deadline=$((SECONDS + DYN_GRACE))
  # The readiness watcher first: the final \`wait\` below would otherwise wait for it forever.
  [ -z "\${DYN_HEALTH_PID:-}" ] || kill "$DYN_HEALTH_PID" 2>/dev/null || true
  for pid in "\${DYN_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  while ((SECONDS < deadline)); do
    alive=0
    for pid in "\${DYN_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.5
  done
  for pid in "\${DYN_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  # Any other background child goes too: a /health watcher that was starting as the signal arrived
  # (DYN_HEALTH_PID not yet set) would keep the final wait, and the job, alive.
  for pid in $(jobs -p); do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  DYN_PIDS=()
}

# dyn_fail <component> <message> [<exit code>]: record, stop everything, exit non-zero.
dyn_fail() {
  trap - TERM INT
  DYN_DONE=1
  dyn_log "FAILED: $1: $2" >&2
  dyn_emit failed component "$(dyn_json "$1")" message "$(dyn_json "$2")" \${3:+code "$3"}
  dyn_stop_steps
  exit 1
}

# What SLURM says ended the job, from the line slurmstepd writes into a cancelled step's log
# ("*** STEP 7.3 ON node1 CANCELLED AT <time> DUE TO TIME LIMIT ***"): TIMEOUT, PREEMPTED, NODE_FAIL
# or CANCELLED (scancel, by whom SLURM's accounting says). Empty when no step says so.
dyn_slurm_end() {
  local line
  line=$(grep -h -m1 -o -E -- '[*]{3} STEP [^*]* CANCELLED AT [^*]*' "$DYN_RUN_DIR"/logs/*.log 2>/dev/null | head -n 1 || true)
  case "$line" in
    "") ;;
    *"DUE TO TIME LIMIT"*) printf 'TIMEOUT' ;;
    *"DUE TO PREEMPTION"*) printf 'PREEMPTED' ;;
    *"DUE TO NODE FAIL"*) printf 'NODE_FAIL' ;;
    *) printf 'CANCELLED' ;;
  esac
}

dyn_on_signal() {
  trap - TERM INT
  DYN_ENDING=1
  if [ "$DYN_DONE" = 0 ]; then
    DYN_DONE=1
    dyn_log "received SIG$1: stopping all steps"
    dyn_emit stopped signal "$(dyn_json "$1")"
    dyn_stop_steps
    # The steps' logs now say why SLURM ended the job (time limit, scancel, preemption).
    local why
    why=$(dyn_slurm_end)
    [ -z "$why" ] || dyn_emit ended reason "$(dyn_json "$why")"
  fi
  exit 143
}
trap 'dyn_on_signal TERM' TERM
trap 'dyn_on_signal INT' INT
# On every exit: stop the steps, then remove this run's scratch on the infra node (the batch host).
DYN_HEALTH_PID=""
trap 'dyn_stop_steps; dyn_release_windows; rm -rf -- "$DYN_SCRATCH"' EXIT

# dyn_release_lock <lock dir>: remove this run's port-window lock on this node.
dyn_release_lock() {
  local d
  for d in "$1/\${SLURMD_NODENAME:-$(hostname -s)}"/window-*; do
    [ "$(cat "$d/owner" 2>/dev/null)" != "$SLURM_JOB_ID $DYN_INFRA_ID" ] || rm -rf -- "$d"
  done
  return 0
}
export -f dyn_release_lock

# At exit: the batch host's lock directly, the other nodes' in one bounded step, unless SLURM is
# ending the job (no step can start then; the next dyn job on those nodes removes the stale locks).
DYN_ENDING=0
dyn_release_windows() {
  [ -n "\${DYN_LOCKS:-}" ] || return 0
  dyn_release_lock "$DYN_LOCKS"
  if [ "$DYN_ENDING" = 0 ] && [ "\${#DYN_NODES[@]}" -gt 1 ]; then
    # shellcheck disable=SC2016 # expanded by the step's bash
    timeout 10 srun --overlap --nodes="\${#DYN_NODES[@]}" --ntasks="\${#DYN_NODES[@]}" --ntasks-per-node=1 \\
      --job-name=port-release env "\${DYN_UNSET[@]}" bash -c 'dyn_release_lock "$1"' port-release "$DYN_LOCKS" \\
      </dev/null >/dev/null 2>&1 || true
  fi
}

# dyn_start <step-id> <command...>: run a step in the background and remember it.
dyn_start() {
  local id=$1
  shift
  "$@" </dev/null &
  DYN_PIDS[$id]=$!
  dyn_emit started step "$(dyn_json "$id")"
}

# dyn_step <step-id> <srun options and command...>: one srun step that may share its nodes with the
# other steps (--overlap), named after the step and logging to logs/<step-id>.log.
dyn_step() {
  local id=$1 arg
  shift
  for arg in "$@"; do
    case "$arg" in --nodelist=*) DYN_WHERE[$id]=\${arg#--nodelist=}; break ;; esac
  done
  [ "$DYN_BATCHING" = 0 ] || ! dyn_batch "$id" "$@" || return 0
  dyn_start "$id" srun --overlap --job-name="$id" --output="$DYN_RUN_DIR/logs/$id.log" --open-mode=append "$@"
}

# ---- per-node launch (slurm.launch "per-node", the default) ----
# The services' single-task steps are not one srun each: while DYN_BATCHING=1, dyn_step queues each
# on its node, and dyn_launch_batched starts one srun step per node (and set of srun options) whose
# task, DYN_LAUNCHER, starts that node's processes, each with its own log, and writes each one's exit
# code to logs/.exit/<id> as it ends. The batch host holds one srun client per node instead of one per
# process, and the launches happen on the nodes in parallel (docs/benchmarks.md, scale).
declare -A DYN_BATCH_OF=() DYN_FIRST_OF=()
DYN_BATCH_KEYS=()
DYN_BATCHING=0
DYN_EXITS="$DYN_RUN_DIR/logs/.exit"

# dyn_batch <id> <srun options...> <command...>: queue a single-task step for its node's launcher;
# returns 1 (not queued) for a step over several nodes or tasks, which keeps its own srun.
dyn_batch() {
  local id=$1 node="" key n
  shift
  local opts=()
  while (($#)); do
    case "$1" in
      --nodelist=*) node=\${1#--nodelist=} ;;
      --nodes=1 | --ntasks=1 | --ntasks-per-node=1) opts+=("$1") ;;
      --nodes=* | --ntasks=* | --ntasks-per-node=* | --label | --kill-on-bad-exit=* | --mpi=*) return 1 ;;
      --*) opts+=("$1") ;;
      *) break ;;
    esac
    shift
  done
  [ -n "$node" ] && (($#)) || return 1
  # The node and options as one key (printf %q: distinct for any bytes, newlines included).
  printf -v key '%q ' "$node" "\${opts[@]}"
  n=\${DYN_BATCH_OF[$key]:-}
  if [ -z "$n" ]; then
    n=\${#DYN_BATCH_KEYS[@]}
    DYN_BATCH_OF[$key]=$n
    DYN_BATCH_KEYS+=("$key")
    DYN_FIRST_OF[launch-$n]=$id
    DYN_WHERE[launch-$n]=$node
    declare -ga "DYN_B$n=()" "DYN_O$n=()"
    local -n options="DYN_O$n"
    # shellcheck disable=SC2034 # a nameref: this sets DYN_O<n>, read by dyn_launch_batched
    options=("\${opts[@]}")
  fi
  local -n queue="DYN_B$n"
  queue+=("$id" "$#" "$@")
}

# dyn_launch_batched: one srun step per queued node; a \`started\` event for each of its processes.
dyn_launch_batched() {
  local n node id count i all opts=() q=()
  rm -rf -- "$DYN_EXITS"
  mkdir -p -- "$DYN_EXITS"
  for n in "\${!DYN_BATCH_KEYS[@]}"; do
    node=\${DYN_WHERE[launch-$n]}
    all="DYN_O\${n}[@]"
    opts=("\${!all}")
    all="DYN_B\${n}[@]"
    q=("\${!all}")
    # --cpu-bind=none: the launcher is one task that runs all of the node's processes. Where a site sets
    # a default binding (a node's or partition's CpuBind, TaskPluginParam; srun(1) --cpu-bind), that
    # one task, and so every process it starts, would be bound to a single task's CPUs; unbound, they
    # share the CPUs the step has on the node (all of the job's there: no --exact).
    srun --overlap --job-name="launch-$n" --output="$DYN_RUN_DIR/logs/launch-$n.log" --open-mode=append --cpu-bind=none \\
      "\${opts[@]}" --nodelist="$node" bash -c "$DYN_LAUNCHER" "launch-$n" "$DYN_RUN_DIR/logs" "\${q[@]}" </dev/null &
    DYN_PIDS[launch-$n]=$!
    for ((i = 0; i < \${#q[@]}; i += count + 2)); do
      id=\${q[i]} count=\${q[i + 1]}
      DYN_WHERE[$id]=$node
      # Step ids are letters, digits and - (the planner's): a JSON string as they are, no subshell.
      dyn_emit started step "\\"$id\\""
    done
  done
}

# The launcher: the task of a per-node launch step (bash -c, inside the services' container when there
# is one). $0 its id, $1 the logs directory, then per process: its id, its word count, its words.
# TERM/INT (scancel, dyn_stop_steps through srun) go to every process; the step ends with them.
# shellcheck disable=SC2016 # expanded by the launcher's bash
DYN_LAUNCHER='logs=$1; shift; declare -A ids=(); trap '\\''kill -TERM "\${!ids[@]}" 2>/dev/null; wait; exit 143'\\'' TERM INT
while (($#)); do "\${@:3:$2}" </dev/null >>"$logs/$1.log" 2>&1 & ids[$!]=$1; shift $(($2 + 2)); done
while ((\${#ids[@]})); do
  for p in "\${!ids[@]}"; do
    ! kill -0 "$p" 2>/dev/null || continue
    rc=0; wait "$p" || rc=$?
    printf "%s\\n" "$rc" >"$logs/.exit/\${ids[$p]}.tmp" && mv -f -- "$logs/.exit/\${ids[$p]}.tmp" "$logs/.exit/\${ids[$p]}"
    unset "ids[$p]"
  done
  sleep 0.2
done'

# dyn_step_exited <id> <exit code>: fail naming a process that exited.
dyn_step_exited() {
  local why="exited with code $2"
  # 127: the command was not found on the node or in the container image (see DYN_EXEC).
  [ "$2" != 127 ] || why="could not start: its command was not found on \${DYN_WHERE[$1]:-its node}"
  dyn_fail "$1" "$why (log: logs/$1.log)" "$2"
}

# dyn_check_exits: a process a per-node launcher started has exited (its logs/.exit/<id> file).
dyn_check_exits() {
  local f rc
  ((\${#DYN_BATCH_KEYS[@]})) || return 0
  for f in "$DYN_EXITS"/*; do
    case "$f" in *.tmp | */\\*) continue ;; esac
    [ -f "$f" ] || continue
    rc=""
    read -r rc <"$f" || true
    dyn_step_exited "\${f##*/}" "\${rc:-1}"
  done
}

# Fail as soon as any step has exited: a deployment is only useful whole.
dyn_check_steps() {
  local id rc
  dyn_check_exits
  for id in "\${!DYN_PIDS[@]}"; do
    if ! kill -0 "\${DYN_PIDS[$id]}" 2>/dev/null; then
      rc=0
      wait "\${DYN_PIDS[$id]}" || rc=$?
      unset "DYN_PIDS[$id]"
      # SLURM cancelled the step (scancel, time limit): the job is ending, no component failed. The
      # batch script's own TERM may arrive after the step already exited.
      if grep -qsE -- '[*]{3} STEP [^*]* CANCELLED AT' "$DYN_RUN_DIR/logs/$id.log"; then dyn_on_signal TERM; fi
      if [ -n "\${DYN_FIRST_OF[$id]:-}" ]; then
        # A launcher step ended: a process it recorded first, else the step itself (its node lost,
        # srun failed), named by the first process it started there.
        dyn_check_exits
        dyn_fail "\${DYN_FIRST_OF[$id]}" "the launch step on \${DYN_WHERE[$id]:-its node} ($id) ended with code $rc while its processes ran (log: logs/$id.log)" "$rc"
      fi
      dyn_step_exited "$id" "$rc"
    fi
  done
}

# dyn_wait_tcp <component> <host> <port> <seconds>: bounded wait for a port to accept connections.
dyn_wait_tcp() {
  local deadline=$((SECONDS + $4))
  # shellcheck disable=SC2016 # expanded by the inner bash
  until timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$2" "$3" 2>/dev/null; do
    dyn_check_steps
    ((SECONDS < deadline)) || dyn_fail "$1" "port $2:$3 did not answer within $4 s (log: logs/$1.log)"
    # A TCP connect is cheap, and every worker waits for this: poll often.
    sleep 0.1
  done
}

# dyn_check_identity <seconds> etcd|nats <http base URL> [etcd|nats <http base URL>]: bounded wait
# until each service on its port says it is this run's (etcd's member name, NATS's server_name =
# DYN_INFRA_ID); anything else that answers there is a stranger, and the job fails before any worker
# starts. One python3 asks both (a python3 start costs more than the two requests).
dyn_check_identity() {
  local deadline=$((SECONDS + $1)) what got line out
  shift
  local -A at=() said=()
  local pending=()
  while (($# >= 2)); do
    at[$1]=$2
    pending+=("$1")
    shift 2
  done
  while :; do
    local ask=()
    for what in "\${pending[@]}"; do ask+=("$what" "\${at[$what]}"); done
    out=$(env "\${DYN_UNSET[@]}" python3 - identity "\${ask[@]}" <<'PY' 2>/dev/null || true
import json, sys, urllib.error, urllib.request
args = sys.argv[2:]
for what, base in zip(args[::2], args[1::2]):
    try:
        if what == "etcd":
            req = urllib.request.Request(base + "/v3/cluster/member/list", data=b"{}", method="POST")
            names = [m.get("name", "") for m in json.load(urllib.request.urlopen(req, timeout=2)).get("members", [])]
            got = " ".join(names) or "(no member name)"
        else:
            got = json.load(urllib.request.urlopen(base + "/varz", timeout=2)).get("server_name") or "(no server_name)"
    except urllib.error.HTTPError as e:
        got = f"(not {what}: HTTP {e.code})"  # something answers HTTP there, and it is not etcd/NATS
    except Exception:
        got = ""
    print(what, got.replace("\\n", " "), flush=True)
PY
)
    said=()
    while IFS= read -r line; do [ -z "$line" ] || said[\${line%% *}]=\${line#* }; done <<<"$out"
    local left=()
    for what in "\${pending[@]}"; do
      got=\${said[$what]:-}
      case " $got " in *" $DYN_INFRA_ID "*) continue ;; esac
      dyn_check_steps
      if [ -n "$got" ] || ((SECONDS >= deadline)); then
        # Something answered with another identity (or never answered over HTTP): not this job's.
        dyn_fail "$what" "the $what at \${at[$what]#http://} is not this job's (it says \${got:-nothing}; expected $DYN_INFRA_ID): another process holds the port"
      fi
      left+=("$what")
    done
    ((\${#left[@]})) || return 0
    pending=("\${left[@]}")
    sleep 0.1
  done
}

# dyn_preflight <sysfs root> <seconds> <UCX_NET_DEVICES> <NCCL_IB_HCA> <check>...: the network
# preflight on one node (exported to srun), before any engine starts. A check is
# "<listener node>:<ip>:<port>:<label>:<first node>-<last node>": the listener node listens on the
# port (python3, until every other node of the range connected or the time is up) and every other
# node of the range connects to <ip>:<port> (bash /dev/tcp, retried for <seconds>). Then, where
# <sysfs root>/class/infiniband exists, every device UCX_NET_DEVICES or NCCL_IB_HCA names must be
# there with an ACTIVE port. Prints "<node> ok" or "<node> fail <what>".
dyn_preflight() {
  local sys=$1 t=$2 ucx=$3 hca=$4 me=\${SLURM_NODEID:-0} node=\${SLURMD_NODENAME:-$(hostname -s)}
  local c k ip port label range lo hi lpid="" deadline why="" listen=()
  shift 4
  for c in "$@"; do
    IFS=: read -r k ip port label range <<<"$c"
    lo=\${range%-*} hi=\${range#*-}
    [ "$k" != "$me" ] || listen+=("$port" "$((hi - lo + 1 - (k >= lo && k <= hi ? 1 : 0)))")
  done
  if [ "\${#listen[@]}" -gt 0 ] && command -v python3 >/dev/null 2>&1; then
    python3 -c '
import select, socket, sys, time
end, socks, want = time.monotonic() + float(sys.argv[1]), {}, {}
for port, n in zip(sys.argv[2::2], sys.argv[3::2]):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(port)))
    s.listen(1024)
    socks[s], want[s] = port, int(n)
while any(want.values()) and time.monotonic() < end:
    for s in select.select(list(socks), [], [], 0.1)[0]:
        s.accept()[0].close()
        want[s] -= 1
' "$((t + 2))" "\${listen[@]}" &
    lpid=$!
  fi
  for c in "$@"; do
    IFS=: read -r k ip port label range <<<"$c"
    lo=\${range%-*} hi=\${range#*-}
    if [ "$k" = "$me" ] || ((me < lo || me > hi)); then continue; fi
    deadline=$((SECONDS + t))
    # shellcheck disable=SC2016 # expanded by the inner bash
    until timeout 1 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$ip" "$port" 2>/dev/null; do
      if ((SECONDS >= deadline)); then
        why="cannot reach $label on node $k at $ip:$port (TCP connect refused or timed out for $t s)"
        break 2
      fi
      sleep 0.1
    done
  done
  [ -n "$why" ] || why=$(dyn_ib_check "$sys/class/infiniband" "$ucx" "$hca")
  [ -z "$lpid" ] || wait "$lpid" 2>/dev/null || true
  printf '%s %s\\n' "$node" "\${why:+fail $why}"
}
export -f dyn_preflight

# dyn_ib_check <infiniband sysfs dir> <UCX_NET_DEVICES> <NCCL_IB_HCA>: prints what is wrong (empty when
# fine or when the node has no InfiniBand sysfs). UCX_NET_DEVICES entries are dev:port (netdevs
# like eth0 and "all" are not checked); NCCL_IB_HCA is dev[:port],… with an optional = prefix (a "^"
# exclusion list names devices not to use: not checked).
dyn_ib_check() {
  local ib=$1 var list item dev port have state
  [ -d "$ib" ] || return 0
  have=$(cd "$ib" && printf '%s ' * 2>/dev/null)
  for var in UCX_NET_DEVICES NCCL_IB_HCA; do
    if [ "$var" = UCX_NET_DEVICES ]; then list=$2; else list=\${3#=}; fi
    case "$list" in "" | "^"* | all) continue ;; esac
    for item in \${list//,/ }; do
      dev=\${item%%:*} port=""
      [ "$dev" = "$item" ] || port=\${item#*:}
      if [ "$var" = UCX_NET_DEVICES ] && [ -z "$port" ]; then continue; fi
      if [ ! -d "$ib/$dev" ]; then
        printf '%s names %s, which this node does not have (InfiniBand devices: %s)' "$var" "$dev" "\${have% }"
        return 0
      fi
      state=$ib/$dev/ports/$port/state
      if [ -n "$port" ] && [ ! -r "$state" ]; then
        printf '%s names %s, but %s has no port %s' "$var" "$item" "$dev" "$port"
        return 0
      elif [ -n "$port" ] && ! grep -q ACTIVE "$state"; then
        printf '%s names %s, whose state is %s (not ACTIVE)' "$var" "$item" "$(tr -d '\\n' <"$state")"
        return 0
      elif [ -z "$port" ] && ! grep -qs ACTIVE "$ib/$dev"/ports/*/state; then
        printf '%s names %s, which has no ACTIVE port' "$var" "$dev"
        return 0
      fi
    done
  done
}
export -f dyn_ib_check

# dyn_smoke_targets <file> <segment>...: writes one counter target a line, "<role>:<step>@<node>=<ip>:<system
# port>", for every worker the segments name (script.ts smokeCounterArgs: "<role>:<first worker>:<count>:
# <first node>:<node step>:<ports>:<id suffix>"; worker first+j runs on node first + j/P*step with port
# j%P of the P ports, "+N" = DYN_PORT_BASE+N).
dyn_smoke_targets() {
  local file=$1 seg role first count node0 step ports suffix j k p
  local o=()
  shift
  for seg in "$@"; do
    IFS=: read -r role first count node0 step ports suffix <<<"$seg"
    IFS=, read -ra o <<<"$ports"
    for ((j = 0; j < count; j++)); do
      k=$((node0 + (j / \${#o[@]}) * step)) p=\${o[j % \${#o[@]}]}
      [[ $p != +* ]] || p=$((DYN_PORT_BASE + \${p#+}))
      printf '%s:%s-w%s%s@%s=%s:%s\\n' "$role" "$role" "$((first + j))" "$suffix" "\${DYN_NODES[k]}" \\
        "\${DYN_IP_OF[\${DYN_NODES[k]}]}" "$p"
    done
  done >"$file"
}

# dyn_smoke <frontend URL> <served model name> <seconds> counters <metric> <label>=<value> <segment>...
#   | skip <reason>: READY means it answered. One streaming chat completion through the frontend (the
# model /v1/models lists under the served name, else its first one; a short fixed prompt, max_tokens
# 8); emits "smoke" with the tokens returned and the time to the first one, or fails the job with what
# was seen (HTTP status, the body's head, no tokens). With "counters", the same python3 reads every
# worker's /metrics (dyn_smoke_targets) before and after the request (Prometheus text; 3 s bound per
# worker, 64 at once, 30 s per reading in all): the sum of <metric> over the series whose <label> is
# <value>, or "?<why>" when it cannot say. dyn_handled then asks that every role handled the
# request; "smoke" also carries the requests each role handled and the readings' time (counters_ms).
# With "skip", "smoke" carries the reason nothing was read (handled_skipped).
dyn_smoke() {
  local got tokens ttft model line last="" before="" after="" ms=0 fields=() args=("\${@:4}")
  local targets=$DYN_SCRATCH/smoke-targets
  if [ "\${4:-}" = counters ]; then
    dyn_smoke_targets "$targets" "\${@:7}"
    args=(counters "$5" "$6" "$targets")
  fi
  got=$(timeout "$3" env "\${DYN_UNSET[@]}" python3 - smoke "$1" "$2" "\${args[@]}" <<'PY' 2>&1 || true
import concurrent.futures, json, re, sys, time, urllib.error, urllib.request
url, want = sys.argv[2], sys.argv[3]
counters = sys.argv[4:5] == ["counters"]
metric, sel, targets = (sys.argv[5], sys.argv[6], open(sys.argv[7]).read().split()) if counters else ("", "=", [])
label, value = sel.split("=", 1)
sample = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(?:\\{(.*)\\})?\\s+(\\S+)")
pair = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\\\]|\\\\.)*)"')
def count(target):
    try:
        with urllib.request.urlopen("http://" + target.rsplit("=", 1)[1] + "/metrics", timeout=3) as r:
            text = r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return f"?/metrics answered HTTP {e.code}"
    except Exception as e:
        return "?" + " ".join(f"/metrics: {e}".split())[:120]
    total, seen = 0.0, False
    for line in text.splitlines():
        m = sample.match(line)
        if not m or m.group(1) != metric or dict(pair.findall(m.group(2) or "")).get(label) != value:
            continue
        try:
            total, seen = total + float(m.group(3)), True
        except ValueError:
            pass
    return f"{total:.0f}" if seen else f"?/metrics has no {metric} series with {label}={value}"
spent = 0.0
def readings(when):
    global spent
    t = time.monotonic()
    if targets:
        pool = concurrent.futures.ThreadPoolExecutor(min(64, len(targets)))
        futures = [pool.submit(count, target) for target in targets]
        concurrent.futures.wait(futures, timeout=30)
        for target, f in zip(targets, futures):
            print(when, target, f.result() if f.done() else "?not read within 30 s")
        sys.stdout.flush()
        for f in futures:  # the unstarted ones (cancel_futures is Python >= 3.9 only)
            f.cancel()
        pool.shutdown(wait=False)
    spent += time.monotonic() - t
readings("before")
def fail(msg):
    print("fail " + " ".join(msg.split())[:300], flush=True)
    sys.exit(0)
def head(data):
    return data[:160].decode("utf-8", "replace")
try:
    with urllib.request.urlopen(url + "/v1/models", timeout=30) as r:
        ids = [m.get("id") for m in json.load(r).get("data", []) if m.get("id")]
except urllib.error.HTTPError as e:
    fail(f"GET /v1/models answered HTTP {e.code}: {head(e.read())}")
except Exception as e:
    fail(f"GET /v1/models failed: {e}")
model = want if want in ids else (ids[0] if ids else None)
if model is None:
    fail("GET /v1/models lists no model: the workers registered but no model was published")
body = {"model": model, "max_tokens": 8, "stream": True,
        "messages": [{"role": "user", "content": "Reply with one short sentence: is this deployment up?"}]}
req = urllib.request.Request(url + "/v1/chat/completions", data=json.dumps(body).encode(),
                             headers={"content-type": "application/json"}, method="POST")
t0 = time.monotonic()
ttft, tokens, seen = None, 0, b""
try:
    with urllib.request.urlopen(req, timeout=60) as r:
        if "text/event-stream" in r.headers.get("content-type", ""):
            for raw in r:
                if len(seen) < 160:
                    seen += raw
                line = raw.decode("utf-8", "replace").strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                ev = json.loads(data)
                if ev.get("error"):
                    fail(f"the stream carried an error: {json.dumps(ev['error'])}")
                for ch in ev.get("choices") or []:
                    if (ch.get("delta") or {}).get("content") or ch.get("text"):
                        tokens += 1
                        ttft = ttft if ttft is not None else time.monotonic() - t0
                usage = ev.get("usage") or {}
                if usage.get("completion_tokens"):
                    tokens = max(tokens, int(usage["completion_tokens"]))
        else:
            seen = r.read()
            doc = json.loads(seen)
            content = ((doc.get("choices") or [{}])[0].get("message") or {}).get("content") or ""
            tokens = int((doc.get("usage") or {}).get("completion_tokens") or len(content.split()))
            ttft = time.monotonic() - t0 if tokens else None
except urllib.error.HTTPError as e:
    fail(f"POST /v1/chat/completions answered HTTP {e.code}: {head(e.read())}")
except Exception as e:
    fail(f"POST /v1/chat/completions failed: {e} (body head: {head(seen)})")
if tokens == 0 or ttft is None:
    fail(f"POST /v1/chat/completions answered HTTP 200 with no tokens (body head: {head(seen)})")
readings("after")
print(f"readings {spent * 1000:.0f}", flush=True)
print(f"ok {tokens} {ttft * 1000:.0f} {json.dumps(model)}", flush=True)  # JSON: one line whatever the name
PY
)
  while IFS= read -r line; do
    case "$line" in
      "before "*) before+=\${line#before }$'\\n' ;;
      "after "*) after+=\${line#after }$'\\n' ;;
      "readings "*) ms=\${line#readings } ;;
      *) last=$line ;; # the answer is the last other line
    esac
  done <<<"$got"
  got=$last
  case "$got" in
    "ok "*)
      read -r _ tokens ttft model <<<"$got"
      if [ "\${4:-}" = counters ]; then
        dyn_handled "$5{\${6%%=*}=\\"\${6#*=}\\"}" "$before" "$after" "$targets"
        fields=(handled "$DYN_HANDLED" counters_ms "$ms")
        [ -z "$DYN_UNCHECKED" ] || fields+=(handled_skipped "$(dyn_json "$DYN_UNCHECKED")")
      else
        fields=(handled_skipped "$(dyn_json "\${5:-not checked}")")
      fi
      dyn_emit smoke tokens "$tokens" ttft_ms "$ttft" model "$model" "\${fields[@]}"
      ;;
    "fail "*) dyn_fail smoke "the first request through the frontend failed: \${got#fail }" ;;
    *) dyn_fail smoke "the first request through the frontend got no answer within $3 s\${got:+ ($got)}" ;;
  esac
}

# dyn_handled <counter> <before> <after> <targets file>: did every role see the smoke request? From the
# two readings ("<target> <count>" lines), per role (prefill, decode, aggregated, in the targets' order) the
# requests its workers handled in between. Sets DYN_HANDLED ({"prefill":1,"decode":1}) and
# DYN_UNCHECKED (the roles whose counters could not be read, and why); fails the job as smoke,
# naming the role and each of its workers' readings, when a role's workers all read and none moved.
dyn_handled() {
  local counter=$1 t v id role b a out="" idle="" more
  local -A before=() after=() sum=() seen=() unread=() detail=() shown=()
  local roles=()
  while read -r t v; do [ -z "$t" ] || before[$t]=$v; done <<<"$2"
  while read -r t v; do [ -z "$t" ] || after[$t]=$v; done <<<"$3"
  while read -r t; do
    [ -n "$t" ] || continue
    role=\${t%%:*} id=\${t#*:}
    id=\${id%%=*}
    [ -n "\${seen[$role]:-}" ] || roles+=("$role")
    seen[$role]=$((\${seen[$role]:-0} + 1))
    b=\${before[$t]:-?no reading} a=\${after[$t]:-?no reading}
    # What a message names: the first 8 workers of a role, then how many more.
    if [[ $b =~ ^[0-9]+$ && $a =~ ^[0-9]+$ ]]; then
      ((a <= b)) || sum[$role]=$((\${sum[$role]:-0} + a - b))
      if ((\${seen[$role]} <= 8)); then detail[$role]+="\${detail[$role]:+, }$id $b->$a"; fi
    else
      if [[ $b =~ ^[0-9]+$ ]]; then b=$a; fi
      if ((\${seen[$role]} <= 8)); then unread[$role]+="\${unread[$role]:+, }$id: \${b#?}"; fi
      shown[$role]=1
    fi
  done <"$4"
  DYN_HANDLED="" DYN_UNCHECKED=""
  for role in "\${roles[@]}"; do
    more=""
    ((\${seen[$role]} <= 8)) || more=", ... $((\${seen[$role]} - 8)) more"
    if [ "\${sum[$role]:-0}" -gt 0 ]; then
      out+="\${out:+,}\\"$role\\":\${sum[$role]}"
    elif [ -n "\${shown[$role]:-}" ]; then
      DYN_UNCHECKED+="\${DYN_UNCHECKED:+; }$role not checked (\${unread[$role]:-}$more)"
    else
      idle+="\${idle:+; }no $role worker handled the smoke request: \${detail[$role]}$more"
    fi
  done
  [ -z "$idle" ] || dyn_fail smoke "$idle ($counter on each worker's system port, before->after the request)"
  DYN_HANDLED="{$out}"
}

# Runs on every node (exported to srun): removes what dead dyn jobs left (dyn_clean_stale), creates
# the model cache, claims the port window (dyn_claim_window) and prints "<slurm node name> <routable
# IPv4> <claim>". Interface if given, else the default route's interface, else \`hostname -I\`; never
# loopback or link-local. No packet is sent.
# dyn_node_setup <iface> <cache> <lock dir> <window> <first port> <ports> <pinned> <live-jobs file>
dyn_node_setup() {
  local iface=$1 cache=$2 ip="" dev="" claim t0=\${EPOCHREALTIME/[.,]/}
  dyn_clean_stale "\${TMPDIR:-/tmp}" "$3" "$8"
  if [ -n "$iface" ]; then
    ip=$(ip -4 -o addr show dev "$iface" 2>/dev/null | awk '{ split($4, a, "/"); print a[1]; exit }')
  else
    dev=$(ip -4 route show default 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')
    if [ -n "$dev" ]; then
      ip=$(ip -4 -o addr show dev "$dev" 2>/dev/null | awk '{ split($4, a, "/"); print a[1]; exit }')
    fi
    if [ -z "$ip" ]; then
      ip=$(hostname -I 2>/dev/null | tr ' ' '\\n' | grep -Ev '^(127\\.|169\\.254\\.)' | grep -E '^[0-9]+(\\.[0-9]+){3}$' | head -n 1 || true)
    fi
  fi
  case "$ip" in "" | 127.* | 169.254.* | 0.0.0.0) ip="-" ;; esac
  mkdir -p -- "$cache" || ip="!cache"
  claim=$(dyn_claim_window "$3" "$4" "$5" "$6" "$7" "$8")
  # The node's own start and end (epoch microseconds): the timeline names the slowest node.
  printf '%s %s %s %s %s\\n' "\${SLURMD_NODENAME:-$(hostname -s)}" "$ip" "$claim" "$t0" "\${EPOCHREALTIME/[.,]/}"
}
export -f dyn_node_setup

# Every local TCP port in use on this node (any state but TIME_WAIT and CLOSE), one per line, from
# /proc/net/tcp{,6} of the node's network namespace (no ss/netstat needed). awk without strtonum
# (mawk): the hex port is converted by hand.
dyn_ports_in_use() {
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk '$2 ~ /:/ && $4 != "06" && $4 != "07" {
    n = split($2, a, ":"); h = a[n]; v = 0
    for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789ABCDEF", substr(h, i, 1)) - 1
    print v }'
}

# dyn_claim_window <lock dir> <window> <first port> <ports> <pinned "k:port ..."> <live-jobs file>
#   [<window to release first>]
# Claims this job's port window on this node: an atomic mkdir of <lock dir>/<node>/window-<w> (its
# owner file says "<job> <run id>"), then checks that none of the window's ports the plan uses (and
# none of this node's pinned ports) is in use. Prints one word: ok, held:<job> (a running job's lock),
# busy:<port> (the lock was free but something listens there; the lock is given back) or
# pinned:<port> (a pinned port is in use: no other window helps). A lock whose job SLURM no longer
# runs (the live-jobs file, one job id per line, "?" when squeue could not say) is stale and taken
# over; so is this job's own lock from an earlier attempt (requeue).
dyn_claim_window() {
  local root=$1 w=$2 first=$3 count=$4 pinned=$5 live=$6 prev=\${7:-} node lock owner p item
  node=\${SLURMD_NODENAME:-$(hostname -s)}
  [ -d "$root" ] || mkdir -m 1777 -- "$root" 2>/dev/null || true
  [ -d "$root/$node" ] || mkdir -m 1777 -- "$root/$node" 2>/dev/null || true
  if [ -n "$prev" ] && [ -f "$root/$node/window-$prev/owner" ] &&
    [ "$(cat "$root/$node/window-$prev/owner" 2>/dev/null)" = "$SLURM_JOB_ID $DYN_INFRA_ID" ]; then
    rm -rf -- "$root/$node/window-$prev"
  fi
  lock=$root/$node/window-$w
  if ! mkdir -- "$lock" 2>/dev/null; then
    owner=$(cat "$lock/owner" 2>/dev/null || true)
    owner=\${owner%% *}
    if [ "$owner" = "$SLURM_JOB_ID" ] || { [ -n "$owner" ] && dyn_is_gone "$owner" "$live"; }; then
      rm -rf -- "$lock" 2>/dev/null || true
    fi
    if ! mkdir -- "$lock" 2>/dev/null; then
      printf 'held:%s' "\${owner:-unknown}"
      return 0
    fi
  fi
  printf '%s %s\\n' "$SLURM_JOB_ID" "$DYN_INFRA_ID" >"$lock/owner"
  declare -A used=()
  while read -r p; do used[$p]=1; done < <(dyn_ports_in_use)
  for item in $pinned; do
    [ "\${item%%:*}" != "\${SLURM_NODEID:-0}" ] || [ -z "\${used[\${item#*:}]:-}" ] || {
      rm -rf -- "$lock"
      printf 'pinned:%s' "\${item#*:}"
      return 0
    }
  done
  for ((p = first; p < first + count; p++)); do
    if [ -n "\${used[$p]:-}" ]; then
      rm -rf -- "$lock"
      printf 'busy:%s' "$p"
      return 0
    fi
  done
  printf 'ok'
}
export -f dyn_claim_window dyn_ports_in_use

# dyn_is_gone <job id> <live-jobs file>: true when SLURM says that job is not running (not listed by
# squeue); false when it is, or when squeue could not say ("?").
dyn_is_gone() {
  [ -s "$2" ] && ! grep -qx -- '?' "$2" && ! grep -qx -- "$1" "$2"
}
export -f dyn_is_gone

# dyn_clean_stale <scratch parent> <lock dir> <live-jobs file>: remove what earlier dyn jobs left on
# this node (scancel --signal=KILL, a dead batch host): their scratch dirs dyn-<job>-<run> and their
# window locks, once SLURM no longer runs that job. Only what this user may remove.
dyn_clean_stale() {
  local d job
  for d in "$1"/dyn-[0-9]*-[0-9]*; do
    if [ ! -d "$d" ] || [ ! -O "$d" ]; then continue; fi
    job=\${d##*/dyn-}
    job=\${job%%-*}
    [ "$job" != "$SLURM_JOB_ID" ] && dyn_is_gone "$job" "$3" && rm -rf -- "$d" 2>/dev/null
  done
  for d in "$2/\${SLURMD_NODENAME:-$(hostname -s)}"/window-*; do
    [ -d "$d" ] || continue
    job=$(cat "$d/owner" 2>/dev/null || true)
    job=\${job%% *}
    [ -n "$job" ] && [ "$job" != "$SLURM_JOB_ID" ] && dyn_is_gone "$job" "$3" && rm -rf -- "$d" 2>/dev/null
  done
  return 0
}
export -f dyn_clean_stale

# dyn_missing "<component=have/want ...>": what has not registered yet, by role (DYN_ROLES_OF, set
# with the readiness settings), e.g. "decode (backend 0/2)"; the counts as given if none parse.
dyn_missing() {
  local item comp have want out="" items=()
  read -ra items <<<"$1"
  for item in "\${items[@]}"; do
    case "$item" in *=*/*) ;; *) continue ;; esac
    comp=\${item%%=*}
    have=\${item#*=}
    want=\${have#*/}
    have=\${have%/*}
    if ((have < want)); then out+="\${out:+, }\${DYN_ROLES_OF[$comp]:-$comp} ($comp $have/$want)"; fi
  done
  printf '%s' "\${out:-$1}"
}

# dyn_watch_health <out-file> <grace> <url> <component=count>...: one background python3 that polls
# /health every 0.1 s (DYN_HEALTH_PID). One process for the whole wait: starting python3 per poll
# costs more than the poll, and delays readiness when the nodes are busy starting the workers.
#  - grace 0 (readiness): writes "component=have/want ..." to <out-file> whenever that changes, and
#    exits 0 once every count is met;
#  - grace > 0 (supervision after READY): exits 3 once some component has had fewer instances than
#    planned (or the frontend has not answered) for <grace> seconds, writing a last line
#    "LOST <component> <have>/<want>: <instance id>@<host> ..." with the instances that vanished.
dyn_watch_health() {
  local out=$1
  shift
  : >"$out" # exists before the background process opens it, so it can be read at once
  env "\${DYN_UNSET[@]}" python3 - "$@" >>"$out" <<'PY' &
import json, os, re, sys, time, urllib.error, urllib.request
grace, url = float(sys.argv[1]), sys.argv[2]
want = dict(a.split("=", 1) for a in sys.argv[3:])
last, seen, short_since = None, {}, None
# Readiness only: when each instance was first listed, so the timeline can name the slowest process.
reg_file, first = os.environ.get("DYN_REGISTRATIONS_FILE", "") if grace <= 0 else "", {}
# The instances listed at READY (written by the readiness watcher): an instance that vanished before
# supervision's first poll is still named.
ids_file = os.environ.get("DYN_INSTANCES_FILE", "")
if grace > 0 and ids_file:
    try:
        with open(ids_file) as f:
            seen = json.load(f)
    except (OSError, ValueError):
        pass
def host_of(inst):
    # The stand-in and Dynamo >= 1.0 both name the worker's address in the transport.
    t = json.dumps(inst.get("transport") or inst.get("host") or "")
    m = re.search(r"(\\d+\\.\\d+\\.\\d+\\.\\d+)", t)
    return m.group(1) if m else "?"
while True:
    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            body = json.load(r)
    except urllib.error.HTTPError as e:  # some Dynamo versions answer 503 until healthy
        try:
            body = json.load(e)
        except Exception:
            body = {}
    except Exception:
        body = None
    have, now_ids = {}, {}
    for inst in (body or {}).get("instances") or []:
        if inst.get("endpoint") == "generate":
            c = inst.get("component")
            have[c] = have.get(c, 0) + 1
            now_ids.setdefault(c, {})[str(inst.get("instance_id"))] = host_of(inst)
    met = body is not None and all(have.get(c, 0) >= int(n) for c, n in want.items())
    line = "frontend not answering" if body is None else " ".join(f"{c}={have.get(c, 0)}/{n}" for c, n in sorted(want.items()))
    fresh = [(c, i, h) for c, ids in now_ids.items() for i, h in ids.items() if (c, i) not in first]
    for c, i, h in fresh:
        first[(c, i)] = (h, round(time.time(), 3))
    if fresh and reg_file:
        with open(reg_file + ".tmp", "w") as f:
            json.dump([{"component": c, "instance": i, "host": h, "t": t} for (c, i), (h, t) in first.items()], f)
        os.replace(reg_file + ".tmp", reg_file)
    if grace <= 0:
        if line != last:
            print(line, flush=True)
            last = line
        if met:
            if ids_file:
                with open(ids_file + ".tmp", "w") as f:
                    json.dump(now_ids, f)
                os.replace(ids_file + ".tmp", ids_file)
            sys.exit(0)
    else:
        if met:
            short_since = None
            for c, ids in now_ids.items():
                seen.setdefault(c, {}).update(ids)
        elif short_since is None:
            short_since = time.monotonic()
        elif time.monotonic() - short_since >= grace:
            if body is None:
                print(f"LOST frontend: /health did not answer for {grace:g} s", flush=True)
            else:
                c = next(c for c, n in sorted(want.items()) if have.get(c, 0) < int(n))
                gone = [f"{i}@{h}" for i, h in seen.get(c, {}).items() if i not in now_ids.get(c, {})]
                print(f"LOST {c} {have.get(c, 0)}/{want[c]}: {' '.join(gone) or '(never listed)'}", flush=True)
            sys.exit(3)
    time.sleep(0.1)
PY
  DYN_HEALTH_PID=$!
}

# dyn_lost "<LOST line>": for an instance that vanished after READY, sets DYN_LOST_STEP (the first
# planned step of the lost component on the node of the first vanished instance, else the component)
# and DYN_LOST_WHY (the message, with the node name and the steps on it), from DYN_NAME_OF_IP and
# DYN_STEPS_AT set by the plan.
dyn_lost() {
  local line=\${1#LOST } comp item node k steps
  comp=\${line%% *}
  DYN_LOST_STEP="" DYN_LOST_WHY=$line
  for item in \${line#*: }; do
    node=\${DYN_NAME_OF_IP[\${item#*@}]:-}
    [ -n "$node" ] || continue
    steps=""
    for k in "\${!DYN_NODES[@]}"; do [ "\${DYN_NODES[$k]}" != "$node" ] || steps+="\${steps:+ }\${DYN_STEPS_AT[$comp@$k]:-}"; done
    DYN_LOST_WHY+=" [$node: \${steps:-?}]"
    [ -n "$DYN_LOST_STEP" ] || DYN_LOST_STEP=\${steps%% *}
  done
  DYN_LOST_STEP=\${DYN_LOST_STEP:-$comp}
  DYN_LOST_WHY="registered instances vanished after READY: $DYN_LOST_WHY"
}

# The last line the health watcher wrote (pure bash: no process per poll).
dyn_last_line() {
  local line=""
  REPLY=""
  while IFS= read -r line; do REPLY=$line; done <"$1"
}
`;
