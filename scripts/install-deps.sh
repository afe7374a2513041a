#!/bin/sh
# Install every Debian package evring's build, tests and pgagroal run need, if missing.
# Run as root on Debian 12. Safe to run again: it only installs what is not there.
set -eu

pkgs="build-essential pkg-config cmake clang valgrind strace libev-dev libev4 \
      libssl-dev libsystemd-dev libcjson-dev python3-docutils \
      postgresql-15 postgresql-client-15 procps iproute2 dpkg-dev"

missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done

if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages:$missing (run as root to install them)" >&2
    exit 1
  fi
  echo "install-deps: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "install-deps: cargo (Rust >= 1.80) is required and was not found on PATH." >&2
  echo "  Debian 12's own rustc (1.63) is too old; install a current toolchain with rustup." >&2
  exit 1
fi

# Standard libraries for the cross-checks of the kqueue build (FreeBSD, NetBSD, macOS):
# `cargo clippy --target ...` compiles without a linker or a sysroot of the other system.
cross_targets="x86_64-unknown-freebsd x86_64-unknown-netbsd x86_64-apple-darwin aarch64-apple-darwin"
if command -v rustup >/dev/null 2>&1; then
  have=$(rustup target list --installed 2>/dev/null || true)
  for t in $cross_targets; do
    case " $(echo $have) " in
      *" $t "*) ;;
      *) echo "install-deps: rustup target add $t"
         rustup target add "$t" >/dev/null 2>&1 || echo "install-deps: could not add $t" >&2 ;;
    esac
  done
fi
