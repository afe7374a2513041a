#!/usr/bin/env bash
# The pgagroal part of scripts/test-all.sh: fetch pgagroal 1.6.0 (sha256-checked), build it
# unchanged against evring's static libev.a, run the end-to-end matrix (every pipeline on
# every evring backend pgagroal can select, plus -C, cli, reload, shutdown checks), and check
# that the CMake/pkg-config files work for other consumers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash cmake/test-consumers.sh
bash pgagroal-patch/fetch.sh
exec bash pgagroal-patch/e2e.sh --mode evring-static \
  --duration "${E2E_DURATION:-5}" \
  --backends "${E2E_BACKENDS:-auto iouring epoll poll}"
