# syntax=docker/dockerfile:1
# The rdsmux listener as a small container: a static binary (no cgo) on an
# empty base, running as an unprivileged user.
#
#   docker build -t rdsmux --build-arg VERSION=$(git describe --always) .
#   docker run --rm -p 3307:3307 -p 9104:9104 \
#     -e RDSMUX_TARGET=db.internal:3306 \
#     -e RDSMUX_CREDENTIALS=/run/secrets/users.json \
#     -v "$PWD/users.json:/run/secrets/users.json:ro" rdsmux
#
# The builder image is pinned to an exact Go release; pin it by digest too
# (golang:1.26.8-bookworm@sha256:...) where builds must be reproducible.

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/rdsmux ./cmd/rdsmux

FROM scratch
# CA roots for TLS to the database, IAM and Secrets Manager.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/rdsmux /rdsmux
# Listen on every interface inside the container; /metrics, /healthz and
# /readyz on 9104.
ENV RDSMUX_LISTEN=0.0.0.0:3307 \
    RDSMUX_METRICS=0.0.0.0:9104
EXPOSE 3307 9104
# nobody:nogroup; no shell, no package manager, nothing else in the image.
USER 65534:65534
STOPSIGNAL SIGTERM
ENTRYPOINT ["/rdsmux"]
