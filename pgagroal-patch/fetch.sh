#!/bin/sh
# fetch.sh -- get the unchanged pgagroal 1.6.0 source from Debian's source archive and
# install what building and running it needs.
#
# Usage: pgagroal-patch/fetch.sh            (as root for apt; see EVRING_SKIP_DEPS)
#
# What it does:
#   1. apt-get install -y --no-install-recommends the build and test dependencies
#      (skipped with EVRING_SKIP_DEPS=1, or when not root).
#   2. Builds a private apt configuration in $PGAGROAL_WORK/apt with deb-src entries made from
#      the URI (and Signed-By keyring) of the system's own Debian entry, found in
#      /etc/apt/sources.list.d/*.sources (deb822) or /etc/apt/sources.list[.d/*.list]
#      (one-line format). The system's apt configuration is not modified.
#      Suites tried: the system's release suite, then $PGAGROAL_SUITES (default: trixie).
#      pgagroal 1.6.0-1 is the version of Debian 13 "trixie"; Debian 12 has no pgagroal.
#   3. apt-get update (private lists) and `apt-get source --download-only pgagroal=1.6.0-1`.
#      If that fails (the .dsc or the debian tarball missing, ...), falls back to fetching
#      only the orig tarball with apt's own helper (apt-get source --print-uris +
#      /usr/lib/apt/apt-helper download-file, which checks the hash from the signed index).
#   4. Checks sha256 of pgagroal_1.6.0.orig.tar.gz against the pinned value (fails loudly).
#   5. Unpacks it into $PGAGROAL_WORK/src/pgagroal-1.6.0 (fresh each time the tarball changes)
#      and applies pgagroal-patch/patches/*.patch if there are any (there are none today).
#
# Environment:
#   PGAGROAL_WORK       work directory (default: <repo>/build/pgagroal; keep it out of git)
#   PGAGROAL_TARBALL    use this local pgagroal_1.6.0.orig.tar.gz instead of downloading
#   PGAGROAL_SUITES     extra source suites to search (default: trixie)
#   PGAGROAL_ORIG_ONLY=1  skip `apt-get source`, fetch only the orig tarball
#   EVRING_SKIP_DEPS=1  do not apt-get install anything
# Prints the source directory on its last line.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
work=${PGAGROAL_WORK:-$repo/build/pgagroal}
version=1.6.0
debver=1.6.0-1
orig=pgagroal_$version.orig.tar.gz
sha256=5d56c1d0c58460ba74222ec9779034c019a083a6baf019fdd16ae5517d16665e

say() { printf 'fetch.sh: %s\n' "$*" >&2; }
die() { printf 'fetch.sh: error: %s\n' "$*" >&2; exit 1; }

mkdir -p "$work"
work=$(cd "$work" && pwd)

# --- 1. dependencies ------------------------------------------------------------------------
deps="build-essential cmake pkg-config libssl-dev libsystemd-dev libcjson-dev python3-docutils
      libev-dev postgresql-15 postgresql-client-15 procps iproute2 ca-certificates"
if [ "${EVRING_SKIP_DEPS:-0}" = 1 ]; then
  say "EVRING_SKIP_DEPS=1: not installing packages"
elif [ "$(id -u)" != 0 ]; then
  say "not root: not installing packages (needed: $(echo $deps))"
else
  missing=
  for p in $deps; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    say "apt-get install$missing"
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >&2
  fi
fi

# --- 2./3. download -------------------------------------------------------------------------
dl=$work/download
mkdir -p "$dl"

have_good_tarball() {
  [ -f "$dl/$orig" ] && [ "$(sha256sum "$dl/$orig" | cut -d' ' -f1)" = "$sha256" ]
}

