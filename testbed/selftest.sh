#!/usr/bin/env bash
# testbed/selftest.sh — checks a running testbed (up.sh) the way dyn's sbatch scripts use it.
# One PASS/FAIL line per check, then "selftest: N passed, N failed"; non-zero exit on any failure.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${TB_ROOT:=/var/lib/slurm-testbed}"
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
out=$(timeout 30 srun -N "$nn" --ntasks-per-node=1 bash -c 'echo "$(hostname) $(hostname -I)"' 2>&1 | sort -V | tr '\n' ';')
want=$(for k in $(seq 1 "$nn"); do printf 'node%s 10.77.0.%s ;' "$k" $((10 + k)); done)
[ "$out" = "$want" ] && ok "own hostname + IP per node ($nn nodes)" || bad "hostnames/IPs: '$out'"

# 2. no way out: node namespaces have no default route
if ip -n stb-node1 route get 192.0.2.1 >/dev/null 2>&1; then bad "node1 has a route to 192.0.2.1"; else ok "no default route in node namespaces"; fi

# 3. fake GPUs
out=$(timeout 30 srun -N1 --gres=gpu:8 bash -c 'echo $CUDA_VISIBLE_DEVICES' 2>&1)
[ "$out" = "0,1,2,3,4,5,6,7" ] && ok "fake gres: --gres=gpu:8 -> CUDA_VISIBLE_DEVICES=$out" || bad "gres: '$out'"

# 4. fake pyxis: flags accepted, env exported, request logged, workdir honoured
if [ -f "$TB_ROOT/fakepyxis.so" ]; then
  out=$(timeout 30 srun -N1 --container-image=nvcr.io/x/y:1 --container-env=HF_TOKEN --container-workdir=/etc \
        bash -c 'echo "$FAKE_PYXIS_CONTAINER_IMAGE $(pwd)"' 2>&1)
  jid=$(squeue -h -t all -o %i 2>/dev/null | sort -n | tail -1)
  if [ "$out" = "nvcr.io/x/y:1 /etc" ] && grep -q '"container-image":"nvcr.io/x/y:1"' "$TB_ROOT/pyxis-requests.log" \
     && grep -q '"container-env":"HF_TOKEN"' "$TB_ROOT/pyxis-requests.log"; then
    ok "fake pyxis: --container-* accepted, FAKE_PYXIS_* exported, logged to $TB_ROOT/pyxis-requests.log"
  else bad "fake pyxis: '$out' (last job $jid)"; fi
else echo "SKIP fake pyxis (TB_FAKE_PYXIS=0)"; fi

# 5. a Dynamo-shaped job: etcd + NATS + frontend on node1, prefill on node2, decode on node3 (stand-ins)
cat > "$W/dyn.sbatch" <<JOB
#!/bin/bash
#SBATCH -N 3
. "$HERE/runtime/activate"
nodes=(\$(scontrol show hostnames "\$SLURM_JOB_NODELIST"))
ip=\$(getent hosts "\${nodes[0]}" | awk '{print \$1}')
export ETCD_ENDPOINTS=http://\$ip:2379 NATS_SERVER=nats://\$ip:4222
srun --overlap -N1 -n1 -w "\${nodes[0]}" nats-server -a "\$ip" -p 4222 > "$W/nats.log" 2>&1 &
srun --overlap -N1 -n1 -w "\${nodes[0]}" etcd --data-dir "$W/etcd-\$SLURM_JOB_ID" \
  --listen-client-urls "http://\$ip:2379" --advertise-client-urls "http://\$ip:2379" \
  --listen-peer-urls "http://\$ip:2380" > "$W/etcd.log" 2>&1 &
for i in \$(seq 100); do curl -sf "http://\$ip:2379/health" >/dev/null && break; sleep 0.1; done
srun --overlap -N1 -n1 -w "\${nodes[0]}" python3 -m dynamo.frontend > "$W/fe.log" 2>&1 &
srun --overlap -N1 -n1 -w "\${nodes[1]}" python3 -m dynamo.vllm --model m --disaggregation-mode prefill > "$W/p.log" 2>&1 &
srun --overlap -N1 -n1 -w "\${nodes[2]}" python3 -m dynamo.vllm --model m --disaggregation-mode decode > "$W/d.log" 2>&1 &
wait
JOB
if command -v etcd >/dev/null && command -v nats-server >/dev/null; then
  jid=$(sbatch --parsable -o "$W/dyn.out" "$W/dyn.sbatch")
  resp=""
  for _ in $(seq 150); do
    n=$(curl -s http://10.77.0.11:8000/health 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["instances"]))' 2>/dev/null)
    [ "${n:-0}" = 2 ] && { resp=$(curl -s http://10.77.0.11:8000/v1/chat/completions -H 'Content-Type: application/json' \
      -d '{"model":"m","messages":[{"role":"user","content":"ping"}]}'); break; }
    sleep 0.2
  done
  scancel "$jid"; wait_gone "$jid" 60
  if echo "$resp" | grep -q '"prefill": "10.77.0.12", "decode": "10.77.0.13"'; then
    ok "Dynamo stand-in job: chat completion routed node1 -> prefill node2 -> decode node3"
  else bad "Dynamo stand-in job: '$resp' (logs kept in $W)"; keep=1; fi
else echo "SKIP Dynamo job (etcd / nats-server missing)"; fi

finish
