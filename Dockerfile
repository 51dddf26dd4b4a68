# syntax=docker/dockerfile:1
# Build: docker build -t shop .      Run: docker run -p 5000:5000 shop
# (or `docker compose up` for the shop with PostgreSQL; see docker-compose.yml)

# ---- build ----
FROM rust:1.95-bookworm AS builder
WORKDIR /src
# Only what the build needs; migrations live in crates/infrastructure/migrations and are
# embedded in the binary at compile time.
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
# Cache mounts keep the crates.io downloads and compiled dependencies between builds, so a
# change to the shop's own code recompiles only the shop's crates.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p shop \
    && cp target/release/shop /usr/local/bin/shop

# ---- runtime ----
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 shop \
    && useradd --system --uid 10001 --gid shop --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin shop \
    && mkdir -p /app/data \
    && chown -R shop:shop /app
COPY --from=builder /usr/local/bin/shop /usr/local/bin/shop

WORKDIR /app
ENV DATA_DIR=/app/data \
    HOST=0.0.0.0 \
    PORT=5000
# /app/data holds the SQLite file (default DATABASE_URL), the built-in identity provider's
# signing key and images: mount a volume there to keep them (docker run -v shop-data:/app/data).
USER shop
EXPOSE 5000
# No HEALTHCHECK: the image has no curl/wget; orchestrators can probe the HTTP port.
ENTRYPOINT ["/usr/local/bin/shop"]
CMD ["serve"]
