#!/usr/bin/env bash
# testbed/selftest.sh — checks a running testbed (up.sh) the way dyn's sbatch scripts use it.
# One PASS/FAIL line per check, then "selftest: N passed, N failed"; non-zero exit on any failure.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${TB_ROOT:=/var/lib/slurm-testbed}"
: "${DYN_STANDIN_SRC:=$HERE/runtime}"   # the stand-in Dynamo to test (image/build.sh reads it too)
export DYN_STANDIN_SRC
W=$(mktemp -d /tmp/tb-selftest.XXXXXX)
pass=0; fail=0
ok()  { pass=$((pass + 1)); echo "PASS $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
# wait_gone JOBID MAXSEC: poll squeue (sbatch --wait sleeps in ~10 s steps)
wait_gone() { local end=$((SECONDS + $2)); while squeue -h -j "$1" 2>/dev/null | grep -q .; do
  [ "$SECONDS" -ge "$end" ] && return 1; sleep 0.1; done; }
keep=""
finish() { [ -n "$keep" ] || rm -rf "$W"; echo "selftest: $pass passed, $fail failed"; [ "$fail" = 0 ]; exit $?; }

sinfo -h -o %T 2>/dev/null | grep -q idle || { bad "no idle nodes: is the testbed up? (testbed/up.sh)"; finish; }
nn=$(sinfo -h -N -o %N | sort -u | wc -l)

# 1. every node has its own hostname and IP
out=$(timeout 30 srun -Q -N "$nn" --ntasks-per-node=1 bash -c 'echo "$(hostname) $(hostname -I)"' 2>&1 | sort -V | tr '\n' ';')
want=$(for k in $(seq 1 "$nn"); do printf 'node%s 10.77.0.%s ;' "$k" $((10 + k)); done)
[ "$out" = "$want" ] && ok "own hostname + IP per node ($nn nodes)" || bad "hostnames/IPs: '$out'"

# 2. no way out: node namespaces have no default route
if ip -n stb-node1 route get 192.0.2.1 >/dev/null 2>&1; then bad "node1 has a route to 192.0.2.1"; else ok "no default route in node namespaces"; fi

# 3. fake GPUs
out=$(timeout 30 srun -Q -N1 --gres=gpu:8 bash -c 'echo $CUDA_VISIBLE_DEVICES' 2>&1)
[ "$out" = "0,1,2,3,4,5,6,7" ] && ok "fake gres: --gres=gpu:8 -> CUDA_VISIBLE_DEVICES=$out" || bad "gres: '$out'"

kind=$(cut -d' ' -f1 "$TB_ROOT/pyxis-kind" 2>/dev/null || echo unknown)

# 4. fake pyxis: flags accepted, env exported, request logged, workdir honoured
if [ "$kind" = fake ]; then
  out=$(timeout 30 srun -Q -N1 --container-image=nvcr.io/x/y:1 --container-env=HF_TOKEN --container-workdir=/etc \
        bash -c 'echo "$FAKE_PYXIS_CONTAINER_IMAGE $(pwd)"' 2>&1)
  jid=$(squeue -h -t all -o %i 2>/dev/null | sort -n | tail -1)
  if [ "$out" = "nvcr.io/x/y:1 /etc" ] && grep -q '"container-image":"nvcr.io/x/y:1"' "$TB_ROOT/pyxis-requests.log" \
     && grep -q '"container-env":"HF_TOKEN"' "$TB_ROOT/pyxis-requests.log"; then
    ok "fake pyxis: --container-* accepted, FAKE_PYXIS_* exported, logged to $TB_ROOT/pyxis-requests.log"
  else bad "fake pyxis: '$out' (last job $jid)"; fi
else echo "SKIP fake pyxis (pyxis: $kind)"; fi

# 4r. real pyxis: a job-scoped named container on two nodes (own hostname + IP inside, the image's
#     /etc/dynamo-release), a step joining it by name, and nothing left of it once the job is gone
if [ "$kind" = real ]; then
  rel=1.1.0
  if img=$(bash "$HERE/image/build.sh" --release "$rel"); then
    cat > "$W/ctr.sbatch" <<JOB
#!/bin/bash
#SBATCH -N 2
srun -N2 --ntasks-per-node=1 --container-image="$img" --container-name=selftest python3 -c \
  'import os, socket; h = socket.gethostname(); print("in", h, socket.gethostbyname(h), open("/etc/dynamo-release").read().strip(), os.getcwd())'
# host side (no container): the job-scoped container's rootfs exists on both nodes while the job runs
srun -N2 --ntasks-per-node=1 bash -c 'd=$TB_ROOT/enroot/\$(hostname)-\$(id -u)/data/pyxis_\${SLURM_JOB_ID}_selftest; [ -d "\$d" ] && echo "rootfs \$(hostname) \$d"'
# joins by name, no image given
srun -N2 --ntasks-per-node=1 --container-name=selftest bash -c 'echo "joined \$(hostname) \$(cat /etc/dynamo-release)"'
JOB
    jid=$(sbatch --parsable -o "$W/ctr.out" "$W/ctr.sbatch")
    wait_gone "$jid" 90   # the job leaves the queue once pyxis' epilog has removed its containers
    out=$(cat "$W/ctr.out" 2>/dev/null)
    inside=$(grep '^in ' <<<"$out" | sort -V | tr '\n' ';')
    nodes=$(grep '^in ' <<<"$out" | awk '{print $2}' | sort -V)
    want=""; for n in $nodes; do want+="in $n $(getent hosts "$n" | awk '{print $1}') $rel /workspace;"; done
    left=$(ls -d "$TB_ROOT"/enroot/*/data/pyxis_"${jid}"_* 2>/dev/null)
    if [ "$(wc -w <<<"$nodes")" = 2 ] && [ "$inside" = "$want" ] && [ "$(grep -c '^rootfs ' <<<"$out")" = 2 ] \
       && [ "$(grep -c "^joined node[0-9]* $rel$" <<<"$out")" = 2 ] && [ -z "$left" ]; then
      ok "real pyxis: named container on 2 nodes (own hostname + IP, /etc/dynamo-release $rel, cwd /workspace), joined by name, removed at job end"
    else bad "real pyxis container step (job $jid): '$out' left: '$left' (logs kept in $W)"; keep=1; fi
  else bad "real pyxis: testbed/image/build.sh failed"; fi
fi

# 5. a Dynamo-shaped job: etcd + NATS + frontend on node1, prefill on node2, decode on node3 (stand-ins),
#    on the nodes themselves and, with the real pyxis, every process inside the test image
# dynamo_job <dir name> <label> <job prologue> <srun flags> <etcd data dir>
dynamo_job() {
  local d="$W/$1" label=$2 jid resp="" n
  shift
  mkdir -p "$d"
  cat > "$d/job.sbatch" <<JOB
#!/bin/bash
#SBATCH -N 3
$2
nodes=(\$(scontrol show hostnames "\$SLURM_JOB_NODELIST"))
ip=\$(getent hosts "\${nodes[0]}" | awk '{print \$1}')
export ETCD_ENDPOINTS=http://\$ip:2379 NATS_SERVER=nats://\$ip:4222
kv='{"kv_connector":"NixlConnector","kv_role":"kv_both"}'
srun --overlap -N1 -n1 -w "\${nodes[0]}" $3 nats-server -a "\$ip" -p 4222 > "$d/nats.log" 2>&1 &
srun --overlap -N1 -n1 -w "\${nodes[0]}" $3 etcd --data-dir "$4" \
  --listen-client-urls "http://\$ip:2379" --advertise-client-urls "http://\$ip:2379" \
  --listen-peer-urls "http://\$ip:2380" > "$d/etcd.log" 2>&1 &
for i in \$(seq 100); do curl -sf "http://\$ip:2379/health" >/dev/null && break; sleep 0.1; done
srun --overlap -N1 -n1 -w "\${nodes[0]}" $3 python3 -m dynamo.frontend > "$d/fe.log" 2>&1 &
srun --overlap -N1 -n1 -w "\${nodes[1]}" $3 python3 -m dynamo.vllm --model m --disaggregation-mode prefill --kv-transfer-config "\$kv" > "$d/p.log" 2>&1 &
srun --overlap -N1 -n1 -w "\${nodes[2]}" $3 python3 -m dynamo.vllm --model m --disaggregation-mode decode --kv-transfer-config "\$kv" > "$d/d.log" 2>&1 &
wait
JOB
  jid=$(sbatch --parsable -o "$d/job.out" "$d/job.sbatch")
  for _ in $(seq 150); do
    n=$(curl -s http://10.77.0.11:8000/health 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["instances"]))' 2>/dev/null)
    [ "${n:-0}" = 2 ] && { resp=$(curl -s http://10.77.0.11:8000/v1/chat/completions -H 'Content-Type: application/json' \
      -d '{"model":"m","messages":[{"role":"user","content":"ping"}]}'); break; }
    sleep 0.2
  done
  scancel "$jid"; wait_gone "$jid" 60
  if echo "$resp" | grep -q '"prefill": "10.77.0.12", "decode": "10.77.0.13"'; then
    ok "Dynamo stand-in job$label: chat completion routed node1 -> prefill node2 -> decode node3"
  else bad "Dynamo stand-in job$label: '$resp' (logs kept in $d)"; keep=1; fi
}
# 6. accounting (TB_ACCOUNTING=1): sacct lists a finished job with SLURM's state and exit code, and who
#    cancelled a job, from slurmdbd
acct=$(cat "$TB_ROOT/accounting-kind" 2>/dev/null || echo unknown)
if [ "$acct" = slurmdbd ]; then
  j1=$(sbatch --parsable -o /dev/null --wrap 'exit 3')
  j2=$(sbatch --parsable -o /dev/null --wrap 'sleep 300')
  for _ in $(seq 100); do squeue -h -j "$j2" -t R -o %i 2>/dev/null | grep -q . && break; sleep 0.1; done
  scancel "$j2"
  wait_gone "$j1" 30; wait_gone "$j2" 30
  want="$j1|FAILED|3:0;$j2|CANCELLED by 0|0:0;"
  for _ in $(seq 50); do   # slurmctld hands the job's end to slurmdbd asynchronously
    out=$(sacct -n -X -P -j "$j1,$j2" -o JobID,State,ExitCode 2>&1 | tr '\n' ';')
    [ "$out" = "$want" ] && break; sleep 0.1
  done
  [ "$out" = "$want" ] && ok "accounting: sacct lists finished jobs (FAILED 3:0, CANCELLED by 0) from slurmdbd" \
    || bad "accounting: sacct gave '$out', expected '$want'"
else echo "SKIP accounting (accounting: $acct)"; fi

if command -v etcd >/dev/null && command -v nats-server >/dev/null; then
  dynamo_job bare "" ". \"$DYN_STANDIN_SRC/activate\"" "" "$W/etcd-\$SLURM_JOB_ID"
else echo "SKIP Dynamo job (etcd / nats-server missing)"; fi
if [ "$kind" = real ] && [ -n "${img:-}" ]; then
  # one job-scoped named container per node, created once before the services (concurrent creation
  # of one name races); the services join it. etcd's data lives in the container's own /tmp (tmpfs).
  c="--container-image=$img --container-name=dyn --no-container-mount-home"
  dynamo_job containers " in containers" "srun -N3 --ntasks-per-node=1 $c true || exit 1" "$c" /tmp/etcd
fi

finish
