#!/usr/bin/env bash
# testbed/pyxis/build.sh — build and install NVIDIA enroot and pyxis for the testbed, once per machine.
#
#   bash testbed/pyxis/build.sh              build + install if needed (a cached run takes ~0.05 s)
#   bash testbed/pyxis/build.sh --force      rebuild from the sources even if the cache is good
#   bash testbed/pyxis/build.sh --packages   print the Debian packages it needs (build + runtime)
#   bash testbed/pyxis/build.sh --versions   print "pyxis=<v> enroot=<v> so=<plugin path>" (pinned)
#   bash testbed/pyxis/build.sh --installed  print "enroot=<v>" of the installed enroot ("" if none)
#   bash testbed/pyxis/build.sh --uninstall  remove what it installed and its cache
#
# Sources: the upstream release archives (`git archive` of the tags), read from $DYN_VENDOR_DIR
# (default: ../shared/vendor beside the repository) when present, otherwise downloaded from GitHub
# once and kept in $DYN_TESTBED_CACHE/src. Either way the sha256 must match the pinned value below
# (the values of shared/vendor/README.md); a mismatch is a hard error.
#
# Install layout (the Debian layout; pyxis execvpe()s "enroot" from slurmstepd's PATH, so it must be
# in /usr/bin): /usr/bin/enroot and its helpers, /usr/lib/enroot, /etc/enroot (hooks, mounts,
# environ, enroot.conf.d), /usr/share/enroot; the SPANK plugin $TB_PYXIS_PREFIX/lib/slurm/spank_pyxis.so
# (default /usr/local) and $TB_PYXIS_PREFIX/share/pyxis/pyxis.conf.
#
# Cache: $DYN_TESTBED_CACHE/pyxis/<key>/ with key = versions + archive sha256 + libslurm version +
# this script's hash. It holds the staged install tree, a sha256 manifest of every installed file and
# an "ok" stamp. A run with a good stamp whose installed files all match the manifest does nothing.
#
# How the build works without GitHub (established in shared/reference/real-pyxis.md and its
# build-enroot-pyxis.sh): enroot's git submodules are not in a release archive, so Debian provides
# them — makeself (deps/makeself), linux-libc-dev (deps/linux-headers) and musl-tools (deps/musl, with
# enroot's deps/musl.patch static-pie change re-applied to a copy of Debian's musl-gcc.specs).
# FORCE_GLIBC=1 is not an option on bookworm: glibc 2.36 has no strlcpy.
set -euo pipefail

# ---- pinned upstream releases (sha256 of the tag archives, as in shared/vendor/README.md) ----------
: "${TB_ENROOT_VERSION:=4.1.2}"
: "${TB_PYXIS_VERSION:=0.24.0}"
pinned_sha() {
  case "$1" in
    enroot-4.1.2) echo 817e8d551135e6f3fc311d1ee57b03fb4d30325acba732f8dea43069ca11f8d3 ;;
    pyxis-0.24.0) echo 063653ba39125ac29796cc6079701d1ec34dd4c5baf698efacc0f36bf3619681 ;;
    *) echo "" ;;
  esac
}
# Another release needs its sha256 given explicitly (TB_ENROOT_SHA256 / TB_PYXIS_SHA256).
: "${TB_ENROOT_SHA256:=$(pinned_sha "enroot-$TB_ENROOT_VERSION")}"
: "${TB_PYXIS_SHA256:=$(pinned_sha "pyxis-$TB_PYXIS_VERSION")}"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
: "${DYN_VENDOR_DIR:=$(cd "$REPO/.." && pwd)/shared/vendor}"
: "${DYN_TESTBED_CACHE:=/var/cache/dyn-testbed}"
: "${TB_PYXIS_PREFIX:=/usr/local}"
: "${TB_INSTALL:=1}"       # 1: apt-get install missing Debian packages
: "${TB_QUIET:=}"          # non-empty: no progress lines on stderr (errors still go there)
PYXIS_SO="$TB_PYXIS_PREFIX/lib/slurm/spank_pyxis.so"

