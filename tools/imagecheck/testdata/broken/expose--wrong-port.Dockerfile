# expect: expose
# check=error=true

# Pinned to an exact Go release (at least go.mod's go line); bump it on purpose.
FROM golang:1.26.8-bookworm AS build

# The runtime's few files, assembled here because the final stage is scratch.
RUN mkdir -p /rootfs/etc/ssl/certs \
 && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ca-certificates.crt \
 && echo 'flask:x:65532:65532:flask:/nonexistent:/sbin/nologin' > /rootfs/etc/passwd \
 && echo 'flask:x:65532:' > /rootfs/etc/group

WORKDIR /src
ENV CGO_ENABLED=0
# Modules first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download

COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN go build -trimpath \
    -ldflags "-s -w -X github.com/flaskhq/flask/app.Version=${VERSION} -X github.com/flaskhq/flask/app.Commit=${COMMIT}" \
    -o /out/flask-api ./cmd/flask-api

FROM scratch
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="flask-api" \
      org.opencontainers.image.description="Flask API: serves Flask's HTTP API and runs the outbox relay" \
      org.opencontainers.image.source="https://github.com/flaskhq/flask" \
      org.opencontainers.image.licenses="GPL-3.0-only" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
COPY --from=build /rootfs/ /
COPY --from=build /out/flask-api /usr/local/bin/flask-api
USER 65532:65532
EXPOSE 8081
ENTRYPOINT ["/usr/local/bin/flask-api"]
