#!/usr/bin/env bash
# testbed/image/build.sh — an enroot image (squashfs) that impersonates an NVIDIA Dynamo runtime image,
# built offline from the host's installed Debian packages: no registry, no network.
#
#   testbed/image/build.sh [--backend vllm|sglang|trtllm] [--release X] [--no-python] [--out DIR]
#   testbed/image/build.sh --packages      the Debian packages whose files it copies
#
# Prints the image path, named the way `enroot import` names nvcr.io#nvidia/ai-dynamo/<b>-runtime:<X>:
#   <out>/nvidia+ai-dynamo+<backend>-runtime+<release>.sqsh       (trtllm: tensorrtllm-runtime)
#   <out>/nvidia+ai-dynamo+<backend>-runtime+<release>-no-python.sqsh   with --no-python
# Defaults: --backend vllm, --release 1.1.0 (the backends' default Dynamo release), --out
# /var/lib/dyn-testbed/images (on the testbed every node sees the host's filesystem).
#
# Cached by content: the key is a hash of this script, the arguments, the stand-in files
# (testbed/runtime without tests/, or $DYN_STANDIN_SRC) and the versions of the host packages copied in. It is written
# next to the image as <image>.inputs; an unchanged key prints the path and does nothing else.
#
# What is inside (paths as in the real images; see ai-dynamo/dynamo container/templates/
# dynamo_base.Dockerfile and vllm_runtime.Dockerfile: etcd's release tarball is unpacked into
# /usr/local/bin/etcd/ and that directory is on PATH, nats-server is /usr/bin/nats-server,
# WORKDIR /workspace with the examples under /workspace/examples):
#   bash, dash (/bin/sh), coreutils (env, true, sleep, timeout ...), grep, sed, findutils, mawk,
#   hostname, ip, getent, ps, curl, jq
#   python3 (Debian's 3.11, stdlib only)             — left out with --no-python (fault tests)
#   /usr/local/bin/etcd/{etcd,etcdctl}               — Debian's etcd-server / etcd-client binaries
#   /usr/bin/nats-server                             — Debian's nats-server
#   /opt/dynamo-standin/{bin,python,...}             — testbed/runtime: python3 -m dynamo.*, dynamo,
#                                                      trtllm-llmapi-launch (also in /usr/local/bin)
#   /workspace/examples/...                          — testbed/runtime/workspace
#   /etc/dynamo-release                              — the release impersonated (read by the stand-in
#                                                      when DYN_STANDIN_VERSION is not set)
#   /etc/rc, /etc/rc.local, /etc/fstab, /etc/environment — enroot's image format, as `enroot import`
#                                                      writes them (src/docker.sh docker::configure)
#   /opt/nvidia/nvidia_entrypoint.sh                 — the entrypoint (execs its arguments)
#
# The rootfs is assembled by copying the files of installed packages plus the shared libraries that
# their programs need (ldd), as in shared/reference/real-pyxis/build-enroot-pyxis.sh; then
# mksquashfs -comp zstd: on this machine 0.5 s and 48 MB, against 2.9 s and 102 MB with enroot's default
# "-comp lzo -noD" (uncompressed data), and the same unsquashfs time on import.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
RUNTIME="${DYN_STANDIN_SRC:-$REPO/testbed/runtime}"   # another copy of the stand-in (e.g. a release's)
# Host packages copied whole (minus documentation) and single programs (with the libraries they use).
PKGS="base-files bash dash coreutils grep sed findutils mawk"
PY_PKGS="python3.11-minimal libpython3.11-minimal libpython3.11-stdlib python3-minimal"
PROGS="/usr/bin/hostname /usr/bin/ip /usr/bin/getent /usr/bin/ps /usr/bin/curl /usr/bin/jq"
PROG_PKGS="hostname iproute2 libc-bin procps curl jq"
SVC_PKGS="etcd-server etcd-client nats-server"
backend=vllm release=1.1.0 python=1 out=/var/lib/dyn-testbed/images
die() { echo "image/build.sh: ERROR: $*" >&2; exit 1; }
usage() { sed -n '5,6p' "${BASH_SOURCE[0]}" | sed 's/^# *//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --backend) backend=${2:?}; shift 2 ;;
    --backend=*) backend=${1#*=}; shift ;;
    --release) release=${2:?}; shift 2 ;;
    --release=*) release=${1#*=}; shift ;;
    --no-python) python=0; shift ;;
    --out) out=${2:?}; shift 2 ;;
    --out=*) out=${1#*=}; shift ;;
    --packages) echo "$PKGS $PY_PKGS $PROG_PKGS $SVC_PKGS"; exit 0 ;;   # the host packages it copies from
    -h | --help) usage ;;
    *) echo "image/build.sh: unknown argument $1" >&2; usage ;;
  esac
done
case "$backend" in
  vllm | sglang) repo_name="$backend-runtime" ;;
  trtllm) repo_name="tensorrtllm-runtime" ;;
  *) die "--backend must be vllm, sglang or trtllm (got '$backend')" ;;