# Build: compiler, make, kernel UAPI headers, musl (enroot's static helpers), makeself, Slurm's
# headers (pyxis must be built against the cluster's Slurm major.minor). Runtime: enroot's Depends
# (pkg/deb/control) plus its Recommends pigz; squashfs-tools also gives the image builder mksquashfs.
BUILD_PKGS="gcc make libc6-dev linux-libc-dev musl-tools makeself libslurm-dev"
RUNTIME_PKGS="bash curl gawk jq parallel passwd squashfs-tools zstd bsdextrautils pigz util-linux"

T0=$(date +%s%N)
say() { [ -n "$TB_QUIET" ] || printf '[pyxis %5.1fs] %s\n' "$(( ($(date +%s%N) - T0) / 1000000 ))e-3" "$*" >&2; }
die() { echo "pyxis/build.sh: ERROR: $*" >&2; exit 1; }
# enroot creates its runtime/cache/data dirs on every run (default /run/enroot, ~/.cache/enroot,
# ~/.local/share/enroot): asking an installed enroot its version must not leave those behind.
enroot_version() { (
  t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
  ENROOT_RUNTIME_PATH=$t ENROOT_CACHE_PATH=$t ENROOT_DATA_PATH=$t "${1:-enroot}" version 2>/dev/null
) || true; }

case "${1:-}" in
  --packages) echo "$BUILD_PKGS $RUNTIME_PKGS"; exit 0 ;;
  --versions) echo "pyxis=$TB_PYXIS_VERSION enroot=$TB_ENROOT_VERSION so=$PYXIS_SO"; exit 0 ;;
  --installed) echo "enroot=$(enroot_version)"; exit 0 ;;
  --force | --uninstall | "") ;;
  *) die "unknown option $1 (see the header of $0)" ;;
esac
[ "$(id -u)" = 0 ] || die "must run as root (it installs into /usr and /etc)"
[ -n "$TB_ENROOT_SHA256" ] || die "no pinned sha256 for enroot $TB_ENROOT_VERSION: set TB_ENROOT_SHA256"
[ -n "$TB_PYXIS_SHA256" ] || die "no pinned sha256 for pyxis $TB_PYXIS_VERSION: set TB_PYXIS_SHA256"

mkdir -p "$DYN_TESTBED_CACHE/pyxis"
exec 9>"$DYN_TESTBED_CACHE/pyxis/.lock"
flock 9   # one build at a time per machine

if [ "${1:-}" = --uninstall ]; then
  for m in "$DYN_TESTBED_CACHE"/pyxis/*/manifest; do
    [ -f "$m" ] || continue
    (cd / && awk '{ print substr($0, 67) }' "$m" | while read -r f; do rm -f "/$f"; done)
  done
  rm -rf /usr/lib/enroot /usr/share/enroot "$TB_PYXIS_PREFIX/share/pyxis"
  rmdir "$TB_PYXIS_PREFIX/lib/slurm" 2>/dev/null || true
  [ -d /etc/enroot ] && find /etc/enroot -depth -type d -empty -delete
  rm -rf "$DYN_TESTBED_CACHE/pyxis" "$DYN_TESTBED_CACHE/src"
  say "uninstalled enroot and pyxis, cache removed"
  exit 0
fi

# ---- 1. packages (one dpkg-query for all of them: this is on the cached fast path) -------------------
# shellcheck disable=SC2086
missing=$(dpkg-query -W -f='${Package} ${Status}\n' $BUILD_PKGS $RUNTIME_PKGS 2>/dev/null |
  awk -v want="$BUILD_PKGS $RUNTIME_PKGS" '$NF == "installed" { ok[$1] = 1 }
    END { n = split(want, p, " "); for (i = 1; i <= n; i++) if (!ok[p[i]]) printf "%s ", p[i] }' || true)
if [ -n "$missing" ]; then
  [ "$TB_INSTALL" = 1 ] || die "missing Debian packages: $missing"
  say "apt-get install $missing"
  # shellcheck disable=SC2086
  inst() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null; }
  inst || { apt-get update -q >/dev/null && inst; } || die "apt-get install $missing failed"
fi

SLURM_VER=$(dpkg-query -W -f='${Version}' libslurm-dev)
SCRIPT_SHA=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)
KEY="enroot-$TB_ENROOT_VERSION-${TB_ENROOT_SHA256:0:12}_pyxis-$TB_PYXIS_VERSION-${TB_PYXIS_SHA256:0:12}_slurm-${SLURM_VER%%-*}_$SCRIPT_SHA"
KDIR="$DYN_TESTBED_CACHE/pyxis/$KEY"

# ---- 2. fast path: built for this key and every installed file is intact ---------------------------
installed_ok() { [ -f "$KDIR/ok" ] && (cd / && sha256sum --check --quiet --status "$KDIR/manifest") 2>/dev/null; }
if [ "${1:-}" != --force ] && installed_ok; then
  say "cached: enroot $TB_ENROOT_VERSION + pyxis $TB_PYXIS_VERSION already installed ($KDIR)"
  exit 0
fi

# Never overwrite an enroot that this script did not install (a site's own, another version).
if [ -e /usr/bin/enroot ] && ! grep -qs ' usr/bin/enroot$' "$DYN_TESTBED_CACHE"/pyxis/*/manifest; then
  have=$(enroot_version /usr/bin/enroot); have=${have:-unknown}
  [ "$have" = "$TB_ENROOT_VERSION" ] || die "/usr/bin/enroot $have is installed and was not installed by this script; remove it first"
