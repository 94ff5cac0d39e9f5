# STAND-IN for rust:<version>-slim-bookworm, built by scripts/docker-bases.sh
# where the real image cannot be pulled. Not the upstream image: Debian's
# C toolchain, this machine's own Rust toolchain (the same version as the tag)
# and this machine's extra CA certificates, so that cargo reaches crates.io
# through the machine's egress. Never pushed anywhere.
FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates gcc libc6-dev pkg-config make \
    && rm -rf /var/lib/apt/lists/*
COPY ca-certificates/ /usr/local/share/ca-certificates/
RUN update-ca-certificates
COPY toolchain/ /usr/local/rustup/toolchains/stand-in/
RUN mkdir -p /usr/local/cargo/bin \
    && for b in cargo rustc rustdoc; do ln -s "/usr/local/rustup/toolchains/stand-in/bin/$b" "/usr/local/cargo/bin/$b"; done
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ARG RUST_VERSION
ENV RUST_VERSION=${RUST_VERSION}
LABEL org.order-back-office.stand-in="rust:${RUST_VERSION}-slim-bookworm built locally by scripts/docker-bases.sh; not the upstream image"
