#!/usr/bin/env bash
# The pgagroal part of scripts/test-all.sh: fetch pgagroal 1.6.0 (sha256-checked), build it
# unchanged against evring's static libev.a, run the end-to-end matrix (every pipeline on
# every evring backend pgagroal can select, plus -C, cli, a SIGHUP reload in the middle of a
# pgbench run, shutdown checks), then a short growth/churn run per backend (a pool that grows
# and shrinks under pgbench -C: no event-loop failure and no worker killed by a signal is
# allowed), and check that the CMake/pkg-config files work for other consumers.
# E2E_DURATION (default 5), E2E_GROWTH_DURATION (default 20), E2E_BACKENDS.
set -euo pipefail
cd "$(dirname "$0")/.."
bash cmake/test-consumers.sh
bash pgagroal-patch/fetch.sh
backends=${E2E_BACKENDS:-auto iouring epoll poll}
rc=0
bash pgagroal-patch/e2e.sh --mode evring-static \
  --duration "${E2E_DURATION:-5}" --backends "$backends" || rc=1
# The same build again (build.sh put it there), now with a growing pool: about 3.5 minutes.
bash pgagroal-patch/e2e.sh --growth --bin "${PGAGROAL_WORK:-build/pgagroal}/build-evring-static/src" \
  --duration "${E2E_GROWTH_DURATION:-20}" --backends "$backends" || rc=1
exit $rc
