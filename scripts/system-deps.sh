#!/usr/bin/env bash
# Debian packages the full test suite needs: shellcheck (rendered scripts), and SLURM, munge, etcd and
# NATS for the testbed; SLURM accounting (slurmdbd + MariaDB, testbed/accounting.sh's list); what
# building and running the real enroot + pyxis needs (the list is testbed/pyxis/build.sh's own); and
# the host packages testbed/image/build.sh copies into the test image (its own list too).
# iptables cuts single ports between nodes in the preflight fault test. openssh-server/-client: the
# --remote e2e test runs its own sshd on 127.0.0.1 in front of the testbed. testbed/up.sh checks them again.
# Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC2207 # a space-separated list of package names
pkgs=(shellcheck slurmctld slurmd slurm-client munge nats-server etcd-server etcd-client libslurm-dev gcc libc6-dev iproute2 util-linux curl python3 iptables openssh-server openssh-client
  $(bash testbed/accounting.sh --packages) $(bash testbed/pyxis/build.sh --packages) $(bash testbed/image/build.sh --packages))
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "system-deps: missing Debian packages (install them as root): ${missing[*]}" >&2
  exit 1
fi
echo "system-deps: apt-get install ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
