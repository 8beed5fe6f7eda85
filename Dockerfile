# antenv: the worker and admin CLI for self-hosted environments.
#   docker build -t antenv:0.1.0 .
#   docker run --rm -e ANTHROPIC_ENVIRONMENT_ID -e ANTHROPIC_ENVIRONMENT_KEY \
#     antenv:0.1.0 worker poll --heartbeat --on-work /etc/antenv/handle-session.sh
# Build stage: the workspace's locked dependencies, a stripped release binary.
FROM rust:1.95-slim-trixie AS build
WORKDIR /src
COPY . .
ENV CARGO_PROFILE_RELEASE_STRIP=symbols
RUN cargo build --release --locked -p anthropic-environments-cli --bin antenv \
    && cp target/release/antenv /antenv

# Runtime: Debian slim (scripts given to --on-work usually need a shell),
# CA certificates for HTTPS, curl for scripts that call the Kubernetes API
# (deploy/sandbox-per-session), and an unprivileged user.
FROM debian:trixie-slim
# Unpinned on purpose: take Debian stable's security updates on each build.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin antenv
COPY --from=build /antenv /usr/local/bin/antenv
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/antenv"]
CMD ["--help"]
