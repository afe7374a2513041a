#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# run-abi-checks.sh -- layout, header and binary-interface checks for evring.
#
# evring's include/ev.h must be source- and ABI-compatible with libev 4.33's ev.h, and its
# libev.so / libev.a must export libev 4.33's symbols. Each check below compares evring with
# the libev 4.33 that is installed on the system (Debian's libev-dev / libev4), which serves
# as the oracle.
#
# Usage:
#   run-abi-checks.sh              run every check, print a summary; exit 1 if any failed
#   run-abi-checks.sh CHECK...     run the named checks; exit 0 pass, 1 fail, 77 skipped
#   run-abi-checks.sh --list       list the checks
# ctest runs one check per test (c-tests/abi/abi.cmake), with SKIP_RETURN_CODE 77.
#
# Environment (all optional):
#   EVRING_INCLUDE_DIR     directory of evring's ev.h          default: <repo>/include
#   EVRING_LIB_DIR         directory of evring's libev.so (SONAME libev.so.4) and libev.a
#                                                              default: <repo>/target/release
#   SYSTEM_EV_INCLUDE_DIR  directory of libev's ev.h           default: where $CC finds <ev.h>
#   SYSTEM_EV_LIB          libev's libev.so.4                  default: $CC -print-file-name
#   CC, CXX                compilers for programs that are run       default: cc, c++
#   EVRING_ABI_CCS         C compilers for the header matrix         default: "gcc clang"
#   EVRING_ABI_CXXS        C++ compilers for the header matrix       default: "g++ clang++"
#   ABI_WORK_DIR           where binaries and outputs go             default: a new temp dir
# <repo> is two directories above this script.
set -eu

here=$(cd "$(dirname "$0")" && pwd -P)
repo=$(cd "$here/../.." && pwd -P)

: "${CC:=cc}"
: "${CXX:=c++}"
: "${EVRING_ABI_CCS:=gcc clang}"
: "${EVRING_ABI_CXXS:=g++ clang++}"
: "${EVRING_INCLUDE_DIR:=$repo/include}"
: "${EVRING_LIB_DIR:=$repo/target/release}"
: "${SYSTEM_EV_INCLUDE_DIR:=}"
: "${SYSTEM_EV_LIB:=}"
: "${ABI_WORK_DIR:=}"

ALL_CHECKS="version-lines layout layout-cxx macros compile-c compile-cxx compile-strict config-knobs
evxx embed sysheader-fails symbols symbols-event soname pic static-symbols default-uc
default-uc-system dlclose-fork"

# Flags of the header compile matrix. -Wstrict-aliasing=2 is the more suspicious level; it is
# used where the test code itself takes no address of one type as another (header_use.c).
STRICT="-Wall -Wextra -Werror -pedantic -O2 -fstrict-aliasing"
# pgagroal 1.6.0's C flags for a Release build on Linux (pgagroal.md, section 2.1)
PGAGROAL="-g -Wall -Werror -std=c17 -D__USE_ISOC11 -D_GNU_SOURCE -Wno-deprecated
 -Wno-deprecated-declarations -Wstrict-prototypes -fPIC -DHAVE_LINUX -D_POSIX_C_SOURCE=200809L
 -O2 -DNDEBUG"

# ------------------------------------------------------------------------------------------
# helpers

failures=0
say() { printf '%s\n' "$*"; }
ok() { say "  ok:   $*"; }
bad() { say "  FAIL: $*"; failures=$((failures + 1)); }
note() { say "  note: $*"; }
have() { command -v "$1" >/dev/null 2>&1; }
skip() { say "  SKIP: $*"; exit 77; }

# real path of a file (the file must exist)
realfile() { (cd "$(dirname "$1")" && printf '%s/%s\n' "$(pwd -P)" "$(basename "$1")"); }

# show the head of a log file, indented
show() { sed -n '1,40p' "$1" | sed 's/^/        | /'; }

# which ev.h a compiler reads for a source file: whichevh COMPILER FLAGS... -- SOURCE
whichevh() {
  _out=$("$@" -M -MT x 2>/dev/null | tr -s ' \\' '\n\n' | grep '/ev\.h$' | head -n 1) || true
  if [ -n "$_out" ] && [ -f "$_out" ]; then realfile "$_out"; fi
}

# compile and count a failure, printing the diagnostics: compile LABEL COMMAND...
compile() {
  _label=$1; shift
  if "$@" >"$work/last.log" 2>&1; then ok "$_label"; else bad "$_label"; show "$work/last.log"; fi
}

# the ev.h files, as real paths
ours_evh() { realfile "$EVRING_INCLUDE_DIR/ev.h"; }
sys_evh() { realfile "$SYSTEM_EV_INCLUDE_DIR/ev.h"; }

# compile SOURCE against the header dir DIR and check that DIR/ev.h is what was read:
# build_with COMPILER "FLAGS" DIR SOURCE OUTPUT ["LIBS"]
build_with() {
  _cc=$1 _flags=$2 _dir=$3 _src=$4 _out=$5 _libs=${6:-}
  # shellcheck disable=SC2086
  _used=$(whichevh $_cc $_flags -I"$_dir" "$_src")
  if [ "$_used" != "$(realfile "$_dir/ev.h")" ]; then
    bad "$(basename "$_src") with $_cc read '${_used:-no ev.h}', expected $_dir/ev.h"
    return 1
  fi
  # shellcheck disable=SC2086
  if ! $_cc $_flags -I"$_dir" "$_src" $_libs -o "$_out" >"$work/last.log" 2>&1; then
    bad "build $(basename "$_src") with $_cc $_flags against $_dir/ev.h"
    show "$work/last.log"
    return 1
  fi
  return 0
}

