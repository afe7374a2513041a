#!/usr/bin/env bash
# The main job: pgagroal 1.6.0, built unchanged against evring (static libev.a), serving
# pgbench through a throwaway PostgreSQL 15 cluster on 127.0.0.1 — every pipeline
# (performance, session, transaction) on evring's default backend (auto = io_uring),
# io_uring, epoll and poll.
# Prints pgagroal-patch/e2e.sh's summary table. Run as root on Debian 12.
#
# Environment: E2E_DURATION (seconds per pgbench run, default 5), E2E_BACKENDS,
# E2E_PIPELINES: see pgagroal-patch/e2e.sh.
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cargo build --release
pgagroal-patch/fetch.sh
exec pgagroal-patch/e2e.sh --mode evring-static \
  --duration "${E2E_DURATION:-5}" \
  --backends "${E2E_BACKENDS:-auto iouring epoll poll}" \
  --pipelines "${E2E_PIPELINES:-performance session transaction}"
