# paddlex — build, test and demo targets. `make test` is what CI runs.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.0.0-dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
PKG     := github.com/paddleflow/paddlex/internal/buildinfo
LDFLAGS := -s -w -X $(PKG).Version=$(VERSION) -X $(PKG).Commit=$(COMMIT) -X $(PKG).Date=$(DATE)
BIN     := bin

.PHONY: all build test unit golden bench demo testbin test-tools vet fmt-check deps-check tidy-check clean e2e node-packages

# Other projects' files, verbatim (paddle-operator's CRDs among them): the
# integration tests, the demo and the benchmarks read them from here when the
# directory sits beside the clone (CI always has it); without it they fall
# back to the fixtures in internal/localcluster/crds and say so.
UPSTREAM_DIR := $(abspath $(CURDIR)/../shared/reference/upstream)
ifneq ($(wildcard $(UPSTREAM_DIR)/paddle-operator/v1_crd.yaml),)
export PADDLEX_UPSTREAM_DIR ?= $(UPSTREAM_DIR)
endif

all: build

## build: bin/paddlex and bin/kubectl-paddlex (the same binary under the plugin name)
build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/paddlex ./cmd/paddlex
	cp $(BIN)/paddlex $(BIN)/kubectl-paddlex

## testbin: build (once, cached outside the repo) the Kubernetes components the tests run
testbin:
	@hack/testbin.sh all >/dev/null

## test: everything — static checks, unit and golden tests, integration tests
## against a real kube-apiserver, etcd, the simulated cluster, an OCI registry and
## MinIO, then (as root on Linux) the real-node tests of `make e2e`, the journey among them
test: fmt-check vet tidy-check docs-check deps-check test-tools
	PADDLEX_TESTBIN="$$(hack/testbin.sh all registry minio)" PADDLEX_REQUIRE_INTEGRATION=1 \
		go test -count=1 -timeout 40m ./...
	@if [[ "$$(uname -s)" == Linux && "$$(id -u)" == 0 ]]; then $(MAKE) --no-print-directory e2e; \
	else echo "test: the real-node tests need root on Linux and did not run: sudo make e2e runs them"; fi

## e2e: the real-node tests: pods really run on a real kubelet with containerd,
## runc and a CNI bridge, kube-proxy and CoreDNS, pulling from a local OCI
## registry, all inside a network namespace the tests make and remove.
## Needs root; installs the Debian packages it needs when they are missing.
e2e: node-packages
	PADDLEX_TESTBIN="$$(hack/testbin.sh all node)" PADDLEX_REALNODE=1 PADDLEX_REQUIRE_INTEGRATION=1 \
		go test -count=1 -timeout 40m ./test/realnode/...

## node-packages: containerd, runc, the CNI plugins, iptables and busybox-static from Debian
node-packages:
	@hack/node-packages.sh