esac
[[ "$release" =~ ^[0-9]+\.[0-9]+\.[0-9]+([.+-][0-9A-Za-z.]+)?$ ]] || die "--release must look like 1.1.0 (got '$release')"
tag=$release
[ "$python" = 1 ] || tag="$release-no-python"
name="nvidia+ai-dynamo+$repo_name+$tag.sqsh"
img="$out/$name"
[ -d "$RUNTIME/python/dynamo" ] || die "stand-in not found at $RUNTIME"

[ "$python" = 1 ] && PKGS="$PKGS $PY_PKGS"

# ---- cache key (the fast path: ~50 ms) ----------------------------------------------------------
# shellcheck disable=SC2086
versions=$(dpkg-query -W -f='${Package}=${Version} ${Status}\n' $PKGS $PROG_PKGS $SVC_PKGS libc6 2>/dev/null || true)
# shellcheck disable=SC2086
for p in $PKGS $PROG_PKGS $SVC_PKGS; do
  grep -q "^$p=.* installed$" <<<"$versions" || die "Debian package $p is not installed (bash scripts/system-deps.sh installs the testbed's packages)"
done
inputs=$(
  echo "script $(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)"
  echo "args backend=$backend release=$release python=$python"
  awk '{ print "deb " $1 }' <<<"$versions"
  (cd "$RUNTIME" && find . -path ./tests -prune -o -name __pycache__ -prune -o -name '*.pyc' -o -type f -print0 \
    | sort -z | xargs -0 sha256sum | sed 's/^/standin /')
)
key=$(sha256sum <<<"$inputs" | cut -d' ' -f1)
mkdir -p "$out"
exec 9>"$out/.lock"
flock 9   # concurrent callers (parallel tests) wait for one build
if [ -f "$img" ] && [ "$(head -1 "$img.inputs" 2>/dev/null)" = "key $key" ]; then
  echo "$img"
  exit 0
fi

# ---- build ----------------------------------------------------------------------------------------
T0=$(date +%s%N)
W=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$W"' EXIT
R="$W/rootfs"
mkdir -p "$R/usr/bin" "$R/usr/sbin" "$R/usr/lib" "$R/usr/lib64"
# merged /usr (bookworm): /bin, /sbin, /lib, /lib64 are symlinks into /usr, as on the host
for l in bin sbin lib lib64; do [ -L "/$l" ] && ln -sfn "usr/$l" "$R/$l"; done
canon() { sed -E 's#^/(bin|sbin|lib|lib64)/#/usr/\1/#'; }   # host paths through those symlinks

# Files of the packages: regular files and symlinks, no documentation; then the targets of the
# symlinks, and every shared library (and the loader) that a program or library among them needs.
# shellcheck disable=SC2086
dpkg -L $PKGS | canon | grep -Ev '^/usr/share/(doc|doc-base|man|info|locale|lintian|bash-completion|menu)/' \
  | sort -u | while read -r f; do
    if [ -L "$f" ] || [ -f "$f" ]; then echo "$f"; fi
  done > "$W/files"
