#!/usr/bin/env bash
# Builds goreleaser, pinned in hack/tools/goreleaser/go.mod, from the Go module
# proxy into a cache outside the repository keyed by version, then runs it with
# the given arguments. A warm cache makes the build a no-op.
#
#   hack/goreleaser.sh check
#   hack/goreleaser.sh release --snapshot --clean
#   hack/goreleaser.sh --path     prints the binary's path
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
version=$(cd "$here/tools/goreleaser" && go list -m -f '{{.Version}}' github.com/goreleaser/goreleaser/v2)
cache=${PADDLEX_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/paddlex/tools}
bin="$cache/goreleaser-$version"

if [[ ! -x "$bin" ]]; then
  mkdir -p "$cache"
  echo "goreleaser: building $version (cold cache; cached in $cache)" >&2
  start=$SECONDS
  (cd "$here/tools/goreleaser" && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=$version" -o "$bin.tmp" github.com/goreleaser/goreleaser/v2)
  mv "$bin.tmp" "$bin"
  echo "goreleaser: built $version in $((SECONDS - start))s" >&2
fi

if [[ "${1:-}" == --path ]]; then
  echo "$bin"
  exit 0
fi
exec "$bin" "$@"