fi

# ---- 3. build (the staged tree survives in the cache: a damaged install is restored without a build) --
if [ "${1:-}" = --force ] || [ ! -f "$KDIR/ok" ] || [ ! -d "$KDIR/stage" ]; then
  rm -rf "$KDIR"
  WORK=$(mktemp -d "$DYN_TESTBED_CACHE/pyxis/.build.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT

  # source archive: vendored copy, else the download cache, else GitHub; sha256 checked every time
  fetch() { # fetch <name> <version> <sha256> -> path of a verified archive
    local name=$1 ver=$2 sha=$3 f got url
    f="$DYN_VENDOR_DIR/$name-$ver.tar.gz"
    if [ ! -f "$f" ]; then
      f="$DYN_TESTBED_CACHE/src/$name-$ver.tar.gz"
      if [ ! -f "$f" ]; then
        url="https://github.com/NVIDIA/$name/archive/refs/tags/v$ver.tar.gz"
        say "downloading $url"
        mkdir -p "$DYN_TESTBED_CACHE/src"
        curl -fsSL --retry 3 --connect-timeout 20 -o "$f.part" "$url" || { rm -f "$f.part"; die "download of $url failed"; }
        mv "$f.part" "$f"
      fi
    fi
    got=$(sha256sum "$f" | cut -d' ' -f1)
    if [ "$got" != "$sha" ]; then
      # a bad download is not kept; a vendored archive is read-only and reported as it is
      case "$f" in "$DYN_TESTBED_CACHE"/*) rm -f "$f" ;; esac
      die "sha256 mismatch for $f: got $got, pinned $sha"
    fi
    echo "$f"
  }
  ea=$(fetch enroot "$TB_ENROOT_VERSION" "$TB_ENROOT_SHA256")
  pa=$(fetch pyxis "$TB_PYXIS_VERSION" "$TB_PYXIS_SHA256")
  say "sources verified: $ea, $pa"
  tar -xzf "$ea" -C "$WORK"
  tar -xzf "$pa" -C "$WORK"
  E="$WORK/enroot-$TB_ENROOT_VERSION"
  P="$WORK/pyxis-$TB_PYXIS_VERSION"
  STAGE="$WORK/stage"
  if [ ! -f "$E/Makefile" ] || [ ! -f "$P/Makefile" ]; then die "unexpected archive layout in $ea / $pa"; fi

  # enroot's submodules, from Debian
  triplet=$(gcc -dumpmachine)          # x86_64-linux-gnu
  mtriplet=${triplet%-gnu}-musl        # x86_64-linux-musl
  mspecs="/usr/lib/$mtriplet/musl-gcc.specs"
  [ -f "$mspecs" ] || die "$mspecs missing (musl-tools)"
  cp /usr/bin/makeself "$E/deps/makeself/makeself.sh"
  mkdir -p "$E/deps/dist/linux/include" "$E/deps/dist/musl/bin" "$E/deps/dist/musl/lib"
  ln -sfn /usr/include/linux "$E/deps/dist/linux/include/linux"
  ln -sfn /usr/include/asm-generic "$E/deps/dist/linux/include/asm-generic"
  ln -sfn "/usr/include/$triplet/asm" "$E/deps/dist/linux/include/asm"
  # deps/musl.patch, applied to the specs instead of musl's specs generator: rcrt1.o and
  # -no-dynamic-linker -static -pie for -static-pie links
  sed -e "s#%{!shared: /usr/lib/$mtriplet/Scrt1.o}#%{static-pie: /usr/lib/$mtriplet/rcrt1.o} %{!static-pie: %{!shared: /usr/lib/$mtriplet/Scrt1.o}}#" \
      -e "s#^-dynamic-linker \(/lib/ld-musl-[^ ]*\)#%{static-pie:-no-dynamic-linker -static -pie} %{!static-pie:-dynamic-linker \1}#" \
      "$mspecs" > "$E/deps/dist/musl/lib/musl-gcc.specs"
  if ! grep -q rcrt1.o "$E/deps/dist/musl/lib/musl-gcc.specs" || ! grep -q no-dynamic-linker "$E/deps/dist/musl/lib/musl-gcc.specs"; then
    die "could not add static-pie support to $mspecs (musl-tools changed?)"
  fi
  # shellcheck disable=SC2016 # $@ and REALGCC belong to the wrapper
  printf '#!/bin/sh\nexec "${REALGCC:-gcc}" "$@" -specs "%s"\n' "$E/deps/dist/musl/lib/musl-gcc.specs" > "$E/deps/dist/musl/bin/musl-gcc"
  chmod +x "$E/deps/dist/musl/bin/musl-gcc"
  touch "$E/deps/musl/.stamp" "$E/deps/linux-headers/.stamp"

  # Build with the final paths (the Makefile bakes $(DESTDIR)$(sysconfdir) into bin/enroot, so DESTDIR
  # is given to "install" only). "git submodule update" fails without .git: filtered, ignored by make.
  emake() { make -C "$E" -s prefix= exec_prefix=/usr datarootdir=/usr/share "$@" 2>&1 \
    | { grep -v 'not a git repository\|Error 128 (ignored)\|^make.*Entering\|^make.*Leaving' || true; }; }
  say "building enroot $TB_ENROOT_VERSION"
  emake -j"$(nproc)" all
  [ -x "$E/bin/enroot-switchroot" ] || die "enroot build failed"
  # the helpers must be static PIE (they run inside arbitrary images): no program interpreter
  for u in "$E"/bin/enroot-*; do
    readelf -l "$u" 2>/dev/null | grep -q 'Requesting program interpreter' && die "$u is not statically linked"
  done
  emake DESTDIR="$STAGE" install
  say "building pyxis $TB_PYXIS_VERSION against libslurm-dev $SLURM_VER"
  make -C "$P" -s -j"$(nproc)" >/dev/null
  make -C "$P" -s prefix="$TB_PYXIS_PREFIX" DESTDIR="$STAGE" install >/dev/null
  [ -f "$STAGE$PYXIS_SO" ] || die "pyxis build did not produce $PYXIS_SO"
  if grep -rlqF "$STAGE" "$STAGE"; then die "the staging path leaked into installed files: $(grep -rlF "$STAGE" "$STAGE" | head -3)"; fi

  mkdir -p "$KDIR"
  mv "$STAGE" "$KDIR/stage"
  # sha256 manifest, paths relative to / (checked by the fast path)
  (cd "$KDIR/stage" && find . -type f -printf '%P\n' | sort | xargs sha256sum) > "$KDIR/manifest"
else
  say "restoring the install from the cached build $KDIR"
fi

# ---- 4. install: files only; existing directories keep their owner and mode --------------------------
tar -C "$KDIR/stage" -cf - . | tar -C / -xf - --no-overwrite-dir --no-same-owner
got=$(enroot_version)
[ "$got" = "$TB_ENROOT_VERSION" ] || die "installed enroot reports version '$got', expected $TB_ENROOT_VERSION"
(cd / && sha256sum --check --quiet "$KDIR/manifest") || die "installed files do not match $KDIR/manifest"
date -u +%FT%TZ > "$KDIR/ok"
# superseded builds (other keys) are of no further use
for d in "$DYN_TESTBED_CACHE"/pyxis/*/; do
  [ "${d%/}" = "$KDIR" ] || rm -rf "$d"
done
say "installed enroot $TB_ENROOT_VERSION (/usr/bin/enroot) and pyxis $TB_PYXIS_VERSION ($PYXIS_SO)"
