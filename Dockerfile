# Either API, built from the repository root with the classic builder or
# BuildKit (no BuildKit-only syntax). SERVICE picks the binary, PORT its port;
# RDS_CA_URL and RDS_CA_SHA256 the Amazon RDS CA bundle (images for AWS):
#   docker build --network host --build-arg SERVICE=orders-api --build-arg PORT=3002 \
#     --build-arg RDS_CA_SHA256=<pinned checksum> -t orders-api .
#   docker build ... --build-arg RDS_CA_URL= ...   (local use: no bundle)
# Both images share every layer up to the runtime stage: the dependencies are
# cooked, and both binaries built, once.
# ARCH (amd64 or arm64) is the images' architecture: by default BuildKit's
# target (TARGETARCH, from --platform), else this machine's. The stages that
# run commands run on the build machine's own platform (BUILDPLATFORM under
# BuildKit; linux/amd64 for the classic builder, which does not set it), a
# foreign architecture is cross-compiled with Debian's cross gcc as the
# linker, and the runtime stage, which runs nothing, starts from RUNTIME_BASE
# of that architecture. No step runs under emulation (scripts/images.sh):
#   docker build ... --platform linux/arm64 --build-arg ARCH=arm64 \
#     --build-arg RUNTIME_BASE=arm64v8/debian:bookworm-slim .      (BuildKit)
#   the same without --platform                                    (classic builder)
ARG RUNTIME_BASE=debian:bookworm-slim

# 1. Toolchain and cargo-chef, shared by the stages below.
# hadolint ignore=DL3029
FROM --platform=${BUILDPLATFORM:-linux/amd64} rust:1.95-slim-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.77
WORKDIR /app

# 2. The dependency recipe: changes only when a manifest or Cargo.lock does.
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# 3. Dependencies of both APIs first (a cached layer, the same for both
#    images), then both binaries. Queries are checked against the committed
#    .sqlx/ metadata: no database needed.
FROM chef AS builder
ENV SQLX_OFFLINE=true \
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
    CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER=x86_64-linux-gnu-gcc
ARG ARCH=
ARG TARGETARCH
# hadolint ignore=DL3008
RUN set -eu; \
    native=$(dpkg --print-architecture); arch=${ARCH:-${TARGETARCH:-$native}}; \
    case "$arch" in \
      amd64) echo x86_64-unknown-linux-gnu > /rust-target; cross=x86-64-linux-gnu ;; \
      arm64) echo aarch64-unknown-linux-gnu > /rust-target; cross=aarch64-linux-gnu ;; \
      *) echo "ARCH must be amd64 or arm64, not $arch" >&2; exit 1 ;; \
    esac; \
    if [ "$arch" != "$native" ]; then \
      apt-get update -qq; \
      apt-get install -y -qq --no-install-recommends "gcc-$cross" "libc6-dev-$arch-cross" >/dev/null; \
      rm -rf /var/lib/apt/lists/*; \
      if command -v rustup >/dev/null; then rustup target add "$(cat /rust-target)"; fi; \
    fi
COPY --from=planner /app/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json --target "$(cat /rust-target)" \
      --package customers-api --package orders-api
COPY . .
RUN cargo build --release --locked --target "$(cat /rust-target)" \
      --package customers-api --package orders-api --bin customers-api --bin orders-api \
    && mkdir -p /app/out \
    && cp "target/$(cat /rust-target)/release/customers-api" "target/$(cat /rust-target)/release/orders-api" /app/out/

# 4. CA certificates, and Amazon RDS's CA bundle verified against its pinned
#    checksum: DATABASE_URL in AWS verifies the database's certificate and
#    host name against it (ssl-mode=VERIFY_IDENTITY). An empty RDS_CA_URL
#    leaves it out (local use).
# hadolint ignore=DL3029
FROM --platform=${BUILDPLATFORM:-linux/amd64} debian:bookworm-slim AS certs
# hadolint ignore=DL3008
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends ca-certificates curl >/dev/null \
    && mkdir /out && cp /etc/ssl/certs/ca-certificates.crt /out/
ARG RDS_CA_URL=https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
ARG RDS_CA_SHA256=
# hadolint ignore=DL4006
RUN set -eu; \
    if [ -n "$RDS_CA_URL" ]; then \
      if [ -z "$RDS_CA_SHA256" ]; then \
        echo "RDS_CA_SHA256 is not set: pin the bundle's checksum (docs/deploy.md, 'The RDS CA bundle'), or build with RDS_CA_URL= for local use" >&2; \
        exit 1; \
      fi; \
      curl -fsSL --retry 3 -o /out/rds-global-bundle.pem "$RDS_CA_URL"; \
      echo "$RDS_CA_SHA256  /out/rds-global-bundle.pem" | sha256sum -c -; \
    fi; \
    chmod 0444 /out/*

# 5. The runtime: the base image, CA certificates, one binary, an
#    unprivileged user (no RUN step: nothing but these files is added).
FROM ${RUNTIME_BASE} AS runtime
ARG SERVICE=orders-api
ARG PORT=3002
COPY --from=certs /out/ /etc/ssl/certs/
COPY --from=builder /app/out/${SERVICE} /usr/local/bin/service
USER 10001:10001
ENV HOST=0.0.0.0 PORT=${PORT} LOG_FORMAT=json RUST_LOG=info
LABEL org.opencontainers.image.title="${SERVICE}"
EXPOSE ${PORT}
# The binary probes its own /health: no shell, no curl in the image.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 CMD ["/usr/local/bin/service", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/service"]
