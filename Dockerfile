# Fluxori API container for Cloud Run: build stage compiles libfluxori and
# the worker binaries; the runtime stage is slim Debian with nginx,
# spawn-fcgi and the binaries, running as a non-root user.
#
# The base image is pinned to a dated Debian tag, the same for both stages:
# bookworm-20250811-slim is Debian 12.11, the point release our development
# and CI machines run, so the container builds and runs against the gcc 12,
# glibc 2.36, nginx and libcurl the tests ran against, and a rebuild next
# month gives the same image instead of whatever bookworm-slim has become.
# Moving to a newer snapshot (security updates) is a deliberate one-line
# change that goes through the tests; pinning its digest as well
# (debian:bookworm-20250811-slim@sha256:...) is the next step once the digest
# is taken from the registry the deploy pulls from.
FROM debian:bookworm-20250811-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential autoconf automake pkg-config \
      libfcgi-dev libjson-c-dev libcurl4-openssl-dev libssl-dev libjwt-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY configure.ac Makefile.am ./
COPY lib lib
COPY handlers handlers
COPY nginx nginx
COPY scripts scripts
COPY tests tests
# configure.ac turns the hardening flags on (stack protector, _FORTIFY_SOURCE=3
# at the default -O2, stack clash and CET protection, PIE, full RELRO, BIND_NOW);
# tests/hardening/check fails the build if a binary lacks them.
# make also writes handlers/body-caps (nginx's body cap per group, from the
# binaries' --routes: scripts/body-caps); it ships beside the binaries, copied
# after them (fluxorictl render refuses a map older than a binary), and a
# render against /out/bin checks here that it is current and complete.
# handlers/shim holds the stand-ins for the libraries libcurl needs only for
# protocols we never use (scripts/curl-shims): the binaries' RPATH is
# $ORIGIN/shim, so /app/bin/shim; tests/shim/check proves they load with them.
RUN autoreconf -fi && ./configure -q && make -j"$(nproc)" \
 && tests/hardening/check handlers/fluxori-* handlers/supervise \
 && mkdir -p /out/bin && cp handlers/fluxori-* handlers/supervise /out/bin/ \
 && strip /out/bin/fluxori-* /out/bin/supervise \
 && tests/hardening/check /out/bin/fluxori-* /out/bin/supervise \
 && mkdir -p /out/bin/shim && cp handlers/shim/sonames handlers/shim/*.so.* /out/bin/shim/ \
 && tests/shim/check /out/bin/fluxori-* \
 && cp handlers/body-caps /out/bin/ \
 && FLUXORI_BIN_DIR=/out/bin FLUXORI_RUN_DIR=/tmp/render-check scripts/fluxorictl render \
 && rm -rf /tmp/render-check

FROM debian:bookworm-20250811-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends nginx-light spawn-fcgi libfcgi0ldbl libjson-c5 libcurl4 \
      libjwt0 libssl3 ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin fluxori
COPY --from=build /out/bin /app/bin
# The build stage checked body-caps against these binaries; whatever COPY did to
# the files' times, the map stays the newest (fluxorictl render's age check).
RUN touch /app/bin/body-caps
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
