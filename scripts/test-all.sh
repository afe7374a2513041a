#!/usr/bin/env bash
# evring's whole test suite: the README's test command, also run by .ci/run.
#
#   1. Rust: cargo fmt --check, cargo clippy -D warnings, cargo test (core unit tests,
#      kqueue logic against a fake kernel).
#   2. Build libev.so.4 + libev.a (release), prototype check (cbindgen vs include/ev.h).
#   3. C tests (c-tests/, ctest): ABI/layout/header/symbol checks, and every behavioural test
#      run against Debian's libev 4.33 and evring with identical traces required, on each
#      backend (select, poll, epoll, io_uring), with our header and Debian's, shared and
#      static, plus ASan/UBSan and valgrind lanes; then the io_uring lane again with
#      io_uring forced to fail (EVRING_URING_FAIL), which must fall back to epoll.
#   4. pgagroal 1.6.0 built unchanged against evring, end to end with PostgreSQL + pgbench.
#
# Environment: EVRING_SKIP_PGAGROAL=1 skips step 4 (it needs the Debian source archive).
set -u
cd "$(dirname "$0")/.."
root=$(pwd)

./scripts/install-deps.sh || exit 1

passed=0
failed=0
failures=()
step() {  # step NAME COMMAND...
  local name=$1; shift
  echo
  echo "=== $name"
  if "$@"; then
    passed=$((passed + 1)); echo "=== $name: ok"
  else
    failed=$((failed + 1)); failures+=("$name"); echo "=== $name: FAILED"
  fi
}

step "cargo fmt" cargo fmt --all -- --check
step "cargo clippy" cargo clippy --all-targets -- -D warnings
step "cargo test" cargo test
# The kqueue backend and the BSD/macOS paths cannot run here: compile them (lib and tests)
# for each system with clippy, so a Linux-only change cannot break those builds unseen.
cross_check() {
  local t rc=0
  for t in x86_64-unknown-freebsd x86_64-unknown-netbsd x86_64-apple-darwin aarch64-apple-darwin; do
    echo "--- $t"
    cargo clippy --all-targets --target "$t" -- -D warnings || rc=1
  done
  return $rc
}
step "cross-check: FreeBSD, NetBSD, macOS (cargo clippy --target)" cross_check
step "cargo build --release" cargo build --release
step "prototype check (cbindgen)" ./scripts/check-prototypes.sh

ctest_run() {
  rm -rf build/c-tests
  cmake -S c-tests -B build/c-tests -DCMAKE_BUILD_TYPE=Release >build/c-tests.configure.log 2>&1 \
    || { cat build/c-tests.configure.log; return 1; }
  cmake --build build/c-tests -j2 >build/c-tests.build.log 2>&1 || { tail -50 build/c-tests.build.log; return 1; }
  ctest --test-dir build/c-tests --output-on-failure -j2 "$@"
}
mkdir -p build
step "C tests (ctest)" ctest_run
# The same io_uring-lane tests once more with io_uring forced to fail at set-up: every loop
# asked for io_uring must silently run on epoll, with traces still identical to libev's.
step "C tests, io_uring forced to fail (epoll fallback)" \
  env EVRING_URING_FAIL=enosys ctest --test-dir build/c-tests --output-on-failure -j2 -R 'iouring' -LE valgrind

if [ "${EVRING_SKIP_PGAGROAL:-0}" != 1 ] && [ -x pgagroal-patch/ci.sh ]; then
  step "pgagroal 1.6.0 end to end" pgagroal-patch/ci.sh
fi

echo
if [ "$failed" -ne 0 ]; then
  printf 'failed step: %s\n' "${failures[@]}"
fi
echo "test-all: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
