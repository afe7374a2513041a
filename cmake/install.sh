#!/bin/sh
# install.sh -- build evring and install it like libev 4.33 under a prefix.
#
# Usage: cmake/install.sh [PREFIX]            (PREFIX defaults to /usr/local)
#
# Lays out:
#   PREFIX/include/ev.h                      (and ev++.h if the repo ships one)
#   PREFIX/lib/libev.a                       static library (PIC Rust staticlib)
#   PREFIX/lib/libev.so.4                    shared library (SONAME libev.so.4)
#   PREFIX/lib/libev.so -> libev.so.4        development symlink
#   PREFIX/lib/pkgconfig/libev.pc            (FreeBSD: PREFIX/libdata/pkgconfig/libev.pc)
#   PREFIX/lib/cmake/Libev/{LibevConfig,LibevConfigVersion,FindLibev}.cmake
#   PREFIX/lib/cmake/evring/evringConfig*.cmake
#
# Environment:
#   EVRING_SKIP_BUILD=1   do not run `cargo build --release` (use what is already built)
#   CARGO                 cargo command (default: cargo)
#   CARGO_TARGET_DIR      honoured like cargo does (default: <repo>/target)
#   EVRING_LIB_DIR        directory holding the built libev.a / libev.so
#                         (default: $CARGO_TARGET_DIR/release)
#   EVRING_INCLUDE_DIR    directory holding ev.h (default: <repo>/include)
#   LIBDIR                library directory (default: PREFIX/lib)
#   PKGCONFIGDIR          pkg-config directory (default: LIBDIR/pkgconfig;
#                         PREFIX/libdata/pkgconfig on FreeBSD)
#   DESTDIR               staging root prepended to every installed path (packagers)
#   EVRING_NO_SHARED=1 / EVRING_NO_STATIC=1   skip one of the two libraries
#
# POSIX sh only; uses cp, mkdir, ln, sed, chmod (no GNU-only flags), so it runs on FreeBSD.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

prefix=${1:-/usr/local}
case $prefix in
  /*) ;;
  *) prefix=$(mkdir -p "$prefix" && cd "$prefix" && pwd) ;;
esac
destdir=${DESTDIR:-}
libdir=${LIBDIR:-$prefix/lib}
if [ -z "${PKGCONFIGDIR:-}" ]; then
  case $(uname -s) in
    FreeBSD|DragonFly) PKGCONFIGDIR=$prefix/libdata/pkgconfig ;;
    *) PKGCONFIGDIR=$libdir/pkgconfig ;;
  esac
fi
includedir=$prefix/include
cmakedir=$libdir/cmake

say() { printf 'install.sh: %s\n' "$*"; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }

# --- build ---------------------------------------------------------------------------
if [ "${EVRING_SKIP_BUILD:-0}" != 1 ]; then
  say "cargo build --release in $repo"
  (cd "$repo" && ${CARGO:-cargo} build --release)
fi

target_dir=${CARGO_TARGET_DIR:-$repo/target}
case $target_dir in /*) ;; *) target_dir=$repo/$target_dir ;; esac
srclib=${EVRING_LIB_DIR:-$target_dir/release}
srcinc=${EVRING_INCLUDE_DIR:-$repo/include}

[ -f "$srcinc/ev.h" ] || die "no ev.h in $srcinc"
with_static=1; with_shared=1
[ "${EVRING_NO_STATIC:-0}" = 1 ] && with_static=0
[ "${EVRING_NO_SHARED:-0}" = 1 ] && with_shared=0
if [ $with_static = 1 ] && [ ! -f "$srclib/libev.a" ]; then die "no libev.a in $srclib"; fi
shared_src=
if [ $with_shared = 1 ]; then
  for f in "$srclib/libev.so" "$srclib/libev.so.4"; do
    if [ -f "$f" ]; then shared_src=$f; break; fi
  done
  [ -n "$shared_src" ] || die "no libev.so in $srclib"
fi

# --- version from ev.h --------------------------------------------------------------
major=$(sed -n 's/^#[ 	]*define[ 	][ 	]*EV_VERSION_MAJOR[ 	][ 	]*\([0-9][0-9]*\).*/\1/p' "$srcinc/ev.h" | head -n 1)
minor=$(sed -n 's/^#[ 	]*define[ 	][ 	]*EV_VERSION_MINOR[ 	][ 	]*\([0-9][0-9]*\).*/\1/p' "$srcinc/ev.h" | head -n 1)
[ -n "$major" ] && [ -n "$minor" ] || die "ev.h lacks '#define EV_VERSION_MAJOR/MINOR <n>' lines"
version=$major.$minor

