#!/usr/bin/env bash
# Builds Argo Workflows at the version go.mod pins into DIR, as Argo's release
# does: workflow-controller, argoexec and argo (whose `argo server` is the
# pipeline UI), static, with the release's link flags, so the controller's
# default executor image is quay.io/argoproj/argoexec:VERSION, the image the
# install catalog lists. hack/testbin.sh calls it; a warm DIR makes it a no-op.
#
#   hack/tools/argo/build.sh DIR VERSION   (VERSION must be the one go.mod pins)
#
# argoexec and argo do not build from the module as the proxy serves it, so
# they build from a copy of the module directory (DIR/src) through a replace
# in a workspace file (DIR/go.work), with two files added:
#   - workflow/executor/osspecific/signal_linux.go: in Argo's repository a
#     symbolic link to signal_darwin.go, which module zips leave out
#     (without it: undefined: osspecific.Setpgid). The copy is that link's
#     target, as a checkout has it.
#   - ui/dist/app/index.html: the UI bundle the CLI embeds is built with
#     yarn, which Argo's Makefile skips without STATIC_FILES by touching
#     this file; the server then serves no UI pages, and its API as usual.
set -euo pipefail

out=$1 want=$2
here=$(cd "$(dirname "$0")" && pwd)
mod=github.com/argoproj/argo-workflows/v3
if [[ -x "$out/workflow-controller" && -x "$out/argoexec" && -x "$out/argo" ]]; then exit 0; fi
mkdir -p "$out"

info=$(cd "$here" && go mod download -json "$mod")
field() { sed -n 's/^[[:space:]]*"'"$1"'": "\(.*\)",\{0,1\}$/\1/p' <<<"$info" | head -1; }
version=$(field Version)
moddir=$(field Dir)
# The .info file records the tag's commit and time (the release's gitCommit
# and buildDate).
infofile=$(field Info)
commit=$(sed -n 's/.*"Hash":"\([0-9a-f]*\)".*/\1/p' "$infofile")
built=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$infofile")
if [[ -z "$version" || ! -d "$moddir" ]]; then
  echo "argo build: go mod download $mod failed" >&2
  exit 1
fi
if [[ "$version" != "$want" ]]; then
  echo "argo build: hack/tools/argo/go.mod pins $mod $version, not $want" >&2
  exit 1
fi

if [[ ! -f "$out/src/.ready" ]]; then
  rm -rf "$out/src"
  cp -r "$moddir" "$out/src"
  chmod -R u+w "$out/src"
  cp "$out/src/workflow/executor/osspecific/signal_darwin.go" "$out/src/workflow/executor/osspecific/signal_linux.go"
  mkdir -p "$out/src/ui/dist/app"
  touch "$out/src/ui/dist/app/index.html"
  touch "$out/src/.ready"
fi
goversion=$(sed -n 's/^go //p' "$here/go.mod")
cat >"$out/go.work" <<WORK
go $goversion

use $here

replace $mod $version => $out/src
WORK

ldflags="-s -w -X $mod.version=$version -X $mod.gitTag=$version -X $mod.gitCommit=$commit -X $mod.gitTreeState=clean -X $mod.buildDate=$built"
for cmd in workflow-controller argoexec argo; do
  if [[ -x "$out/$cmd" ]]; then continue; fi
  echo "testbin: building $cmd $version from $mod/cmd/$cmd (cold cache; cached in $out)" >&2
  start=$SECONDS
  (cd "$here" && GOWORK="$out/go.work" CGO_ENABLED=0 go build -trimpath -ldflags="$ldflags" -o "$out/$cmd.tmp" "$mod/cmd/$cmd")
  mv "$out/$cmd.tmp" "$out/$cmd"
  echo "testbin: built $cmd in $((SECONDS - start))s" >&2
done
