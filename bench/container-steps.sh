#!/usr/bin/env bash
# bench/container-steps.sh — the "Containers (real pyxis)" figures of docs/benchmarks.md, three runs
# each, medians:
#   1. enroot + pyxis build (testbed/pyxis/build.sh): cold (its cache wiped) and cached
#   2. test image build (testbed/image/build.sh): cold (image removed) and cached, and its size
#   3. per-step overhead on the testbed, inside one job on one node: a bare `srun true`; the first
#      step with --container-image + --container-name (imports the image); a later step by name
#      (container exists, nothing running in it); a step joining a running container by name; an
#      unnamed --container-image step (imports every time)
# Needs root and a testbed up with the real pyxis (bash testbed/up.sh). Parts 1 and 2 rebuild what
# is cached on this machine (the end state is the same as before). BENCH_RUNS [3].
set -euo pipefail
cd "$(dirname "$0")/.."
: "${BENCH_RUNS:=3}"
: "${TB_ROOT:=/var/lib/slurm-testbed}"
: "${DYN_TESTBED_CACHE:=/var/cache/dyn-testbed}"
[ "$(id -u)" = 0 ] || { echo "bench/container-steps.sh: run as root" >&2; exit 1; }
grep -qs '^real ' "$TB_ROOT/pyxis-kind" || { echo "bench/container-steps.sh: needs the testbed up with the real pyxis (bash testbed/up.sh)" >&2; exit 1; }

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
row() { printf '%-44s %6s ms   (runs: %s)\n' "$1" "$(median <<<"$2")" "$2"; }

echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r), Debian $(cat /etc/debian_version)"
sed 's/^/testbed pyxis: /' "$TB_ROOT/pyxis-kind"

cold="" warm=""
for _ in $(seq "$BENCH_RUNS"); do
  rm -rf "$DYN_TESTBED_CACHE/pyxis"
  t=$(date +%s%N); TB_QUIET=1 bash testbed/pyxis/build.sh; cold+="$(ms "$t") "
  t=$(date +%s%N); TB_QUIET=1 bash testbed/pyxis/build.sh; warm+="$(ms "$t") "
done
row "enroot + pyxis build, cold" "$cold"
row "enroot + pyxis build, cached" "$warm"

cold="" warm=""
for _ in $(seq "$BENCH_RUNS"); do
  img=$(bash testbed/image/build.sh)
  rm -f "$img" "$img.inputs"
  t=$(date +%s%N); bash testbed/image/build.sh >/dev/null 2>&1; cold+="$(ms "$t") "
  t=$(date +%s%N); bash testbed/image/build.sh >/dev/null; warm+="$(ms "$t") "
done
row "test image build, cold" "$cold"
row "test image build, cached" "$warm"
printf '%-44s %6s MB   (%s MB unpacked)\n' "test image size" "$(du -m "$img" | cut -f1)" \
  "$(unsquashfs -s "$img" >/dev/null 2>&1 && unsquashfs -lls "$img" | awk '$1 ~ /^-/ { s += $3 } END { printf "%.0f", s / 1048576 }')"

W=$(mktemp -d /tmp/bench-container-steps.XXXXXX)
trap 'rm -rf "$W"' EXIT
cat > "$W/job.sh" <<EOF
#!/bin/bash
#SBATCH -N1 -w node1
t() { local s=\$(date +%s%N) name=\$1; shift; "\$@" >/dev/null; echo "\$name \$(( (\$(date +%s%N) - s) / 1000000 ))"; }
t bare srun -N1 true
t named-first srun -N1 --container-image=$img --container-name=b true
t by-name srun -N1 --container-name=b true
srun -N1 --overlap --container-name=b sleep 10 &
sleep 2
t join-running srun -N1 --overlap --container-name=b true
kill %1 2>/dev/null; wait
t unnamed srun -N1 --container-image=$img true
EOF
for i in $(seq "$BENCH_RUNS"); do
  sbatch --wait -Q -o "$W/out.$i" "$W/job.sh" >/dev/null
done
for s in bare named-first by-name join-running unnamed; do
  row "step: $s" "$(cat "$W"/out.* | awk -v s="$s" '$1 == s { printf "%s ", $2 }')"
done