# Pointer size for the CMake version file (refuses 32-bit consumers of a 64-bit build).
sizeof_void_p=
if command -v getconf >/dev/null 2>&1; then
  bits=$(getconf LONG_BIT 2>/dev/null || true)
  case $bits in 32|64) sizeof_void_p=$((bits / 8)) ;; esac
fi

# System libraries a static Rust staticlib needs (rustc --print native-static-libs).
case $(uname -s) in
  Linux) libs_private="-lgcc_s -lutil -lrt -lpthread -lm -ldl" ;;
  FreeBSD|DragonFly|NetBSD|OpenBSD) libs_private="-lexecinfo -lpthread -lgcc_s -lm -lrt -lutil" ;;
  Darwin) libs_private="-lSystem -lc -lm" ;;
  *) libs_private="-lpthread -lm" ;;
esac
libs_private=${EVRING_LIBS_PRIVATE:-$libs_private}

# --- lay out --------------------------------------------------------------------------
D=$destdir
mkdir -p "$D$includedir" "$D$libdir" "$D$PKGCONFIGDIR" "$D$cmakedir/Libev" "$D$cmakedir/evring"

cp "$srcinc/ev.h" "$D$includedir/ev.h"; chmod 644 "$D$includedir/ev.h"
if [ -f "$srcinc/ev++.h" ]; then cp "$srcinc/ev++.h" "$D$includedir/ev++.h"; chmod 644 "$D$includedir/ev++.h"; fi

if [ $with_static = 1 ]; then
  cp "$srclib/libev.a" "$D$libdir/libev.a.tmp.$$"
  chmod 644 "$D$libdir/libev.a.tmp.$$"
  mv -f "$D$libdir/libev.a.tmp.$$" "$D$libdir/libev.a"
fi
if [ $with_shared = 1 ]; then
  # Copy through a temporary name and rename: replacing a library in place would crash
  # programs that have it mapped.
  cp "$shared_src" "$D$libdir/libev.so.4.tmp.$$"
  chmod 755 "$D$libdir/libev.so.4.tmp.$$"
  mv -f "$D$libdir/libev.so.4.tmp.$$" "$D$libdir/libev.so.4"
  rm -f "$D$libdir/libev.so"
  ln -s libev.so.4 "$D$libdir/libev.so"
  if command -v readelf >/dev/null 2>&1; then
    soname=$(readelf -d "$D$libdir/libev.so.4" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
    [ "$soname" = libev.so.4 ] || say "warning: SONAME of libev.so.4 is '${soname:-none}', expected libev.so.4"
  fi
fi

sed -e "s|@prefix@|$prefix|g" -e "s|@libdir@|$libdir|g" -e "s|@includedir@|$includedir|g" \
    -e "s|@VERSION@|$version|g" -e "s|@LIBS_PRIVATE@|$libs_private|g" \
    "$here/libev.pc.in" > "$D$PKGCONFIGDIR/libev.pc"

cp "$here/LibevConfig.cmake" "$here/FindLibev.cmake" "$D$cmakedir/Libev/"
sed -e "s|@LIBEV_VERSION@|$version|g" -e "s|@LIBEV_VERSION_MAJOR@|$major|g" \
    -e "s|@LIBEV_SIZEOF_VOID_P@|$sizeof_void_p|g" \
    "$here/LibevConfigVersion.cmake.in" > "$D$cmakedir/Libev/LibevConfigVersion.cmake"
cp "$here/evringConfig.cmake" "$here/evringConfigVersion.cmake" "$D$cmakedir/evring/"
case $libdir in
  "$prefix"/*/*|"$prefix") say "warning: LibevConfig.cmake expects LIBDIR to be PREFIX/<dir>; got $libdir" ;;
esac

say "installed evring (libev $version API) into $D$prefix"