# Print "URI SUITE KEYRING" for every enabled 'deb' entry with component main.
system_entries() {
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && comps ~ /(^| )main( |$)/ && enabled != "no")
          for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) print u[i], s[j], (key == "" ? "-" : key)
        types = ""; comps = ""; key = ""; enabled = ""; nu = 0; ns = 0
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      {
        line = $0; name = tolower(substr(line, 1, index(line, ":") - 1)); val = substr(line, index(line, ":") + 1)
        gsub(/^[ \t]+|[ \t]+$/, "", val)
        if (name == "types") types = val
        else if (name == "uris") nu = split(val, u, /[ \t]+/)
        else if (name == "suites") ns = split(val, s, /[ \t]+/)
        else if (name == "components") comps = val
        else if (name == "signed-by" && val ~ /^\//) key = val
        else if (name == "enabled") enabled = tolower(val)
      }
      END { flush() }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '
      /^[ \t]*deb[ \t]/ {
        key = "-"; n = 2
        if ($2 ~ /^\[/) {
          for (n = 2; n <= NF; n++) {
            if ($n ~ /^\[?signed-by=/) { k = $n; sub(/^\[?signed-by=/, "", k); sub(/\]$/, "", k); key = k }
            if ($n ~ /\]$/) { n++; break }
          }
        }
        main = 0; for (i = n + 2; i <= NF; i++) if ($i == "main") main = 1
        if (main) print $n, $(n + 1), key
      }' "$f"
  done
}

if [ -n "${PGAGROAL_TARBALL:-}" ]; then
  cp "$PGAGROAL_TARBALL" "$dl/$orig"
fi

if have_good_tarball; then
  say "$orig already present and verified"
else
  codename=$(. /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-}")
  # The release entry: the system's own suite (not -updates/-security/-backports).
  entry=$(system_entries | awk -v c="$codename" '$2 == c { print; exit }')
  [ -n "$entry" ] || entry=$(system_entries | awk '$2 !~ /[-\/]/ { print; exit }')
  [ -n "$entry" ] || die "no Debian 'deb ... main' entry found in /etc/apt/sources.list[.d]"
  uri=$(echo "$entry" | cut -d' ' -f1)
  base=$(echo "$entry" | cut -d' ' -f2)
  key=$(echo "$entry" | cut -d' ' -f3)
  say "using the archive of the system entry ($base); source suites: $base ${PGAGROAL_SUITES:-trixie}"

  apt=$work/apt
  rm -rf "$apt"
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/sources.list.d" "$apt/preferences.d"
  opt=
  [ "$key" != - ] && opt="[signed-by=$key] "
  for s in $base ${PGAGROAL_SUITES:-trixie}; do
    echo "deb-src ${opt}$uri $s main"
  done > "$apt/sources.list"
  # The _apt sandbox user must be able to write the private lists.
  if id _apt >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then chown -R _apt "$apt/lists" "$apt/cache" 2>/dev/null || true; fi
  aptp() {
    apt-get -q -o Dir::Etc::SourceList="$apt/sources.list" \
      -o Dir::Etc::SourceParts="$apt/sources.list.d" \
      -o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache" \
      -o Dir::Etc::Preferences="$apt/preferences" \
      -o Dir::Etc::PreferencesParts="$apt/preferences.d" "$@"
  }
  aptp update >&2 || die "apt-get update of the deb-src entries failed"

  # The .dsc or the debian tarball may be gone from the archive (404) while the orig tarball
  # is still there: what counts is the orig tarball, so judge by it, not by apt's exit code.
  if [ "${PGAGROAL_ORIG_ONLY:-0}" != 1 ]; then
    (cd "$dl" && aptp source --download-only "pgagroal=$debver" >&2) ||
      say "apt-get source --download-only reported errors (see above)"
  fi
  if have_good_tarball; then
    say "apt-get source delivered $orig"
  else
    say "apt-get source did not deliver a good $orig; fetching only the orig tarball"
    rm -f "$dl/$orig"    # --print-uris skips files that are already present
    line=$(cd "$dl" && aptp source --print-uris "pgagroal=$debver" | grep "/$orig'" | head -n 1)
    [ -n "$line" ] || die "pgagroal=$debver ($orig) not found in the suites $base ${PGAGROAL_SUITES:-trixie}"
    url=$(echo "$line" | cut -d"'" -f2)
    hash=$(echo "$line" | awk '{ print $4 }')
    /usr/lib/apt/apt-helper download-file "$url" "$dl/$orig" "$hash" >&2 ||
      die "downloading $orig failed"
  fi
fi

# --- 4. verify -------------------------------------------------------------------------------
got=$(sha256sum "$dl/$orig" | cut -d' ' -f1)
if [ "$got" != "$sha256" ]; then
  die "SHA256 MISMATCH for $dl/$orig: got $got, expected $sha256"
fi
say "sha256 OK: $sha256"

# --- 5. unpack ---------------------------------------------------------------------------------
src=$work/src/pgagroal-$version
stamp=$work/src/.unpacked-$sha256
if [ ! -f "$stamp" ] || [ ! -f "$src/CMakeLists.txt" ]; then
  rm -rf "$work/src"
  mkdir -p "$work/src"
  tar -xzf "$dl/$orig" -C "$work/src"
  [ -f "$src/CMakeLists.txt" ] || die "unexpected tarball layout (no $src/CMakeLists.txt)"
  for p in "$here"/patches/*.patch; do
    [ -f "$p" ] || continue
    say "applying $(basename "$p")"
    patch -d "$src" -p1 < "$p" >&2
  done
  touch "$stamp"
fi
say "source ready"
echo "$src"
