# Fluxori API container for Cloud Run: build stage compiles libfluxori and
# the worker binaries; the runtime stage is slim Debian with nginx,
# spawn-fcgi and the binaries, running as a non-root user.
FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential autoconf automake pkg-config \
      libfcgi-dev libjson-c-dev libcurl4-openssl-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY configure.ac Makefile.am ./
COPY lib lib
COPY handlers handlers
COPY nginx nginx
COPY scripts scripts
COPY tests tests
RUN autoreconf -fi && ./configure -q && make -j"$(nproc)" \
 && mkdir -p /out/bin && cp handlers/fluxori-* /out/bin/ && strip /out/bin/*

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends nginx-light spawn-fcgi libfcgi0ldbl libjson-c5 libcurl4 \
      libssl3 ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin fluxori
COPY --from=build /out/bin /app/bin
COPY nginx /app/nginx
COPY scripts/fluxorictl scripts/entrypoint /app/scripts/
ENV PORT=8080 \
    FLUXORI_BIN_DIR=/app/bin \
    FLUXORI_NGINX_DIR=/app/nginx \
    FLUXORI_RUN_DIR=/tmp/fluxori \
    FLUXORI_REGION=africa-south1
USER fluxori
EXPOSE 8080
ENTRYPOINT ["/app/scripts/entrypoint"]