# the compilers of a list, each of which must be installed (a missing one is a failure; set
# EVRING_ABI_CCS / EVRING_ABI_CXXS to choose fewer): installed "LIST"
installed() {
  _list=
  for _c in $1; do
    if have "$_c"; then _list="$_list $_c"
    else say "  FAIL: compiler $_c is not installed (set EVRING_ABI_CCS / EVRING_ABI_CXXS to leave it out)" >&2
         echo "missing-compiler"; fi
  done
  printf '%s\n' "$_list"
}

# "$list" from installed: count a failure for each missing compiler, keep the others
compilers() {
  _r=$(installed "$1")
  case "$_r" in *missing-compiler*) failures=$((failures + $(printf '%s\n' "$_r" | grep -c missing-compiler))) ;; esac
  printf '%s\n' "$_r" | grep -v missing-compiler | tr '\n' ' ' >"$work/compilers"
}

find_system_defaults() {
  if [ -z "$SYSTEM_EV_INCLUDE_DIR" ]; then
    _h=$(printf '#include <ev.h>\n' | $CC -xc -M -MT x - 2>/dev/null | tr -s ' \\' '\n\n' |
         grep '/ev\.h$' | head -n 1) || true
    [ -n "$_h" ] && SYSTEM_EV_INCLUDE_DIR=$(cd "$(dirname "$_h")" && pwd -P)
  fi
  if [ -z "$SYSTEM_EV_LIB" ]; then
    _l=$($CC -print-file-name=libev.so.4 2>/dev/null) || true
    case "$_l" in /*) SYSTEM_EV_LIB=$_l ;; esac
  fi
}

# The oracle (libev 4.33 as installed by Debian's libev-dev / libev4) is required: without it
# a check fails, it is not skipped.
need_system_header() {
  [ -n "$SYSTEM_EV_INCLUDE_DIR" ] && [ -f "$SYSTEM_EV_INCLUDE_DIR/ev.h" ] ||
    { bad "libev's own ev.h (the oracle) was not found; install libev-dev or set SYSTEM_EV_INCLUDE_DIR"; exit 1; }
  [ -f "$EVRING_INCLUDE_DIR/ev.h" ] || { bad "no ev.h in EVRING_INCLUDE_DIR=$EVRING_INCLUDE_DIR"; exit 1; }
  if [ "$(ours_evh)" = "$(sys_evh)" ]; then
    bad "EVRING_INCLUDE_DIR and SYSTEM_EV_INCLUDE_DIR name the same ev.h"; exit 1
  fi
}

need_system_lib() {
  [ -n "$SYSTEM_EV_LIB" ] && [ -f "$SYSTEM_EV_LIB" ] ||
    { bad "libev's libev.so.4 (the oracle) was not found; install libev4 or set SYSTEM_EV_LIB"; exit 1; }
}

# evring's shared library into $so; skips the check if it has not been built yet
need_ours_so() {
  for _f in "$EVRING_LIB_DIR/libev.so" "$EVRING_LIB_DIR/libev.so.4"; do
    if [ -f "$_f" ]; then so=$(realfile "$_f"); return 0; fi
  done
  skip "evring's libev.so is not built yet (looked in EVRING_LIB_DIR=$EVRING_LIB_DIR)"
}

# evring's static library into $a; skips the check if it has not been built yet
need_ours_a() {
  if [ -f "$EVRING_LIB_DIR/libev.a" ]; then a=$(realfile "$EVRING_LIB_DIR/libev.a"); return 0; fi
  skip "evring's libev.a is not built yet (looked in EVRING_LIB_DIR=$EVRING_LIB_DIR)"
}

# exported names, one per line, sorted: dynamic symbols of a shared object
dyn_names() { nm -D --defined-only "$1" | awk 'NF >= 3 { print $3 }' | sort -u; }

# ------------------------------------------------------------------------------------------
# checks

check_version_lines() {
  say "pgagroal's FindLibev.cmake reads the version from ev.h with the regex"
  say "'^#define[ \\t]+EV_VERSION_(MAJOR|MINOR)[ \\t]+[0-9]+'; the lines must match and say 4.33."
  [ -f "$EVRING_INCLUDE_DIR/ev.h" ] || { bad "no ev.h in $EVRING_INCLUDE_DIR"; return; }
  tab=$(printf '\t')
  for what in MAJOR:4 MINOR:33; do
    name=${what%%:*} want=${what#*:}
    got=$(grep -E "^#define[ $tab]+EV_VERSION_$name[ $tab]+[0-9]+" "$EVRING_INCLUDE_DIR/ev.h" |
          awk '{ print $3 }')
    if [ "$got" = "$want" ]; then ok "EV_VERSION_$name line found, value $got"
    else bad "EV_VERSION_$name: expected one line with $want, found '${got:-nothing}'"; fi
  done
}

check_layout() {
  need_system_header
  say "layout.c prints size/alignment/offsets of every watcher type and every constant;"
  say "built as C against evring's ev.h and libev's, the two reports must be identical."
  build_with "$CC" "-std=gnu11 -Wall -Wextra -Werror -O2" "$EVRING_INCLUDE_DIR" "$here/layout.c" "$work/layout-ours" || return 0
  build_with "$CC" "-std=gnu11 -Wall -Wextra -Werror -O2" "$SYSTEM_EV_INCLUDE_DIR" "$here/layout.c" "$work/layout-libev" || return 0
  "$work/layout-ours" >"$work/layout-ours.txt" || { bad "layout (evring's ev.h) did not run"; return 0; }
  "$work/layout-libev" >"$work/layout-libev.txt" || { bad "layout (libev's ev.h) did not run"; return 0; }
  if cmp -s "$work/layout-ours.txt" "$work/layout-libev.txt"; then
    ok "reports identical ($(grep -c '^type' "$work/layout-libev.txt") types, $(grep -c '^  ' "$work/layout-libev.txt") field lines, $(grep -c '^const' "$work/layout-libev.txt") constants)"
  else
    bad "reports differ (evring: -, libev: +)"
    diff -u "$work/layout-ours.txt" "$work/layout-libev.txt" | sed -n '1,60p' | sed 's/^/        | /'
  fi
}

check_layout_cxx() {
  need_system_header
  say "layout.c built as C++ against both headers; both reports must equal the C report."
  build_with "$CC" "-std=gnu11 -O2" "$SYSTEM_EV_INCLUDE_DIR" "$here/layout.c" "$work/layout-c" || return 0
  "$work/layout-c" >"$work/layout-c.txt" || { bad "layout (C) did not run"; return 0; }
  for hdr in ours libev; do
    if [ $hdr = ours ]; then dir=$EVRING_INCLUDE_DIR; else dir=$SYSTEM_EV_INCLUDE_DIR; fi
    build_with "$CXX" "-x c++ -std=c++11 -Wall -Wextra -Werror -O2" "$dir" "$here/layout.c" "$work/layout-cxx-$hdr" || continue
    "$work/layout-cxx-$hdr" >"$work/layout-cxx-$hdr.txt" || { bad "layout (C++, $hdr) did not run"; continue; }
    if cmp -s "$work/layout-cxx-$hdr.txt" "$work/layout-c.txt"; then
      ok "C++ report with $hdr's ev.h equals the C report with libev's"
    else
      bad "C++ report with $hdr's ev.h differs from the C report (C++: -, C: +)"
      diff -u "$work/layout-cxx-$hdr.txt" "$work/layout-c.txt" | sed -n '1,60p' | sed 's/^/        | /'
    fi
  done
}

check_macros() {
  need_system_header
  say "macros.c applies every watcher macro to pattern-filled watchers and prints what changed;"
  say "built as C and C++ against both headers, all four outputs must be identical."
  for lang in c cxx; do
    for hdr in ours libev; do
      if [ $hdr = ours ]; then dir=$EVRING_INCLUDE_DIR; else dir=$SYSTEM_EV_INCLUDE_DIR; fi
      if [ $lang = c ]; then comp=$CC flags="-std=c99 -Wall -Wextra -Werror -O2"
      else comp=$CXX flags="-x c++ -std=c++11 -Wall -Wextra -Werror -O2"; fi
      build_with "$comp" "$flags" "$dir" "$here/macros.c" "$work/macros-$lang-$hdr" || continue
      "$work/macros-$lang-$hdr" >"$work/macros-$lang-$hdr.txt" || bad "macros ($lang, $hdr) did not run"
    done
  done
  ref="$work/macros-c-libev.txt"
  [ -s "$ref" ] || { bad "no reference output"; return 0; }
  for out in c-ours cxx-ours cxx-libev; do
    [ -f "$work/macros-$out.txt" ] || continue
    if cmp -s "$work/macros-$out.txt" "$ref"; then ok "$out output equals libev's C output ($(grep -c . "$ref") lines)"
    else bad "$out output differs from libev's C output (-: $out, +: libev)"
      diff -u "$work/macros-$out.txt" "$ref" | sed -n '1,60p' | sed 's/^/        | /'; fi
  done
}

check_compile_c() {
  [ -f "$EVRING_INCLUDE_DIR/ev.h" ] || { bad "no ev.h in $EVRING_INCLUDE_DIR"; return 0; }
  say "evring's ev.h compiled (-c) as C with $STRICT, not as a system header:"
  say "header_use.c (every function and macro) also with -Wstrict-aliasing=2; macros.c,"
  say "layout.c and embed.c (user-level casts, see embed.c) with the default level."
  compilers "$EVRING_ABI_CCS"; ccs=$(cat "$work/compilers")
  for cc in $ccs; do
    for std in c99 c11 c17 gnu11 gnu17; do
      # shellcheck disable=SC2086
      compile "$cc -std=$std header_use.c (-Wstrict-aliasing=2)" \
        $cc -std=$std $STRICT -Wstrict-aliasing=2 -I"$EVRING_INCLUDE_DIR" -c "$here/header_use.c" -o "$work/o.o"
      for f in macros layout embed; do
        # shellcheck disable=SC2086
        compile "$cc -std=$std $f.c" $cc -std=$std $STRICT -I"$EVRING_INCLUDE_DIR" -c "$here/$f.c" -o "$work/o.o"
      done
    done
  done
}

check_compile_cxx() {
  [ -f "$EVRING_INCLUDE_DIR/ev.h" ] || { bad "no ev.h in $EVRING_INCLUDE_DIR"; return 0; }
  say "evring's ev.h compiled (-c) as C++ with $STRICT: the C test files as C++, and"
  say "proto_check.cc (exact C++17 type, incl. noexcept, of every function and member)"
  say "against evring's ev.h and, to validate its expectations, against libev's."
  compilers "$EVRING_ABI_CXXS"; cxxs=$(cat "$work/compilers")
  for cxx in $cxxs; do
    for std in c++98 c++11 c++14 c++17 c++20; do
      # shellcheck disable=SC2086
      compile "$cxx -std=$std header_use.c (-Wstrict-aliasing=2)" \
        $cxx -x c++ -std=$std $STRICT -Wstrict-aliasing=2 -I"$EVRING_INCLUDE_DIR" -c "$here/header_use.c" -o "$work/o.o"
      for f in macros layout embed; do
        # shellcheck disable=SC2086
        compile "$cxx -std=$std $f.c" $cxx -x c++ -std=$std $STRICT -I"$EVRING_INCLUDE_DIR" -c "$here/$f.c" -o "$work/o.o"
      done
    done
    for std in c++17 c++20; do
      # shellcheck disable=SC2086
      compile "$cxx -std=$std proto_check.cc, evring's ev.h" \
        $cxx -std=$std $STRICT -I"$EVRING_INCLUDE_DIR" -c "$here/proto_check.cc" -o "$work/o.o"
    done
    if [ -n "$SYSTEM_EV_INCLUDE_DIR" ] && [ -f "$SYSTEM_EV_INCLUDE_DIR/ev.h" ]; then
      # shellcheck disable=SC2086
      compile "$cxx -std=c++17 proto_check.cc, libev's ev.h (validates the expectations)" \
        $cxx -std=c++17 $STRICT -I"$SYSTEM_EV_INCLUDE_DIR" -c "$here/proto_check.cc" -o "$work/o.o"
    else
      note "libev's ev.h not found: proto_check.cc not validated against it"
    fi
  done
}

# compile with many extra warnings and fail if any diagnostic points into evring's ev.h
# (the test files themselves are not held to these warnings)
header_clean() {
  _label=$1; shift
  if ! "$@" >"$work/last.log" 2>&1; then bad "$_label: compilation failed"; show "$work/last.log"; return 0; fi
  # diagnostics whose location (start of the line) is evring's ev.h
  if awk -v a="$EVRING_INCLUDE_DIR/ev.h:" -v b="$(ours_evh):" \
       'index($0, a) == 1 || index($0, b) == 1' "$work/last.log" |
     grep -E ': (warning|error)' >"$work/hits.log"; then
    bad "$_label: diagnostics in ev.h"; show "$work/hits.log"
  else
    ok "$_label: no diagnostic in ev.h"
  fi
}

check_compile_strict() {
  [ -f "$EVRING_INCLUDE_DIR/ev.h" ] || { bad "no ev.h in $EVRING_INCLUDE_DIR"; return 0; }
  say "evring's ev.h under many extra warnings (not part of libev's promise, but cheap to keep):"
  say "no diagnostic may point into ev.h. Not checked: clang's -Wpadded (the padding is ABI),"
  say "-Wreserved-identifier (EV__IOFDSET is libev's name) and, in C++, -Wshadow (the libev 3.x"
  say "function ev_loop hides struct ev_loop by design)."
  gccx="-Wstrict-prototypes -Wmissing-prototypes -Wmissing-declarations -Wshadow -Wundef -Wcast-qual
        -Wcast-align=strict -Wconversion -Wsign-conversion -Wredundant-decls -Wc++-compat
        -Wold-style-definition -Wdeclaration-after-statement -Wnested-externs -Wwrite-strings
        -Wpointer-arith -Wbad-function-cast -Wdouble-promotion -Wfloat-equal -Wvla -Wlogical-op
        -Wnull-dereference -Wunused-macros -Wstrict-aliasing=2"
  gxxx="-Wundef -Wcast-qual -Wconversion -Wsign-conversion -Wredundant-decls -Wold-style-cast
        -Wzero-as-null-pointer-constant -Wuseless-cast -Wextra-semi -Wmissing-declarations"
  if have gcc; then
    for f in header_use macros embed; do
      # shellcheck disable=SC2086
      header_clean "gcc -std=c17 $f.c" gcc -std=c17 -O2 -Wall -Wextra $gccx -I"$EVRING_INCLUDE_DIR" -c "$here/$f.c" -o "$work/o.o"
    done
  else bad "gcc is not installed"; fi
  if have g++; then
    # (only header_use.c: GCC places casts that the other test files apply to macro results,
    # e.g. (int) ev_periodic_at (w), inside ev.h)
    # shellcheck disable=SC2086
    header_clean "g++ -std=c++17 header_use.c" g++ -x c++ -std=c++17 -O2 -Wall -Wextra $gxxx -I"$EVRING_INCLUDE_DIR" -c "$here/header_use.c" -o "$work/o.o"
  else bad "g++ is not installed"; fi
  if have clang; then
    # shellcheck disable=SC2086
    header_clean "clang -Weverything header_use.c" clang -std=c17 -O2 -Weverything -Wno-padded \
      -Wno-reserved-identifier -I"$EVRING_INCLUDE_DIR" -c "$here/header_use.c" -o "$work/o.o"
  else bad "clang is not installed"; fi
  if have clang++; then
    # shellcheck disable=SC2086
    header_clean "clang++ -Weverything header_use.c" clang++ -x c++ -std=c++17 -O2 -Weverything \
      -Wno-padded -Wno-reserved-identifier -Wno-shadow -Wno-c++98-compat -Wno-c++98-compat-pedantic \
      -I"$EVRING_INCLUDE_DIR" -c "$here/header_use.c" -o "$work/o.o"
  else bad "clang++ is not installed"; fi
}

check_config_knobs() {
  need_system_header
  say "knobs.c: configuration macros defined before #include <ev.h> (see knobs.c)."
  flags="-std=c99 -Wall -Wextra -Werror -O2"
  for k in COMPAT3_OFF PROTOTYPES_OFF COMMON_RENAMED SET_CB_OVERRIDE STAT_OFF; do
    # shellcheck disable=SC2086
    compile "$k compiles with evring's ev.h" $CC $flags -DKNOB_$k -I"$EVRING_INCLUDE_DIR" -c "$here/knobs.c" -o "$work/o.o"
    # shellcheck disable=SC2086
    compile "$k compiles with libev's ev.h (same behaviour)" $CC $flags -DKNOB_$k -I"$SYSTEM_EV_INCLUDE_DIR" -c "$here/knobs.c" -o "$work/o.o"
  done
  for case in BAD_COMMON:evring_abi_layout_check FLOAT_TSTAMP:evring_abi_layout_check \
              NO_MULTIPLICITY:EV_MULTIPLICITY API_STATIC:EV_API_STATIC NO_PRIORITIES:EV_MINPRI; do
    k=${case%%:*} why=${case#*:}
    # shellcheck disable=SC2086
    if $CC $flags -DKNOB_$k -I"$EVRING_INCLUDE_DIR" -c "$here/knobs.c" -o "$work/o.o" >"$work/last.log" 2>&1; then
      bad "$k compiled with evring's ev.h, but the prebuilt library cannot follow it"
    elif grep -q "$why" "$work/last.log"; then
      ok "$k is rejected by evring's ev.h ($(grep -m 1 -o 'error: .*' "$work/last.log" | cut -c 1-90))"
    else
      bad "$k failed, but not with the expected message mentioning $why"; show "$work/last.log"
    fi
  done
}

check_evxx() {
  need_system_header
  [ -f "$SYSTEM_EV_INCLUDE_DIR/ev++.h" ] || { bad "libev's ev++.h is not installed next to its ev.h"; return 0; }
  say "libev's ev++.h on top of evring's ev.h (evxx.cc, -c, -Wall -Wextra -Werror -O2). ev++.h"
  say "includes \"ev.h\", which finds libev's ev.h next to it; so evxx.cc includes <ev.h> first"
  say "(libev's ev.h is then opened but skipped: same include guard), or is compiled with"
  say "-DEV_H='<ev.h>'. -M shows that evring's ev.h is read first; -E that its contents are used."
  compilers "$EVRING_ABI_CXXS"; cxxs=$(cat "$work/compilers")
  for cxx in $cxxs; do
    for std in c++11 c++17; do
      for how in first define; do
        if [ $how = first ]; then def="-DEVXX_INCLUDE_EV_H_FIRST"; else def="-DEV_H=<ev.h>"; fi
        first=$($cxx -std=$std "$def" -I"$EVRING_INCLUDE_DIR" -M -MT x "$here/evxx.cc" 2>/dev/null |
                tr -s ' \\' '\n\n' | grep '/ev\.h$' | head -n 1) || true
        if [ -z "$first" ] || [ "$(realfile "$first")" != "$(ours_evh)" ]; then
          bad "$cxx -std=$std ($how): first ev.h read is '$first', not evring's"; continue
        fi
        if ! $cxx -std=$std "$def" -I"$EVRING_INCLUDE_DIR" -E "$here/evxx.cc" 2>/dev/null | grep -q evring_ofs_cb; then
          bad "$cxx -std=$std ($how): the preprocessed source lacks evring's declarations"; continue
        fi
        compile "$cxx -std=$std, ev.h via $how" $cxx -std=$std -Wall -Wextra -Werror -O2 "$def" \
          -I"$EVRING_INCLUDE_DIR" -c "$here/evxx.cc" -o "$work/o.o"
      done
    done
    compile "$cxx -std=c++17 with libev's own ev.h (reference)" $cxx -std=c++17 -Wall -Wextra -Werror -O2 \
      -I"$SYSTEM_EV_INCLUDE_DIR" -c "$here/evxx.cc" -o "$work/o.o"
  done
}

check_embed() {
  [ -f "$EVRING_INCLUDE_DIR/ev.h" ] || { bad "no ev.h in $EVRING_INCLUDE_DIR"; return 0; }
  say "embed.c (watchers as first member of user structs, initialised through a cast, as in"
  say "pgagroal) compiled against evring's ev.h found through plain -I, with pgagroal's flags:"
  say "$(echo $PGAGROAL)"
  compilers "$EVRING_ABI_CCS"; ccs=$(cat "$work/compilers")
  for cc in $ccs; do
    # shellcheck disable=SC2086
    used=$(whichevh $cc $PGAGROAL -I"$EVRING_INCLUDE_DIR" "$here/embed.c")
    [ "$used" = "$(ours_evh)" ] || { bad "$cc read '$used', not evring's ev.h"; continue; }
    # shellcheck disable=SC2086
    compile "$cc, pgagroal Release flags" $cc $PGAGROAL -I"$EVRING_INCLUDE_DIR" -c "$here/embed.c" -o "$work/o.o"
    for opt in -O2 -O3; do
      # shellcheck disable=SC2086
      compile "$cc -std=c17 $STRICT $opt" $cc -std=c17 $STRICT $opt -I"$EVRING_INCLUDE_DIR" -c "$here/embed.c" -o "$work/o.o"
    done
  done
}

check_sysheader_fails() {
  need_system_header
  have gcc || { bad "gcc is not installed (the strict-aliasing diagnostic is GCC's)"; return 0; }
  say "Control for 'embed': libev's own ev.h, copied into a plain -I directory (so it is not a"
  say "system header), must FAIL on embed.c with pgagroal's flags, with a strict-aliasing error."
  say "This proves that embed.c exercises the problem our header avoids."
  mkdir -p "$work/plain-include"
  cp "$SYSTEM_EV_INCLUDE_DIR/ev.h" "$work/plain-include/ev.h"
  # shellcheck disable=SC2086
  if gcc $PGAGROAL -I"$work/plain-include" -c "$here/embed.c" -o "$work/o.o" >"$work/libev.log" 2>&1; then
    bad "libev's ev.h compiled embed.c without error: the embed check would not detect the problem"
  elif grep -q 'strict-aliasing' "$work/libev.log"; then
    ok "libev's ev.h fails as expected: $(grep -c 'strict-aliasing' "$work/libev.log") strict-aliasing diagnostics, e.g."
    grep -m 1 'strict-aliasing' "$work/libev.log" | sed 's/^.*error:/        | error:/'
  else
    bad "libev's ev.h failed, but not with a strict-aliasing error"; show "$work/libev.log"
  fi
  # shellcheck disable=SC2086
  compile "the same command with evring's ev.h succeeds" gcc $PGAGROAL -I"$EVRING_INCLUDE_DIR" -c "$here/embed.c" -o "$work/o.o"
}

check_symbols() {
  need_system_lib
  need_ours_so
  say "exported symbols of evring's $(basename "$so") (nm -D --defined-only) against libev's"
  say "libev.so.4: every ev_* must be there, nothing beyond libev's 97 names may be exported,"
  say "ev_default_loop_ptr must be an 8-byte data object, the rest functions, all unversioned."
  dyn_names "$SYSTEM_EV_LIB" >"$work/libev.names"
  dyn_names "$so" >"$work/ours.names"
  grep '^ev_' "$work/libev.names" >"$work/libev.ev" || true
  n_ev=$(grep -c . "$work/libev.ev" || true)
  n_event=$(grep -c '^event_' "$work/libev.names" || true)
  if [ "$n_ev" = 73 ] && [ "$n_event" = 24 ] && [ "$(grep -c . "$work/libev.names")" = 97 ]; then
    ok "oracle exports 73 ev_* + 24 event_* = 97 names"
  else
    bad "oracle exports $n_ev ev_* and $n_event event_* names (expected 73 + 24): wrong SYSTEM_EV_LIB?"
  fi
  missing=$(comm -23 "$work/libev.ev" "$work/ours.names" | tr '\n' ' ')
  if [ -z "$missing" ]; then ok "all $n_ev ev_* symbols exported"
  else bad "missing ev_* symbols ($(echo $missing | wc -w)): $missing"; fi
  sed 's/@.*//' "$work/ours.names" | sort -u >"$work/ours.base"
  extra=$(comm -13 "$work/libev.names" "$work/ours.base" | tr '\n' ' ')
  if [ -z "$extra" ]; then ok "nothing exported beyond libev's names"
  else bad "exported names that libev does not export ($(echo $extra | wc -w)): $extra"; fi
  versioned=$(grep '@' "$work/ours.names" | tr '\n' ' ' || true)
  if [ -z "$versioned" ]; then ok "no symbol versions (libev's are unversioned too)"
  else bad "versioned symbols (libev has none): $versioned"; fi
  ptr=$(nm -D -S --defined-only "$so" | awk '$NF == "ev_default_loop_ptr" { print $3, $2 }')
  case "$ptr" in
    "B 0000000000000008"|"D 0000000000000008") ok "ev_default_loop_ptr: data object (type ${ptr% *}), size 8" ;;
    *) bad "ev_default_loop_ptr: expected type B or D with size 8, got '${ptr:-not exported}'" ;;
  esac
  notfunc=$(nm -D --defined-only "$so" | awk '$3 ~ /^ev_/ && $3 != "ev_default_loop_ptr" && $2 != "T" { print $3 "(" $2 ")" }' | tr '\n' ' ')
  if [ -z "$notfunc" ]; then ok "every other ev_* symbol is a function (type T)"
  else bad "ev_* symbols that are not plain functions: $notfunc"; fi
  evn=$(grep -c '^event_' "$work/ours.names" || true)
  note "event_* (libevent emulation) exported: $evn of 24; see check symbols-event"
  note "NEEDED: $(readelf -d "$so" | awk '/NEEDED/ { print $NF }' | tr '\n' ' ')"
}

