#!/bin/sh
# test-consumers.sh -- install evring into a temporary prefix with cmake/install.sh and
# build + run a tiny C consumer against it in every supported way:
#   cmake-module-shared   find_package(Libev) through FindLibev.cmake, shared library
#   cmake-module-static   the same with -DLIBEV_USE_STATIC=ON (libev.a + system libs)
#   cmake-config-shared   find_package(Libev CONFIG) through the installed LibevConfig.cmake
#   cmake-config-static   the same with -DLIBEV_USE_STATIC=ON
#   cmake-config-evring   find_package(evring CONFIG)
#   pkgconfig-shared      cc $(pkg-config --cflags --libs libev)
#   pkgconfig-static      cc ... -Wl,-Bstatic -lev -Wl,-Bdynamic <pkg-config --static libs>
# Each consumer must run, and must use the library it was meant to use (checked with ldd
# when available: the shared builds resolve libev.so.4 inside the prefix, the static builds
# need no libev.so at all).
#
# Usage: cmake/test-consumers.sh [--debian]
#   --debian   (or EVRING_TEST_WITH=debian) validate the mechanics with Debian's libev 4.33
#              (libev-dev) instead of evring: the prefix gets /usr/include/ev.h and the
#              system libev.so.4 / libev.a. Static builds are skipped if the system libev.a
#              is not PIC-linkable into a PIE executable.
# Environment: EVRING_SKIP_BUILD=1 (passed on to install.sh), CC (default cc),
#              KEEP_TMP=1 (keep the temporary directory for inspection).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
with=${EVRING_TEST_WITH:-evring}
[ "${1:-}" = --debian ] && with=debian
CC=${CC:-cc}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/evring-consumers.XXXXXX")
cleanup() { if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM

prefix=$tmp/prefix
pass=0; fail=0; skip=0
ok() { pass=$((pass + 1)); printf 'PASS %s\n' "$1"; }
ko() { fail=$((fail + 1)); printf 'FAIL %s: %s\n' "$1" "$2"; }
sk() { skip=$((skip + 1)); printf 'SKIP %s: %s\n' "$1" "$2"; }

# --- install -------------------------------------------------------------------------------
if [ "$with" = debian ]; then
  stage=$tmp/stage
  mkdir -p "$stage/lib" "$stage/include"
  cp /usr/include/ev.h "$stage/include/"
  so=$($CC -print-file-name=libev.so)
  a=$($CC -print-file-name=libev.a)
  [ -f "$so" ] || { echo "libev-dev not installed (no libev.so)"; exit 1; }
  cp "$so" "$stage/lib/libev.so"     # cp follows the symlink: the real libev.so.4.0.0
  [ -f "$a" ] && cp "$a" "$stage/lib/libev.a"
  EVRING_SKIP_BUILD=1 EVRING_LIB_DIR=$stage/lib EVRING_INCLUDE_DIR=$stage/include \
    "$here/install.sh" "$prefix"
else
  "$here/install.sh" "$prefix"
fi

# --- the consumer ----------------------------------------------------------------------
mkdir -p "$tmp/src"
cat > "$tmp/src/consumer.c" <<'EOF'
#include <ev.h>
#include <stdio.h>
#include <unistd.h>

static int fired;

static void on_read(struct ev_loop *loop, ev_io *w, int revents)
{
  char c;
  if ((revents & EV_READ) && read(w->fd, &c, 1) == 1 && c == 'x')
    fired = 1;
  ev_io_stop(loop, w);
  ev_break(loop, EVBREAK_ALL);
}

int main(void)
{
  struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
  ev_io w;
  int p[2];
  if (!loop || pipe(p) != 0)
    return 2;
  ev_io_init(&w, on_read, p[0], EV_READ);
  ev_io_start(loop, &w);
  if (write(p[1], "x", 1) != 1)
    return 3;
  ev_run(loop, 0);
  printf("consumer: ev.h %d.%d, library %d.%d, backend 0x%x, fired %d\n",
         EV_VERSION_MAJOR, EV_VERSION_MINOR, ev_version_major(), ev_version_minor(),
         ev_backend(loop), fired);
  return fired ? 0 : 1;
}
EOF

cat > "$tmp/src/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.13)
project(evring_consumer C)
if(FIND_MODE STREQUAL "module")
  list(APPEND CMAKE_MODULE_PATH "${EVRING_CMAKE_DIR}")
  find_package(Libev 4.11 REQUIRED)
elseif(FIND_MODE STREQUAL "evring")
  find_package(evring 4.11 CONFIG REQUIRED)
else()
  find_package(Libev 4.11 CONFIG REQUIRED)
endif()
message(STATUS "consumer: LIBEV_LIBRARIES=${LIBEV_LIBRARIES}")
message(STATUS "consumer: LIBEV_INCLUDE_DIRS=${LIBEV_INCLUDE_DIRS} LIBEV_VERSION=${LIBEV_VERSION}")
add_executable(consumer consumer.c)
target_link_libraries(consumer PRIVATE Libev::Libev)
EOF

# check_binary NAME BINARY static|shared
check_binary() {
  name=$1; bin=$2; kind=$3
  if ! out=$("$bin" 2>&1); then ko "$name" "consumer failed: $out"; return; fi
  echo "  $out"
  if command -v ldd >/dev/null 2>&1; then
    evline=$(ldd "$bin" | grep 'libev\.so' || true)
    if [ "$kind" = static ]; then
      if [ -n "$evline" ]; then ko "$name" "static build still needs: $evline"; return; fi
    else
      case $evline in
        *"$prefix/lib/libev.so.4"*) ;;
        *) ko "$name" "libev.so.4 not resolved from the prefix: ${evline:-none}"; return ;;
      esac
    fi
  fi
  ok "$name"
}

