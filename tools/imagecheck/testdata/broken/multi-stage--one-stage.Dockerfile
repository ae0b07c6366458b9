# expect: multi-stage minimal-final no-shell own-binary static-build version-ldflags ca-certificates
# check=error=true

FROM golang:1.26.8-bookworm
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="flask-api" \
      org.opencontainers.image.description="Flask API" \
      org.opencontainers.image.source="https://github.com/flaskhq/flask" \
      org.opencontainers.image.licenses="GPL-3.0-only" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-X github.com/flaskhq/flask/app.Version=${VERSION} -X github.com/flaskhq/flask/app.Commit=${COMMIT}" -o /usr/local/bin/flask-api ./cmd/flask-api
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/flask-api"]