check_symbols_event() {
  need_system_lib
  need_ours_so
  say "libev's libevent emulation: libev.so.4 also exports 24 event_* functions; a symbol-for-"
  say "symbol replacement (and Debian's libev4.symbols file) expects them in $(basename "$so")."
  dyn_names "$SYSTEM_EV_LIB" | grep '^event_' >"$work/libev.event" || true
  dyn_names "$so" | sed 's/@.*//' >"$work/ours.names"
  while read -r name; do
    if grep -qx "$name" "$work/ours.names"; then ok "$name"; else bad "$name not exported"; fi
  done <"$work/libev.event"
}

check_soname() {
  need_ours_so
  say "the SONAME of evring's $(basename "$so") must be libev.so.4, like libev's."
  soname=$(readelf -d "$so" | awk '/SONAME/ { print $NF }' | tr -d '[]')
  if [ "$soname" = libev.so.4 ]; then ok "SONAME libev.so.4"; else bad "SONAME is '${soname:-missing}'"; fi
  if [ -n "$SYSTEM_EV_LIB" ] && [ -f "$SYSTEM_EV_LIB" ]; then
    ref=$(readelf -d "$SYSTEM_EV_LIB" | awk '/SONAME/ { print $NF }' | tr -d '[]')
    note "libev's SONAME for reference: $ref"
  fi
}