# Debian's python generates the stdlib's byte code at install time (not in dpkg -L): copy it, so a
# read-only rootfs does not recompile the stdlib in every process.
if [ "$python" = 1 ]; then find /usr/lib/python3.11 -path '*/__pycache__/*.cpython-311.pyc' >> "$W/files"; fi
# shellcheck disable=SC2086
printf '%s\n' $PROGS /usr/bin/etcd /usr/bin/etcdctl /usr/sbin/nats-server | canon > "$W/progs"
# shellcheck disable=SC2046 # ldd fails for scripts ("not a dynamic executable"): ignored
{ ldd $(cat "$W/progs") $(grep -E '/(s?bin/[^/]+|[^/]+\.so[.0-9]*)$' "$W/files" | while read -r f; do [ -L "$f" ] || echo "$f"; done) 2>/dev/null || true; } \
  | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $2 ~ /^\(0x/ { print $1 }' | canon | sort -u > "$W/libs"
cat "$W/files" "$W/libs" | while read -r f; do [ -L "$f" ] && readlink -f "$f"; done | canon > "$W/targets"
grep -v -e /usr/bin/etcd -e /usr/sbin/nats-server "$W/progs" | cat - "$W/files" "$W/libs" "$W/targets" | sort -u | sed 's#^/##' > "$W/all"
tar -C / --no-recursion -cf - -T "$W/all" | tar -C "$R" -xf - --keep-directory-symlink

# the relocated services, as in the Dynamo images
install -D -m 0755 /usr/bin/etcd "$R/usr/local/bin/etcd/etcd"
install -D -m 0755 /usr/bin/etcdctl "$R/usr/local/bin/etcd/etcdctl"
install -D -m 0755 /usr/sbin/nats-server "$R/usr/bin/nats-server"
# what update-alternatives and dash's diversion would have made
ln -sfn dash "$R/usr/bin/sh"
ln -sfn mawk "$R/usr/bin/awk"
[ "$python" = 1 ] && [ ! -e "$R/usr/bin/python3" ] && ln -sfn python3.11 "$R/usr/bin/python3"

# the stand-in Dynamo and the examples workspace
mkdir -p "$R/opt/dynamo-standin" "$R/usr/local/bin" "$R/workspace"
tar -C "$RUNTIME" --exclude=./tests --exclude=__pycache__ --exclude='*.pyc' -cf - . | tar -C "$R/opt/dynamo-standin" -xf -
[ -d "$RUNTIME/workspace" ] && cp -a "$RUNTIME/workspace/." "$R/workspace/"
for f in "$R"/opt/dynamo-standin/bin/*; do ln -sfn "/opt/dynamo-standin/bin/${f##*/}" "$R/usr/local/bin/${f##*/}"; done
if [ "$python" = 1 ]; then
  # found without PYTHONPATH too (e.g. under env -i), like a pip-installed package
  mkdir -p "$R/usr/local/lib/python3.11/dist-packages"
  echo /opt/dynamo-standin/python > "$R/usr/local/lib/python3.11/dist-packages/dynamo-standin.pth"
  # byte-compile once (same interpreter as the image's): a read-only rootfs cannot cache it later
  python3 -m compileall -q -s "$R" -p / "$R/opt/dynamo-standin/python" >/dev/null
fi

# ---- /etc and the enroot image format --------------------------------------------------------------
mkdir -p "$R"/{etc,tmp,proc,sys,dev,run,root,home/dynamo,var/tmp,var/run,var/lock,opt/nvidia}
chmod 1777 "$R/tmp" "$R/var/tmp"
printf 'root:x:0:0:root:/root:/bin/bash\ndynamo:x:1000:0::/home/dynamo:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' > "$R/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$R/etc/group"
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\n' > "$R/etc/nsswitch.conf"
echo "$release" > "$R/etc/dynamo-release"
cat > "$R/opt/nvidia/nvidia_entrypoint.sh" <<'EOF'
#!/bin/bash
# Stand-in for the NVIDIA images' entrypoint (used with --container-entrypoint): run the command.
if [ $# -eq 0 ]; then exec /bin/bash; fi
exec "$@"
EOF
chmod 0755 "$R/opt/nvidia/nvidia_entrypoint.sh"
# /etc/environment: the image's ENV. pyxis exports the job's environment into each step, but a name
# the image sets keeps the image's value (unless the step passes --container-env NAME).
{
  echo "PATH=/usr/local/bin/etcd/:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  echo "PYTHONPATH=/opt/dynamo-standin/python"
  echo "DYN_STANDIN_HOME=/opt/dynamo-standin"
  echo "DYN_TESTBED_IMAGE=nvidia/ai-dynamo/$repo_name:$tag"
} > "$R/etc/environment"
: > "$R/etc/fstab"
cat > "$R/etc/rc" <<EOF
# org.opencontainers.image.title nvidia/ai-dynamo/$repo_name (dyn testbed stand-in)
# org.opencontainers.image.version $release
# dyn.testbed.image.key $key

mkdir -p "/workspace" 2> /dev/null
cd "/workspace" && unset OLDPWD || exit 1

if [ -s /etc/rc.local ]; then
    . /etc/rc.local
fi

if [ \$# -gt 0 ]; then
    exec '/opt/nvidia/nvidia_entrypoint.sh' "\$@"
else
    exec '/opt/nvidia/nvidia_entrypoint.sh'
fi
EOF
printf '# This file is sourced by /etc/rc when the container starts.\n# It can be used to manipulate the entrypoint or the command of the container.\n' > "$R/etc/rc.local"

# ---- check and squash -----------------------------------------------------------------------------
if [ "$python" = 1 ]; then
  chroot "$R" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin /usr/bin/python3 -c \
    'import dynamo.frontend, dynamo.vllm, json, socket, urllib.request, http.server, hashlib, ssl' \
    || die "python3 or the stand-in does not import inside the rootfs"
fi
for b in bash env hostname ip curl nats-server; do
  chroot "$R" /usr/bin/env PATH=/usr/local/bin/etcd:/usr/bin /usr/bin/bash -c "command -v $b >/dev/null" || die "$b missing in the rootfs"
done
chroot "$R" /usr/local/bin/etcd/etcd --version >/dev/null || die "etcd does not run inside the rootfs"
mksquashfs "$R" "$W/$name" -all-root -noappend -no-progress -quiet -comp zstd -Xcompression-level 3 -exit-on-error >/dev/null
chmod 0644 "$W/$name"
{ echo "key $key"; echo "built $(date -u +%FT%TZ) in $(( ($(date +%s%N) - T0) / 1000000 )) ms"; echo "$inputs"; } > "$W/$name.inputs"
mv -f "$W/$name" "$img"
mv -f "$W/$name.inputs" "$img.inputs"
echo "image/build.sh: built $img ($(du -m "$img" | cut -f1) MB, $(( ($(date +%s%N) - T0) / 1000000 )) ms)" >&2
echo "$img"
