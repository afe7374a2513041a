#!/bin/sh
# build.sh -- build the unchanged pgagroal 1.6.0 with its own CMake against a chosen libev.
#
# Usage: pgagroal-patch/build.sh [MODE]
#   evring-static  (default) evring's libev.a + evring's ev.h, from an install prefix made by
#                  cmake/install.sh:  -DLIBEV_INCLUDE_DIR=<p>/include -DLIBEV_LIBRARY=<p>/lib/libev.a
#   evring-shared  the same prefix, linked to <p>/lib/libev.so (SONAME libev.so.4)
#   libev          Debian's libev 4.33 (libev-dev: /usr/include/ev.h + the shared libev.so.4),
#                  for comparison
#
# pgagroal's tree is used exactly as fetch.sh unpacked it: no source or build file changes.
# The result is checked with ldd and nm: which libev.so.4 the binaries load, or (static)
# that ev_run is defined in the executable and no libev.so.4 is needed.
#
# Environment:
#   PGAGROAL_WORK       work directory (default <repo>/build/pgagroal), as for fetch.sh
#   PGAGROAL_SRC        pgagroal source tree (default: $PGAGROAL_WORK/src/pgagroal-1.6.0;
#                       fetch.sh is run when it is missing)
#   PGAGROAL_BUILD_DIR  build directory (default: $PGAGROAL_WORK/build-<mode>)
#   PGAGROAL_BUILD_TYPE CMake build type (default: Release, pgagroal's own default)
#   EVRING_PREFIX       use this existing evring install prefix instead of running
#                       cmake/install.sh into $PGAGROAL_WORK/prefix-evring
#   EVRING_SKIP_BUILD=1 passed to cmake/install.sh: do not run cargo build
#   JOBS                parallel build jobs (default: number of CPUs)
# Prints the directory holding the binaries (pgagroal, pgagroal-cli, pgagroal-admin,
# libpgagroal.so) on its last line.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
mode=${1:-evring-static}
work=${PGAGROAL_WORK:-$repo/build/pgagroal}
mkdir -p "$work"
work=$(cd "$work" && pwd)

say() { printf 'build.sh: %s\n' "$*" >&2; }
die() { printf 'build.sh: error: %s\n' "$*" >&2; exit 1; }

case $mode in
  evring-static|evring-shared|libev) ;;
  *) die "unknown mode '$mode' (evring-static | evring-shared | libev)" ;;
esac

src=${PGAGROAL_SRC:-$work/src/pgagroal-1.6.0}
if [ ! -f "$src/CMakeLists.txt" ]; then
  say "no pgagroal source in $src: running fetch.sh"
  PGAGROAL_WORK=$work "$here/fetch.sh" >/dev/null
fi
[ -f "$src/CMakeLists.txt" ] || die "no pgagroal source tree in $src"
build=${PGAGROAL_BUILD_DIR:-$work/build-$mode}
jobs=${JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}

case $mode in
  evring-*)
    if [ -n "${EVRING_PREFIX:-}" ]; then
      prefix=$EVRING_PREFIX
    else
      prefix=$work/prefix-evring
      say "installing evring into $prefix"
      "$repo/cmake/install.sh" "$prefix" >&2
    fi
    [ -f "$prefix/include/ev.h" ] || die "no ev.h in $prefix/include"
    if [ "$mode" = evring-static ]; then lib=$prefix/lib/libev.a; else lib=$prefix/lib/libev.so; fi
    [ -f "$lib" ] || die "no $lib"
    set -- -DLIBEV_INCLUDE_DIR="$prefix/include" -DLIBEV_LIBRARY="$lib"
    if [ "$mode" = evring-static ]; then
      # libev.a references GCC's unwinder (Rust's std; evring itself never unwinds). gcc
      # resolves that with libgcc_s.so.1 unless told -static-libgcc; pgagroal is C, so the
      # static unwinder is safe, and it spares every forked worker libgcc_s's mappings and
      # its destructors at exit (4 page faults per worker). libev.so.4 does the same itself.
      set -- "$@" -DCMAKE_EXE_LINKER_FLAGS="${LDFLAGS:+$LDFLAGS }-static-libgcc" \
        -DCMAKE_SHARED_LINKER_FLAGS="${LDFLAGS:+$LDFLAGS }-static-libgcc"
    fi
    ;;
  libev)
    inc=/usr/include
    lib=$(cc -print-file-name=libev.so)
    [ -f "$inc/ev.h" ] && [ -f "$lib" ] || die "Debian's libev-dev is not installed"
    set -- -DLIBEV_INCLUDE_DIR="$inc" -DLIBEV_LIBRARY="$lib"
    ;;
esac

# A fresh configure each time: cached LIBEV_* values from another mode must not survive.
rm -rf "$build"
mkdir -p "$build"
say "configuring $src ($mode) in $build"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE="${PGAGROAL_BUILD_TYPE:-Release}" "$@" \
  >"$build/configure.log" 2>&1 || { cat "$build/configure.log" >&2; die "cmake configure failed"; }
grep -i 'libev' "$build/configure.log" >&2 || true
say "building (-j$jobs)"
cmake --build "$build" -j "$jobs" >"$build/build.log" 2>&1 ||
  { tail -n 60 "$build/build.log" >&2; die "build failed (full log: $build/build.log)"; }

bin=$build/src
for f in pgagroal pgagroal-cli pgagroal-admin; do
  [ -x "$bin/$f" ] || die "missing $bin/$f"
done

# --- which libev do the binaries really use? ---------------------------------------------
evso() { ldd "$1" 2>/dev/null | awk '/libev\.so/ { print $3 }'; }
main_ev=$(evso "$bin/pgagroal")
libp=$(ls "$bin"/libpgagroal.so.* 2>/dev/null | head -n 1)
lib_ev=$(evso "$libp")
say "ldd pgagroal: libev.so.4 => ${main_ev:-(none)}; $(basename "$libp"): ${lib_ev:-(none)}"
defined_in_main=$(nm -D --defined-only "$bin/pgagroal" 2>/dev/null | awk '$3 == "ev_run" { print $2 }')
case $mode in
  evring-static)
    [ -z "$main_ev" ] && [ -z "$lib_ev" ] || die "static build still loads a shared libev: $main_ev $lib_ev"
    [ -n "$defined_in_main" ] || die "ev_run is not defined in the pgagroal executable"
    say "OK: ev_run defined in pgagroal ($defined_in_main), no libev.so.4 loaded"
    ;;
  evring-shared)
    [ "$main_ev" = "$prefix/lib/libev.so.4" ] && [ "$lib_ev" = "$prefix/lib/libev.so.4" ] ||
      die "expected $prefix/lib/libev.so.4, got '$main_ev' / '$lib_ev'"
    [ -z "$defined_in_main" ] || die "ev_run unexpectedly defined in the executable"
    say "OK: pgagroal and libpgagroal load evring's $main_ev"
    ;;
  libev)
    real=$(readlink -f "$lib")
    [ "$(readlink -f "$main_ev")" = "$real" ] && [ "$(readlink -f "$lib_ev")" = "$real" ] ||
      die "expected Debian's $real, got '$main_ev' / '$lib_ev'"
    say "OK: pgagroal and libpgagroal load Debian's $main_ev"
    ;;
esac
echo "$mode" > "$bin/.evring-mode"
echo "$bin"