## test-tools: the programs tests run beside the Kubernetes binaries (python3
## runs the serving pods' verify program); installed with apt-get when missing
TEST_TOOLS := python3
test-tools:
	@missing=; for t in $(TEST_TOOLS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
		if [[ -n "$$missing" ]]; then \
			if command -v apt-get >/dev/null && [[ $$(id -u) == 0 ]]; then \
				echo "test-tools: installing$$missing"; apt-get update -qq && apt-get install -y --no-install-recommends$$missing >/dev/null; \
			else echo "test-tools: the tests need$$missing on PATH: install it with your package manager"; exit 1; fi; \
		fi

## unit: the tests that need no API server (integration tests skip)
unit:
	go test ./...

## golden: rewrite testdata/*.golden.* from the current renderers (only the
## packages whose tests use internal/golden know the -update flag)
golden:
	go test $$(go list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./... | \
		awk '/paddlex\/internal\/golden( |$$)/ && $$1 !~ /internal\/golden$$/ {print $$1}') -run 'Golden|Render' -update >/dev/null
	@git status --short -- '*testdata*'

## bench: the engine and compiler benchmarks against a real API server, the
## install of Argo and Knative's CRDs against kubectl on the same one, and
## modelhub push and pull of 1 GiB against minio-go on a real MinIO server
bench:
	PADDLEX_TESTBIN="$$(hack/testbin.sh cluster kubectl minio)" go test -run '^$$' -bench . -benchtime 1x -timeout 30m ./pkg/kube/... ./pkg/pipeline/... ./pkg/cmd/install/ ./pkg/modelstore/

## demo: the main job on an embedded local cluster (no cluster needed): the
## journey on a real node (root on Linux; installs the node's Debian packages
## when missing); SIM=1 simulates the node with kwok instead (no root), and
## SIM=1 KEEP=1 keeps that cluster up until Ctrl-C
demo: build
	@if [[ -z "$${SIM:-}" && "$$(uname -s)" == Linux && "$$(id -u)" == 0 ]]; then \
		hack/node-packages.sh && PADDLEX_TESTBIN="$$(hack/testbin.sh all node)" go run ./hack/demo; \
	else \
		if [[ -z "$${SIM:-}" ]]; then echo "demo: the real node needs root on Linux; running the simulated cluster (SIM=1)"; fi; \
		PADDLEX_TESTBIN="$$(hack/testbin.sh all)" go run ./hack/demo -simulated; \
	fi

vet:
	go vet ./...

## deps-check: the domain packages (renderers, specs, stores) never pull in the command layer
DOMAIN_PKGS := ./pkg/exit ./pkg/image ./pkg/validate ./pkg/paddle ./pkg/train ./pkg/serve ./pkg/dataset ./pkg/modelhub ./pkg/modelstore ./pkg/pipeline ./pkg/kube
deps-check:
	@bad=$$(go list -deps $(DOMAIN_PKGS) | grep -E '^(github.com/spf13/(cobra|viper)|k8s.io/cli-runtime|github.com/paddleflow/paddlex/pkg/(cmd|cmdutil)(/|$$))' | sort -u || true); \
		if [[ -n "$$bad" ]]; then echo "domain packages import the command layer:"; echo "$$bad"; \
		for p in $(DOMAIN_PKGS); do go list -deps $$p | grep -qE '^(github.com/spf13/(cobra|viper)|k8s.io/cli-runtime|github.com/paddleflow/paddlex/pkg/(cmd|cmdutil)(/|$$))' && echo "  from $$p"; done; exit 1; fi

## tidy-check: go.mod and go.sum are what `go mod tidy` makes of them (direct requirements not marked indirect)
tidy-check:
	@go mod tidy -diff || { echo "go.mod or go.sum is not tidy: run 'go mod tidy' and commit the result"; exit 1; }

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [[ -n "$$out" ]]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

clean:
	rm -rf $(BIN) dist

.PHONY: docs completions docs-check release-check snapshot

## docs: the CLI reference in docs/reference, one page per command, from the command tree
docs:
	go run ./hack/gendocs -docs docs/reference

## completions: bash, zsh, fish and powershell scripts and kubectl_complete-paddlex
completions:
	go run ./hack/gendocs -completions completions

## docs-check: regenerate the reference and completions; fail if they differ from git
docs-check: docs completions
	@git diff --exit-code --stat -- docs/reference completions || { echo "docs/reference or completions are stale: run 'make docs completions' and commit them"; exit 1; }
	@new=$$(git ls-files --others --exclude-standard -- docs/reference completions); if [[ -n "$$new" ]]; then echo "not committed:"; echo "$$new"; echo "run 'make docs completions' and commit them"; exit 1; fi

## release-check: validate .goreleaser.yaml with the pinned goreleaser (hack/goreleaser.sh)
release-check:
	hack/goreleaser.sh check

## snapshot: a local release build into dist/ (no tag, nothing published);
## SBOMs need syft on PATH and are skipped without it
snapshot:
	@skip=; if ! command -v syft >/dev/null; then echo "syft is not on PATH: this snapshot has no SBOMs"; skip=--skip=sbom; fi; \
		hack/goreleaser.sh release --snapshot --clean $$skip
