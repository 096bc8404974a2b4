#!/usr/bin/env bash
# Installs the Debian packages the real node needs when they are missing:
# containerd and runc run the containers, the CNI plugins wire the pod
# network, iptables carries kube-proxy's Service rules, busybox-static is the
# base layer of the test images. Needs root (CI runs as root) and apt.
#
#   hack/node-packages.sh         install what is missing
#   hack/node-packages.sh check   exit 1, naming them, when any is missing
set -euo pipefail

# command the package provides, then the package.
need=(
  /usr/bin/containerd containerd
  /usr/sbin/runc runc
  /usr/lib/cni/bridge containernetworking-plugins
  /usr/sbin/iptables iptables
  /bin/busybox busybox-static
  /usr/sbin/ip iproute2
)
missing=()
for ((i = 0; i < ${#need[@]}; i += 2)); do
  [[ -x "${need[i]}" ]] || missing+=("${need[i + 1]}")
done
# busybox (dynamic) also provides /bin/busybox: the images need the static one.
if [[ -x /bin/busybox ]] && ! dpkg-query -W -f '${Status}' busybox-static 2>/dev/null | grep -q 'ok installed'; then
  missing+=(busybox-static)
fi
if ((${#missing[@]} == 0)); then exit 0; fi
if [[ "${1:-}" == check ]]; then
  echo "missing Debian packages: ${missing[*]} (run hack/node-packages.sh as root)" >&2
  exit 1
fi
if ((EUID != 0)); then
  echo "node-packages: ${missing[*]} missing; run as root to install them" >&2
  exit 1
fi
echo "node-packages: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
