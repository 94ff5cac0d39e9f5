# syntax=docker/dockerfile:1
# Either API, built from the repository root; SERVICE picks the binary and
# PORT its default port:
#   docker build --build-arg SERVICE=customers-api --build-arg PORT=3001 -t customers-api .
#   docker build --build-arg SERVICE=orders-api --build-arg PORT=3002 -t orders-api .
ARG SERVICE=orders-api

# 1. Toolchain and cargo-chef, shared by the stages below.
FROM rust:1.95-slim-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.77
WORKDIR /app

# 2. The dependency recipe: changes only when a manifest or Cargo.lock does.
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# 3. Dependencies first (a cached layer), then the service. Queries are
#    checked against the committed .sqlx/ metadata: no database needed.
FROM chef AS builder
ARG SERVICE
ENV SQLX_OFFLINE=true
COPY --from=planner /app/recipe.json recipe.json
RUN cargo chef cook --release --recipe-path recipe.json --package "${SERVICE}" --bin "${SERVICE}"
COPY . .
RUN cargo build --release --locked --package "${SERVICE}" --bin "${SERVICE}" \
    && cp "target/release/${SERVICE}" /app/service

# 4. The runtime: the binary, CA certificates, a non-root user.
FROM debian:bookworm-slim AS runtime
ARG SERVICE
ARG PORT=3002
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin app
# Amazon RDS's CA bundle: DATABASE_URL in AWS verifies the database's
# certificate and host name against it (ssl-mode=VERIFY_IDENTITY).
ADD --chmod=0444 https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem /etc/ssl/certs/rds-global-bundle.pem
COPY --from=builder /app/service /usr/local/bin/service
USER 10001:10001
ENV HOST=0.0.0.0 PORT=${PORT} LOG_FORMAT=json RUST_LOG=info
LABEL org.opencontainers.image.title="${SERVICE}"
EXPOSE ${PORT}
# The binary probes its own /health: no curl in the image.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 CMD ["/usr/local/bin/service", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/service"]
