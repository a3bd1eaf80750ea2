# syntax=docker/dockerfile:1
# jwtprobe in a container: a build stage with the Rust toolchain, and a small runtime stage
# (distroless, glibc + CA certificates, no shell) that runs as a non-root user.
#
# Build:  docker build -t ghcr.io/example/jwtprobe:0.1.0 .
# Run:    docker run --rm ghcr.io/example/jwtprobe:0.1.0 run scenarios/qlik
#
# deploy/k8s/*.yaml reference the image name above; tests/it/shipping.rs checks that they do.
# The emulator configs and shipped suites are built into the binary, so the image needs no
# checkout: `jwtprobe mock` and `jwtprobe run` against the emulator work in it as they are.

ARG RUST_VERSION=1.89

FROM rust:${RUST_VERSION}-slim-bookworm AS build
# aws-lc-rs builds its C library: it needs a C compiler, cmake and perl.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake perl pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Cargo.toml names the benches and the test binary, so they come along; fixtures/ and
# scenarios/ are embedded into the binary at compile time.
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
COPY tests ./tests
COPY fixtures ./fixtures
COPY scenarios ./scenarios
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    cargo build --release --locked --bin jwtprobe \
 && cp target/release/jwtprobe /jwtprobe

FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=build /jwtprobe /usr/local/bin/jwtprobe
# The shipped suites and their keys, so `jwtprobe run scenarios/qlik` works in the image too.
COPY --chown=nonroot:nonroot scenarios /home/nonroot/scenarios
COPY --chown=nonroot:nonroot fixtures/keys /home/nonroot/fixtures/keys
WORKDIR /home/nonroot
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/jwtprobe"]
CMD ["--help"]
