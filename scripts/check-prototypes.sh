#!/bin/sh
# Cross-check include/ev.h against the Rust exports: cbindgen writes the C prototype of
# every exported function and data symbol, and a C unit including ev.h and those
# prototypes must compile (C rejects conflicting declarations of the same function).
set -eu
cd "$(dirname "$0")/.."
CBINDGEN_VERSION=0.29.2
tools=target/tools
if [ ! -x "$tools/bin/cbindgen" ] || ! "$tools/bin/cbindgen" --version | grep -q "$CBINDGEN_VERSION"; then
  echo "check-prototypes: installing cbindgen $CBINDGEN_VERSION into $tools (pinned)"
  cargo install -q cbindgen --version "$CBINDGEN_VERSION" --locked --root "$tools"
fi
mkdir -p build/protos
"$tools/bin/cbindgen" --quiet --config scripts/cbindgen.toml --crate evring --output build/protos/evring_protos.h
n=$(grep -c '^[a-z].* \**ev_[a-z_]*(' build/protos/evring_protos.h || true)
grep -q '^extern struct ev_loop \*ev_default_loop_ptr;' build/protos/evring_protos.h \
  || { echo "check-prototypes: ev_default_loop_ptr is not exported as a data symbol" >&2; exit 1; }
cat > build/protos/check.c <<'C'
#include <ev.h>
#include "evring_protos.h"
int main(void) { return 0; }
C
for cc in gcc clang; do
  command -v $cc >/dev/null || continue
  $cc -std=c11 -Wall -Wextra -Werror -Iinclude -Ibuild/protos -c build/protos/check.c -o build/protos/check.o
done
echo "check-prototypes: $n exported ev_* function prototypes (+ ev_default_loop_ptr) agree with include/ev.h"
# libev 4.33 exports 72 ev_* functions and one data symbol.
[ "$n" -eq 72 ] || { echo "check-prototypes: expected 72 ev_* function prototypes, got $n" >&2; exit 1; }
