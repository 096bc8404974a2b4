#!/usr/bin/env bash
# Builds the real Kubernetes components the integration tests run, from the Go
# module proxy, into a cache outside the repository keyed by version. A warm
# cache makes this a no-op. Prints the directory holding the binaries.
#
#   hack/testbin.sh [SET...]   (default: all)
#     api       kube-apiserver + etcd                     (API-level tests)
#     cluster   api + kube-controller-manager, kube-scheduler, kwok (simulated cluster)
#     all       cluster + the Kubeflow training-operator   (end-to-end training)
#     registry  api + the OCI registry (CNCF distribution)
#     kubectl   api + kubectl (the benchmarks compare with it)
#     minio     api + the MinIO server (tenants' per-user policies, the model center)
#     node      api + registry, kubelet, kube-proxy, CoreDNS, MinIO and mc, Knative Serving's
#               controller, webhook, activator, autoscaler and queue-proxy (the real node;
#               its Debian packages come from hack/node-packages.sh), the .debs of
#               the images' Python layer (hack/python-debs.sh), linked as python-debs, and
#               Argo Workflows' controller, executor and CLI (hack/tools/argo/build.sh)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
sets=("$@")
if ((${#sets[@]} == 0)); then sets=(all); fi

K8S_VERSION=v1.37.2
ETCD_VERSION=v3.6.6
KWOK_VERSION=v0.8.0
TRAINING_OPERATOR_VERSION=v1.9.3
DISTRIBUTION_VERSION=v3.1.2
COREDNS_VERSION=v1.15.0
# MinIO tags its releases RELEASE.<date>, which the module proxy does not
# serve as versions: the server and mc are pinned by pseudo-version
# (hack/tools/minio, hack/tools/mc).
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
MC_VERSION=v0.0.0-20250313080218-cf909e1063a9

cache=${PADDLEX_TESTBIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/paddlex/testbin}
dir="$cache/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION-to-$TRAINING_OPERATOR_VERSION"
mkdir -p "$dir"
# One build at a time: a second run (another checkout's make, a parallel
# test command) waits for the first instead of building the same binary
# into the same temporary file; on a warm cache the lock is held for an instant.
exec 9>"$cache/.lock"
flock 9

# build NAME MODULE_DIR PACKAGE [LDFLAGS]: go build into $dir/NAME unless
# already there. LDFLAGS are added to -s -w; as -trimpath keeps them out of
# the binary's build information, they are recorded in $dir/.NAME.ldflags,
# and a binary built with other flags is built again (a link, on a warm Go
# build cache).
build() {
  local name=$1 mod=$2 pkg=$3 ldflags="-s -w${4:+ $4}"
  if [[ -x "$dir/$name" && "$(cat "$dir/.$name.ldflags" 2>/dev/null || echo '-s -w')" == "$ldflags" ]]; then return 0; fi
  echo "testbin: building $name from $pkg (cached in $dir)" >&2
  local start=$SECONDS
  (cd "$here/tools/$mod" && CGO_ENABLED=0 go build -trimpath -ldflags="$ldflags" -o "$dir/$name.tmp" "$pkg")
  echo "$ldflags" >"$dir/.$name.ldflags"
  mv "$dir/$name.tmp" "$dir/$name"
  echo "testbin: built $name in $((SECONDS - start))s" >&2
}

# K8S_STAMP stamps the Kubernetes components with their version, as
# Kubernetes' release build does (hack/lib/version.sh): unstamped, the API
# server reports v0.0.0-master+$Format:%H$ on /version, which clients that
# check the cluster's version refuse (Knative's controllers exit with
# "Version check failed").
k8s_major=${K8S_VERSION#v} k8s_minor=${K8S_VERSION#v*.}
K8S_STAMP="-X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=${k8s_major%%.*} -X k8s.io/component-base/version.gitMinor=${k8s_minor%%.*} -X k8s.io/component-base/version.gitTreeState=clean"

# buildv NAME VERSION MODULE_DIR PACKAGE: components whose version is not in
# $dir's name build into a directory of their own, keyed by their version,
# linked from $dir.
buildv() {
  local name=$1 version=$2 mod=$3 pkg=$4
  local vdir="$cache/$mod-$version"
  if [[ ! -x "$vdir/$name" ]]; then
    mkdir -p "$vdir"
    echo "testbin: building $name $version from $pkg (cold cache; cached in $vdir)" >&2
    local start=$SECONDS
    (cd "$here/tools/$mod" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$vdir/$name.tmp" "$pkg")
    mv "$vdir/$name.tmp" "$vdir/$name"
    echo "testbin: built $name in $((SECONDS - start))s" >&2
  fi
  ln -sfn "$vdir/$name" "$dir/$name"
}

# crds NAME MODULE@VERSION SUBDIR: copy a module's CRD files into $dir/crds/NAME,
# read from the module cache (the module is not added to any go.mod). The
# directory records its MODULE@VERSION and is replaced when that changes.
crds() {
  local name=$1 modver=$2 sub=$3
  if [[ -d "$dir/crds/$name" && "$(cat "$dir/crds/$name/.source" 2>/dev/null)" == "$modver/$sub" ]]; then return 0; fi
  local mdir
  mdir=$(GOFLAGS=-mod=mod go mod download -json "$modver" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  if [[ -z "$mdir" || ! -d "$mdir/$sub" ]]; then
    echo "testbin: $modver has no $sub" >&2
    return 1
  fi
  rm -rf "$dir/crds/$name.tmp"
  mkdir -p "$dir/crds/$name.tmp"
  grep -l '^kind: CustomResourceDefinition' "$mdir/$sub"/*.yaml | xargs -I{} cp {} "$dir/crds/$name.tmp/"
  chmod -R u+w "$dir/crds/$name.tmp"
  echo "$modver/$sub" >"$dir/crds/$name.tmp/.source"
  rm -rf "$dir/crds/$name"
  mv "$dir/crds/$name.tmp" "$dir/crds/$name"
}

# manifests NAME MODULE@VERSION SUBDIR: copy a module's kustomize tree into
# $dir/manifests/NAME, as crds does, so a component's own manifests deploy it.
manifests() {
  local name=$1 modver=$2 sub=$3
  if [[ -d "$dir/manifests/$name" && "$(cat "$dir/manifests/$name/.source" 2>/dev/null)" == "$modver/$sub" ]]; then return 0; fi
  local mdir
  mdir=$(GOFLAGS=-mod=mod go mod download -json "$modver" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  if [[ -z "$mdir" || ! -d "$mdir/$sub" ]]; then
    echo "testbin: $modver has no $sub" >&2
    return 1
  fi
  rm -rf "$dir/manifests/$name.tmp"
  mkdir -p "$dir/manifests"
  cp -r "$mdir/$sub" "$dir/manifests/$name.tmp"
  chmod -R u+w "$dir/manifests/$name.tmp"
  echo "$modver/$sub" >"$dir/manifests/$name.tmp/.source"
  rm -rf "$dir/manifests/$name"
  mv "$dir/manifests/$name.tmp" "$dir/manifests/$name"
}

ARGO_VERSION=v3.7.9
# knative.dev/serving v0.42.2 is Knative Serving release knative-v1.15.2, the
# release the install catalog pins (pkg/install/default.go); docs/install.md
# maps module versions to releases. (v0.51.0 needs a knative.dev/pkg version
# the module proxy does not serve.)
KNATIVE_SERVING_VERSION=v0.42.2
crds argo "github.com/argoproj/argo-workflows/v3@$ARGO_VERSION" manifests/base/crds/full
crds knative "knative.dev/serving@$KNATIVE_SERVING_VERSION" config/core/300-resources
# The training-operator's CRDs serve every set: tests apply its PaddleJob with
# or without the operator running.
crds training-operator "github.com/kubeflow/training-operator@$TRAINING_OPERATOR_VERSION" manifests/base/crds
manifests training-operator "github.com/kubeflow/training-operator@$TRAINING_OPERATOR_VERSION" manifests

build etcd etcd go.etcd.io/etcd/server/v3
build kube-apiserver kubernetes k8s.io/kubernetes/cmd/kube-apiserver "$K8S_STAMP"
for set_ in "${sets[@]}"; do
case "$set_" in
  api) ;;
  registry)
    buildv registry "$DISTRIBUTION_VERSION" distribution github.com/distribution/distribution/v3/cmd/registry
    ;;
  kubectl)
    build kubectl kubernetes k8s.io/kubernetes/cmd/kubectl "$K8S_STAMP"
    ;;
  minio)
    buildv minio "$MINIO_VERSION" minio github.com/minio/minio
    ;;
  node)
    buildv registry "$DISTRIBUTION_VERSION" distribution github.com/distribution/distribution/v3/cmd/registry
    build kubelet kubernetes k8s.io/kubernetes/cmd/kubelet "$K8S_STAMP"
    build kube-proxy kubernetes k8s.io/kubernetes/cmd/kube-proxy "$K8S_STAMP"
    buildv coredns "$COREDNS_VERSION" coredns github.com/coredns/coredns
    buildv minio "$MINIO_VERSION" minio github.com/minio/minio
    buildv mc "$MC_VERSION" mc github.com/minio/mc
    for kn in controller webhook activator autoscaler queue; do
      buildv "knative-$kn" "$KNATIVE_SERVING_VERSION" knative "knative.dev/serving/cmd/$kn"
    done
    pydebs=$("$here/python-debs.sh")
    ln -sfn "$pydebs" "$dir/python-debs"
    "$here/tools/argo/build.sh" "$cache/argo-$ARGO_VERSION" "$ARGO_VERSION"
    for b in workflow-controller argoexec argo; do ln -sfn "$cache/argo-$ARGO_VERSION/$b" "$dir/$b"; done
    ;;
  cluster|all)
    build kube-controller-manager kubernetes k8s.io/kubernetes/cmd/kube-controller-manager "$K8S_STAMP"
    build kube-scheduler kubernetes k8s.io/kubernetes/cmd/kube-scheduler "$K8S_STAMP"
    build kwok kwok sigs.k8s.io/kwok/cmd/kwok
    # kwok's Stage files ship in its module: copy the ones the simulated cluster uses.
    if [[ ! -d "$dir/kwok-stages" ]]; then
      kwokdir=$(cd "$here/tools/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
      rm -rf "$dir/kwok-stages.tmp"
      mkdir -p "$dir/kwok-stages.tmp"
      grep -l '^kind: Stage' "$kwokdir"/kustomize/stage/node/fast/*.yaml "$kwokdir"/kustomize/stage/pod/fast/*.yaml |
        xargs -I{} cp {} "$dir/kwok-stages.tmp/"
      chmod -R u+w "$dir/kwok-stages.tmp"
      mv "$dir/kwok-stages.tmp" "$dir/kwok-stages"
    fi
    if [[ "$set_" == all ]]; then
      build training-operator training-operator github.com/kubeflow/training-operator/cmd/training-operator.v1
    fi
    ;;
  *) echo "usage: $0 [api|cluster|all|registry|kubectl|minio|node]..." >&2; exit 2 ;;
esac
done
echo "$dir"