# link a whole archive into a shared object: pic_link ARCHIVE OUTPUT
pic_link() {
  $CC -shared -o "$2" -Wl,--whole-archive "$1" -Wl,--no-whole-archive -Wl,-z,text >"$work/last.log" 2>&1
}

check_pic() {
  need_ours_a
  say "evring's libev.a must be position-independent: pgagroal links it into libpgagroal.so."
  say "Test: link the whole archive into a shared object (-shared --whole-archive -z text)."
  if pic_link "$a" "$work/pic-check.so"; then
    if readelf -d "$work/pic-check.so" | grep -q TEXTREL; then bad "the shared object needs text relocations"
    else ok "whole archive links into a shared object, no text relocations"; fi
    n=$(nm -D --defined-only "$work/pic-check.so" | awk '$3 ~ /^ev_/' | grep -c . || true)
    if [ "$n" = 73 ]; then ok "the shared object defines the 73 ev_* symbols (the archive's code was linked)"
    else bad "the shared object defines $n ev_* symbols, expected 73"; fi
  else
    bad "the whole archive does not link into a shared object"; show "$work/last.log"
  fi
  sys_a=$($CC -print-file-name=libev.a 2>/dev/null) || true
  case "$sys_a" in
    /*) if pic_link "$sys_a" "$work/pic-control.so"; then
          bad "control: libev's own libev.a (not PIC on Debian) linked too, so this test cannot detect non-PIC code"
        else
          ok "control: libev's non-PIC libev.a is rejected by the same link ($(grep -m 1 -o 'relocation R_[A-Z0-9_]*' "$work/last.log" || echo error))"
        fi ;;
    *) note "libev's libev.a is not installed; no control run" ;;
  esac
}

check_static_symbols() {
  need_system_lib
  need_ours_a
  say "evring's libev.a must define each of the 97 names libev.so.4 exports, once (read with"
  say "readelf: binutils' nm hands members with embedded LLVM bitcode to the LTO plugin)."
  dyn_names "$SYSTEM_EV_LIB" >"$work/libev.names"
  # readelf -s columns: Num Value Size Type Bind Vis Ndx Name
  readelf -sW "$a" | awk '($5 == "GLOBAL" || $5 == "WEAK") && $7 != "UND" && NF >= 8 { print $8 }' |
    sort >"$work/ours.defs"
  missing=$(sort -u "$work/ours.defs" | comm -23 "$work/libev.names" - | tr '\n' ' ')
  if [ -z "$missing" ]; then ok "all $(grep -c . "$work/libev.names") names defined"
  else bad "not defined in libev.a ($(echo $missing | wc -w)): $missing"; fi
  dups=$(uniq -d "$work/ours.defs" | comm -12 "$work/libev.names" - | tr '\n' ' ')
  if [ -z "$dups" ]; then ok "none of them defined twice"
  else bad "defined more than once: $dups"; fi
}

hdr_label() { if [ "$1" = ours ]; then echo "evring's ev.h"; else echo "libev's ev.h"; fi; }

# build default_uc.c against both headers, -pie and -no-pie, and run it with LIB: default_uc LIB NAME
default_uc() {
  lib=$1 name=$2
  need_system_header
  priv="$work/lib-$name"
  mkdir -p "$priv"
  ln -sf "$lib" "$priv/libev.so.4"
  say "EV_DEFAULT_UC / ev_is_default_loop (inline code reading the exported ev_default_loop_ptr)"
  say "against $name's library, loaded from a private directory holding only libev.so.4."
  for hdr in ours libev; do
    if [ $hdr = ours ]; then dir=$EVRING_INCLUDE_DIR; else dir=$SYSTEM_EV_INCLUDE_DIR; fi
    for pie in pie no-pie; do
      bin="$work/default-uc-$hdr-$pie"
      build_with "$CC" "-std=gnu11 -Wall -Wextra -Werror -O2 -f$pie -$pie" "$dir" \
        "$here/default_uc.c" "$bin" "-L$priv -l:libev.so.4 -ldl" || continue
      reloc=$(readelf -rW "$bin" | awk '/ev_default_loop_ptr/ { print $3; exit }')
      if LD_LIBRARY_PATH="$priv${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$bin" "$lib" >"$work/run.log" 2>&1; then
        ok "$(hdr_label $hdr), -$pie (ev_default_loop_ptr via ${reloc:-no relocation}): $(grep -c '^ok' "$work/run.log") checks passed"
      else
        bad "$(hdr_label $hdr), -$pie (ev_default_loop_ptr via ${reloc:-no relocation})"; show "$work/run.log"
      fi
    done
  done
}

check_default_uc() { need_ours_so; default_uc "$so" evring; }
check_default_uc_system() { need_system_lib; default_uc "$(realfile "$SYSTEM_EV_LIB")" libev; }

check_dlclose_fork() {
  need_ours_so
  say "a libev loaded with dlopen(), used (one loop) and dlclose()d must leave no fork handler"
  say "pointing into unmapped code: fork() afterwards must work (evring registers a"
  say "pthread_atfork child handler; glibc unregisters it at dlclose through __dso_handle)."
  bin="$work/dlclose-fork"
  if ! $CC -std=gnu11 -Wall -Wextra -Werror -O2 -o "$bin" "$here/dlclose_fork.c" -ldl >"$work/last.log" 2>&1; then
    bad "dlclose_fork.c does not build"; show "$work/last.log"; return
  fi
  for lib in "$so" ${SYSTEM_EV_LIB:+"$(realfile "$SYSTEM_EV_LIB")"}; do
    if "$bin" "$lib" >"$work/run.log" 2>"$work/run.err"; then
      ok "$(basename "$lib"): $(grep -c '^ok' "$work/run.log") checks passed ($(tr '\n' ';' <"$work/run.err"))"
    else
      bad "$lib"; show "$work/run.log"; show "$work/run.err"
    fi
  done
}

# ------------------------------------------------------------------------------------------
# driver

run_one() {
  check=$1
  fn=check_$(printf '%s' "$check" | tr '-' '_')
  case " $(echo $ALL_CHECKS) " in *" $check "*) ;; *) say "unknown check: $check (see --list)"; exit 2 ;; esac
  work="$ABI_WORK_DIR/$check"
  rm -rf "$work"
  mkdir -p "$work"
  say "== $check"
  $fn
  if [ "$failures" -gt 0 ]; then say "== $check: FAIL ($failures)"; exit 1; fi
  say "== $check: PASS"
  exit 0
}

if [ "${1:-}" = --list ]; then
  for c in $ALL_CHECKS; do echo "$c"; done
  exit 0
fi

find_system_defaults
if [ -z "$ABI_WORK_DIR" ]; then
  # a temporary work directory: kept when something failed (for inspection), else removed
  ABI_WORK_DIR=$(mktemp -d)
  trap 'rc=$?; if [ $rc -eq 0 ]; then rm -rf "$ABI_WORK_DIR"; else echo "outputs kept in $ABI_WORK_DIR"; fi; exit $rc' EXIT
fi
mkdir -p "$ABI_WORK_DIR"
ABI_WORK_DIR=$(cd "$ABI_WORK_DIR" && pwd -P)

if [ $# -eq 1 ]; then
  run_one "$1"
fi

# several checks (or all): run each in a subshell and summarise
[ $# -gt 0 ] || set -- $ALL_CHECKS
say "evring ev.h:    $EVRING_INCLUDE_DIR/ev.h"
say "evring libs:    $EVRING_LIB_DIR"
say "libev ev.h:     ${SYSTEM_EV_INCLUDE_DIR:-not found}"
say "libev library:  ${SYSTEM_EV_LIB:-not found}"
say "work directory: $ABI_WORK_DIR"
summary=
status=0
for check in "$@"; do
  rc=0
  ABI_WORK_DIR=$ABI_WORK_DIR SYSTEM_EV_INCLUDE_DIR=$SYSTEM_EV_INCLUDE_DIR SYSTEM_EV_LIB=$SYSTEM_EV_LIB \
    sh "$here/run-abi-checks.sh" "$check" || rc=$?
  case $rc in
    0) summary="$summary
  PASS  $check" ;;
    77) summary="$summary
  SKIP  $check" ;;
    *) summary="$summary
  FAIL  $check"; status=1 ;;
  esac
done
say ""
say "summary:$summary"
exit $status
