#!/usr/bin/env bash
# Fetches the Debian packages of the real-node images' Python layer with
# `apt-get download` into a cache outside the repository, keyed by the
# packages' versions, and prints the directory holding the .deb files. A warm
# cache makes this a no-op; nothing is installed on this machine. The tests
# unpack each package's data.tar into an image layer (localcluster.DebLayer),
# as dpkg would unpack it, without running dpkg or the packages' scripts.
#
#   hack/python-debs.sh
set -euo pipefail

# The interpreter and its standard library, the links python3 and python,
# and the shared libraries the interpreter and the modules paddlex's scripts
# import load (hashlib's OpenSSL, tarfile's gzip, bz2 and lzma, ctypes' ffi).
pkgs=(
  python3.11-minimal libpython3.11-minimal libpython3.11-stdlib
  python3-minimal python-is-python3
  libc6 zlib1g libexpat1 libssl3 libffi8 libbz2-1.0 liblzma5
)

cache=${PADDLEX_TESTBIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/paddlex/testbin}

# versions prints NAME=VERSION for each package, the versions apt would
# install; empty when the package lists do not know one.
versions() {
  local p v
  for p in "${pkgs[@]}"; do
    v=$(apt-cache policy "$p" 2>/dev/null | sed -n 's/^ *Candidate: //p')
    if [[ -z "$v" || "$v" == "(none)" ]]; then return 1; fi
    echo "$p=$v"
  done
}

if ! command -v apt-get >/dev/null; then
  echo "python-debs: apt-get is missing: the Python layer is built from Debian's packages" >&2
  exit 1
fi
if ! list=$(versions); then
  if ((EUID != 0)); then
    echo "python-debs: apt knows no version of some of ${pkgs[*]}; run apt-get update as root" >&2
    exit 1
  fi
  echo "python-debs: updating apt's package lists" >&2
  apt-get update -qq
  list=$(versions) || { echo "python-debs: apt knows no version of some of ${pkgs[*]}" >&2; exit 1; }
fi
# The directory is named after the interpreter's version and a digest of
# every package's version, so any upgrade fetches a new set.
pyver=$(sed -n 's/^python3\.11-minimal=//p' <<<"$list")
sum=$(sha256sum <<<"$list" | cut -c1-12)
dir="$cache/python-debs-${pyver//[^A-Za-z0-9.+-]/_}-$sum"
if [[ -f "$dir/.complete" ]]; then
  echo "$dir"
  exit 0
fi
echo "python-debs: fetching ${pkgs[*]} (cold cache; cached in $dir)" >&2
rm -rf "$dir.tmp"
mkdir -p "$dir.tmp"
# apt-get download writes into the working directory. As root, apt drops
# to its _apt user, who cannot reach a cache under root's home: download as
# the user running this.
# shellcheck disable=SC2086 # one NAME=VERSION per word
(cd "$dir.tmp" && apt-get download -qq -o APT::Sandbox::User="$(id -un)" $list >/dev/null)
echo "$list" >"$dir.tmp/.complete"
rm -rf "$dir"
mv "$dir.tmp" "$dir"
echo "$dir"
