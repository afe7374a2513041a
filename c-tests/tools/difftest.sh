#!/bin/sh
# Differential test runner for the evring C tests (see c-tests/README.md).
#
# Runs one test binary against the oracle (Debian's libev.so.4) and against evring, both with
# LIBEV_FLAGS=<backend>, each under `timeout`, and compares exit codes and stdout.
#
# Usage: difftest.sh [options] BIN [ARG...]
#   --backend N       value for LIBEV_FLAGS (required)
#   --oracle-dir DIR  directory holding the oracle's libev.so.4 (required in diff mode)
#   --ours-dir DIR    directory holding evring's libev.so.4 (required unless --static)
#   --oracle-bin B    binary to run against the oracle (default: BIN). Used when BIN cannot run
#                     against the oracle (statically linked) or is an instrumented build.
#   --static          BIN is statically linked with evring's libev.a: run it as is, without
#                     LD_LIBRARY_PATH, and make sure it does not need libev.so.4.
#   --mode diff|self  diff (default): compare with the oracle. self: run only against evring,
#                     judged by the exit code (0 pass, 77 skip).
#   --timeout S       limit per run in seconds (default 30)
# Environment:
#   VALGRIND          optional wrapper prefix (e.g. "valgrind -q --error-exitcode=99"),
#                     applied to the evring run only.
#   EVRING_TEST_KEEP  if set to a directory, the outputs of this run are copied there.
#
# Verdict (diff mode): both exit 0 and identical stdout -> pass (0). evring exits 77 -> skip (77)
# only if the oracle exits 77 too; a backend available in libev but not in evring is a failure.
# Anything else -> failure (1) with a unified diff of the two stdouts and both stderrs.
set -eu

backend=
oracle_dir=
ours_dir=
oracle_bin=
static=0
mode=diff
limit=30

die() { echo "difftest: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --backend) backend=$2; shift 2 ;;
    --oracle-dir) oracle_dir=$2; shift 2 ;;
    --ours-dir) ours_dir=$2; shift 2 ;;
    --oracle-bin) oracle_bin=$2; shift 2 ;;
    --static) static=1; shift ;;
    --mode) mode=$2; shift 2 ;;
    --timeout) limit=$2; shift 2 ;;
    --) shift; break ;;
    -*) die "unknown option $1" ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || die "missing test binary"
bin=$1; shift
[ -n "$backend" ] || die "--backend is required"
[ -x "$bin" ] || die "not an executable: $bin"
[ -n "$oracle_bin" ] || oracle_bin=$bin
case "$mode" in diff|self) ;; *) die "bad --mode $mode" ;; esac

# A dangling libev.so.4 link would make the dynamic loader fall back to the system libev
# silently, so an "ours" run would really test Debian's library. Refuse that.
check_libdir() {
  [ -n "$2" ] || die "--$1-dir is required"
  [ -e "$2/libev.so.4" ] || { echo "difftest: FAIL: $2/libev.so.4 does not exist (is the $1 library built?)" >&2; exit 1; }
}
if [ "$static" = 1 ]; then
  if command -v readelf >/dev/null 2>&1 && readelf -d "$bin" 2>/dev/null | grep -q 'NEEDED.*libev\.so'; then
    echo "difftest: FAIL: $bin is supposed to be linked statically with libev but needs libev.so" >&2
    exit 1
  fi
else
  check_libdir ours "$ours_dir"
fi
[ "$mode" = self ] || check_libdir oracle "$oracle_dir"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/difftest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# run NAME LIBDIR WRAPPER BIN ARGS...: stdout/stderr/exit code into $tmp/NAME.{out,err,rc}
run() {
  name=$1 libdir=$2 wrapper=$3; shift 3
  rc=0
  if [ -n "$libdir" ]; then
    # shellcheck disable=SC2086 # the wrapper is a word list on purpose
    LD_LIBRARY_PATH=$libdir LIBEV_FLAGS=$backend timeout -k 5 "$limit" $wrapper "$@" \
      >"$tmp/$name.out" 2>"$tmp/$name.err" </dev/null || rc=$?
  else
    # shellcheck disable=SC2086
    env -u LD_LIBRARY_PATH LIBEV_FLAGS="$backend" timeout -k 5 "$limit" $wrapper "$@" \
      >"$tmp/$name.out" 2>"$tmp/$name.err" </dev/null || rc=$?
  fi
  echo "$rc" >"$tmp/$name.rc"
  [ "$rc" != 124 ] || echo "difftest: [$name] timed out after ${limit}s" >>"$tmp/$name.err"
}

show() {
  echo "---- [$1] exit code $(cat "$tmp/$1.rc"); stderr:" >&2
  head -n 200 "$tmp/$1.err" >&2
}

keep() {
  if [ -n "${EVRING_TEST_KEEP:-}" ]; then
    mkdir -p "$EVRING_TEST_KEEP" && cp "$tmp"/* "$EVRING_TEST_KEEP"/
  fi
}

if [ "$static" = 1 ]; then ours_lib=; else ours_lib=$ours_dir; fi
run ours "$ours_lib" "${VALGRIND:-}" "$bin" "$@"
ours_rc=$(cat "$tmp/ours.rc")

if [ "$mode" = self ]; then
  keep
  case "$ours_rc" in
    0) cat "$tmp/ours.out"; exit 0 ;;
    77) echo "difftest: skipped (exit 77):" >&2; cat "$tmp/ours.err" >&2; exit 77 ;;
    *) echo "difftest: FAIL: evring run exited $ours_rc; stdout:" >&2
       head -n 200 "$tmp/ours.out" >&2; show ours; exit 1 ;;
  esac
fi

run oracle "$oracle_dir" "" "$oracle_bin" "$@"
oracle_rc=$(cat "$tmp/oracle.rc")
keep

if [ "$ours_rc" = 77 ] || [ "$oracle_rc" = 77 ]; then
  if [ "$ours_rc" = 77 ] && [ "$oracle_rc" = 77 ]; then
    echo "difftest: skipped: backend $backend unavailable in both libraries" >&2
    cat "$tmp/ours.err" >&2
    exit 77
  fi
  if [ "$ours_rc" = 77 ]; then
    echo "difftest: FAIL: evring skipped (exit 77) but libev did not (exit $oracle_rc):" \
         "backend $backend unavailable in evring but available in libev?" >&2
  else
    echo "difftest: FAIL: libev skipped (exit 77) but evring did not (exit $ours_rc)" >&2
  fi
  show oracle; show ours
  exit 1
fi

if [ "$oracle_rc" = 0 ] && [ "$ours_rc" = 0 ] && cmp -s "$tmp/oracle.out" "$tmp/ours.out"; then
  cat "$tmp/ours.out"
  exit 0
fi

echo "difftest: FAIL (backend $backend): libev exited $oracle_rc, evring exited $ours_rc" >&2
[ "$oracle_rc" = 0 ] || echo "difftest: the ORACLE run failed: the test itself is wrong or flaky" >&2
if cmp -s "$tmp/oracle.out" "$tmp/ours.out"; then
  echo "difftest: stdout identical" >&2
else
  echo "---- stdout diff (--- libev, +++ evring):" >&2
  diff -u --label libev --label evring "$tmp/oracle.out" "$tmp/ours.out" | head -n 300 >&2 || true
fi
show oracle
show ours
exit 1
