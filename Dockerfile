# The paddlex image, for CI jobs: a static binary on distroless, as a
# non-root user. Build from the repository root:
#   docker build -t paddlex .
#   docker build --build-arg VERSION=v0.1.0 -t paddlex:v0.1.0 .
# or, with a binary built outside (make build), skip the builder stage:
#   docker build --target prebuilt -t paddlex .
ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS builder
ARG VERSION=v0.0.0-dev
ARG COMMIT=unknown
ARG DATE=unknown
ARG TARGETOS=linux
ARG TARGETARCH=amd64
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath \
      -ldflags "-s -w -X github.com/paddleflow/paddlex/internal/buildinfo.Version=${VERSION} -X github.com/paddleflow/paddlex/internal/buildinfo.Commit=${COMMIT} -X github.com/paddleflow/paddlex/internal/buildinfo.Date=${DATE}" \
      -o /out/paddlex ./cmd/paddlex

# prebuilt: the binary from bin/paddlex (make build) instead of the builder.
FROM gcr.io/distroless/static-debian12:nonroot AS prebuilt
COPY --chown=65532:65532 LICENSE /licenses/LICENSE
COPY --chown=65532:65532 bin/paddlex /usr/local/bin/paddlex
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/paddlex"]

FROM gcr.io/distroless/static-debian12:nonroot
COPY --chown=65532:65532 LICENSE /licenses/LICENSE
COPY --from=builder --chown=65532:65532 /out/paddlex /usr/local/bin/paddlex
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/paddlex"]
