# syntax=docker/dockerfile:1

# Portcullis container image.
#
#   docker build -t portcullis .
#   docker run --rm -p 8080:8080 -v portcullis-data:/var/lib/portcullis \
#       -e PORTCULLIS_ISSUER=http://localhost:8080 portcullis
#
# See docs/deployment.md for the settings and for running several instances.

############################################################################
# Build stage.
#
# rust:1-bookworm already has gcc, make and perl, which is all the build needs:
# OpenSSL (vendored), SQLite (bundled) and libpq (bundled) are compiled from
# source, so no system -dev packages are installed.
############################################################################
FROM rust:1-bookworm AS builder

WORKDIR /src
COPY . .

# The cargo registry and the target directory are BuildKit cache mounts, so a
# rebuild after a source change does not recompile every dependency (nor the C
# libraries). A cache mount is not part of the image, so the binary is copied
# out of it in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p portcullis --bin portcullis \
 && install -D -m 0755 target/release/portcullis /out/portcullis

############################################################################
# Runtime stage.
#
# Templates and static files are compiled into the binary; the only runtime
# dependency outside glibc is the CA bundle.
############################################################################
FROM debian:bookworm-slim

# ca-certificates is left unpinned on purpose: it should track Debian's updates.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 portcullis \
 && useradd --system --uid 10001 --gid portcullis \
        --home-dir /var/lib/portcullis --no-create-home \
        --shell /usr/sbin/nologin portcullis \
 && install -d -o portcullis -g portcullis -m 0750 /var/lib/portcullis

COPY --from=builder /out/portcullis /usr/local/bin/portcullis

# With the default database URL (sqlite://data/portcullis.db, relative to the
# working directory) the database ends up in /var/lib/portcullis/data/. Mount a
# volume here to keep it. Unused when PORTCULLIS_DATABASE_URL points at
# PostgreSQL.
WORKDIR /var/lib/portcullis
VOLUME ["/var/lib/portcullis"]

USER 10001:10001

ENV PORTCULLIS_BIND=0.0.0.0:8080
EXPOSE 8080

# No HEALTHCHECK here: the image carries no HTTP client (curl, wget) and
# installs none. docker-compose.yml checks GET /health/ready with bash's
# /dev/tcp instead; orchestrators such as Kubernetes should use their own
# HTTP probes against /health and /health/ready.

# Exec form: portcullis runs as PID 1 and receives SIGTERM directly, which
# starts its graceful shutdown (see PORTCULLIS_SHUTDOWN_TIMEOUT).
STOPSIGNAL SIGTERM
ENTRYPOINT ["portcullis"]
CMD ["serve"]