static_ok=1
if [ ! -f "$prefix/lib/libev.a" ]; then
  static_ok=0
elif ! $CC -I"$prefix/include" -o "$tmp/probe" "$tmp/src/consumer.c" "$prefix/lib/libev.a" \
       -lm >"$tmp/probe.log" 2>&1; then
  static_ok=0
fi

cmake_case() {
  name=$1; mode=$2; static=$3
  if [ "$static" = ON ] && [ $static_ok = 0 ]; then
    sk "$name" "libev.a missing or not linkable into a PIE executable (Debian's is not PIC)"
    return
  fi
  b=$tmp/build-$name
  # Module mode is pointed at the prefix with LIBEV_ROOT only, config mode with
  # CMAKE_PREFIX_PATH only: either must win over a system libev (libev-dev) if present.
  if [ "$mode" = module ]; then hint=-DLIBEV_ROOT=$prefix; else hint=-DCMAKE_PREFIX_PATH=$prefix; fi
  if ! cmake -S "$tmp/src" -B "$b" -DFIND_MODE="$mode" -DEVRING_CMAKE_DIR="$here" \
       "$hint" -DLIBEV_USE_STATIC="$static" >"$b.log" 2>&1; then
    ko "$name" "configure failed, see below"; sed 's/^/    /' "$b.log"; return
  fi
  grep 'consumer: LIBEV_LIBRARIES' "$b.log" | sed 's/^-- /  /'
  if ! grep -q "consumer: LIBEV_LIBRARIES=$prefix/lib/libev" "$b.log"; then
    ko "$name" "did not pick the library from the prefix"; return
  fi
  if ! cmake --build "$b" >"$b.build.log" 2>&1; then
    ko "$name" "build failed"; sed 's/^/    /' "$b.build.log" | tail -n 30; return
  fi
  if [ "$static" = ON ]; then check_binary "$name" "$b/consumer" static
  else check_binary "$name" "$b/consumer" shared; fi
}

cmake_case cmake-module-shared module OFF
cmake_case cmake-module-static module ON
cmake_case cmake-config-shared config OFF
cmake_case cmake-config-static config ON
cmake_case cmake-config-evring evring OFF

# --- pkg-config ------------------------------------------------------------------------
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
if ! command -v "$PKG_CONFIG" >/dev/null 2>&1; then
  sk pkgconfig-shared "no pkg-config"; sk pkgconfig-static "no pkg-config"
else
  pcdir=$prefix/lib/pkgconfig
  [ -f "$pcdir/libev.pc" ] || pcdir=$prefix/libdata/pkgconfig
  export PKG_CONFIG_PATH="$pcdir"
  echo "  pkg-config --modversion: $($PKG_CONFIG --modversion libev)"
  echo "  pkg-config --cflags --libs: $($PKG_CONFIG --cflags --libs libev)"
  echo "  pkg-config --static --libs: $($PKG_CONFIG --static --libs libev)"
  if [ "$($PKG_CONFIG --modversion libev)" != "$(sed -n 's/^Version: //p' "$pcdir/libev.pc")" ]; then
    ko pkgconfig-version "modversion mismatch"
  fi
  # shellcheck disable=SC2046
  if $CC -o "$tmp/pc-shared" "$tmp/src/consumer.c" $($PKG_CONFIG --cflags --libs libev) \
       -Wl,-rpath,"$prefix/lib" >"$tmp/pc-shared.log" 2>&1; then
    check_binary pkgconfig-shared "$tmp/pc-shared" shared
  else
    ko pkgconfig-shared "link failed: $(cat "$tmp/pc-shared.log")"
  fi
  if [ $static_ok = 0 ]; then
    sk pkgconfig-static "libev.a missing or not linkable into a PIE executable"
  else
    # pkg-config --static adds Libs.private; -Bstatic around -lev makes the linker take
    # libev.a although libev.so sits in the same directory.
    libs=$(printf ' %s ' "$($PKG_CONFIG --static --libs libev)" | sed 's/ -lev / -Wl,-Bstatic -lev -Wl,-Bdynamic /')
    # shellcheck disable=SC2046,SC2086
    if $CC -o "$tmp/pc-static" "$tmp/src/consumer.c" $($PKG_CONFIG --cflags libev) $libs \
         >"$tmp/pc-static.log" 2>&1; then
      check_binary pkgconfig-static "$tmp/pc-static" static
    else
      ko pkgconfig-static "link failed: $(cat "$tmp/pc-static.log")"
    fi
  fi
fi

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
