#!/usr/bin/env bash
# e2e.sh -- end-to-end test of pgagroal 1.6.0 (built by build.sh) on a throwaway PostgreSQL.
#
# Usage:
#   pgagroal-patch/e2e.sh [options]
#     --mode MODE        build to test: evring-static (default) | evring-shared | libev;
#                        runs build.sh MODE first
#     --bin DIR          test this pgagroal build (its src/ dir with pgagroal, pgagroal-cli,
#                        pgagroal-admin) instead of running build.sh
#     --duration S       seconds per pgbench run (default 5)
#     --pipelines LIST   default "performance session transaction"
#     --backends LIST    values for `libev =` in pgagroal.conf; default "epoll iouring poll auto"
#     --clients N        pgbench clients (default 8); --scale N  pgbench scale (default 10)
#     --compare A B      comparison mode: A and B are modes or build dirs; per cell the two
#                        builds run alternately (--rounds R times each, default 3) and the
#                        TPS ratio A/B is reported per pipeline and backend, for pgbench -S
#                        and for pgbench -S -C (a new connection, so a new worker, per
#                        transaction)
#     --rounds R         rounds in comparison mode
#     --keep             keep the run directory (configs, logs, pgbench outputs)
#     --growth           growth/churn mode instead of the matrix: a pool that is not prefilled
#                        (--pool-min 1 .. --pool-max 20, --idle-timeout 2 s) under a long
#                        pgbench -C -S (--clients, default 4 here) plus bursts of --burst (12)
#                        -C clients; counts aborted clients, workers killed by a signal,
#                        event-loop messages and stuck workers per run; with --compare A B
#                        both builds side by side (defaults here: 30 s, performance session,
#                        1 round). Judged on evring only: no loop failure
#     --strace           (growth) run pgagroal under strace -f and analyse with badfd.py
#     --syscalls         (comparison) also count pgagroal's system calls per transaction:
#                        per build and cell, pgbench -S -t 200 and -t 1000 per client with
#                        pgagroal under `strace -f -c`; calls per transaction = difference of
#                        the totals / difference of the transactions (start-up, connection
#                        set-up and shutdown cancel out)
#     --profile          (comparison) per build and cell, one more pgbench -S and -S -C run
#                        with `perf record -a -g` sampling the whole machine; loopshare.py
#                        reports the event loop's share of the busy CPU (pgagroal's loop
#                        system calls and the loop library's own code) and the TPS ceiling it
#                        implies, plus page faults of all pgagroal processes per transaction
#                        (perf stat -p; installs linux-perf when missing)
#   Every option also has an environment variable: E2E_MODE, E2E_BIN, E2E_DURATION,
#   E2E_PIPELINES, E2E_BACKENDS, E2E_CLIENTS, E2E_SCALE, E2E_ROUNDS, E2E_KEEP=1; plus
#   E2E_USER (OS user for PostgreSQL and pgagroal when run as root; default postgres),
#   PGBIN (PostgreSQL bin dir; default the newest /usr/lib/postgresql/*/bin),
#   E2E_STRICT=1 (also run the checks that Debian's libev is known to fail, see README),
#   E2E_GROWTH=1, E2E_POOL_MAX, E2E_POOL_MIN, E2E_IDLE_TIMEOUT, E2E_BURST, E2E_STRACE=1,
#   E2E_ACCT=0 (growth: no process accounting; it needs root and is switched off at exit).
#
# Per pipeline x backend cell (normal mode):
#   start pgagroal (fixed-size pool, prefilled; log_level debug1 until started, then info)
#   -> check the engine pgagroal logged ("libev engine: X") is the one asked for
#   -> pgbench -S, pgbench TPC-B-like, and (first backend of each pipeline) pgbench -S -C
#   -> after each: 0 failed transactions, no aborted client, no zombie child of pgagroal
#   -> pgagroal-cli ping / status / status details (text + JSON) / flush
#   -> SIGHUP reload in the middle of a pgbench -S run: the port must be re-bound (new
#      listening socket), the run must end with 0 failures, then pgagroal must answer and
#      serve new connections (pgbench -C)
#   -> shutdown: `shutdown gracefully` or `shutdown immediate` (alternating per cell); the
#      process must exit, leave no process behind, and free its port
#   -> no ERROR or FATAL line in pgagroal's log (the level is the 3rd field of each line)
# Exit status: 0 when every check passed. PostgreSQL and pgagroal are always stopped.
set -euo pipefail
trap 'echo "e2e.sh: line $LINENO: command failed with status $?" >&2' ERR

here=$(cd "$(dirname "$0")" && pwd)

mode=${E2E_MODE:-evring-static}
bin_a=${E2E_BIN:-}
duration=${E2E_DURATION:-}
pipelines=${E2E_PIPELINES:-}
backends=${E2E_BACKENDS:-epoll iouring poll auto}
clients=${E2E_CLIENTS:-}
scale=${E2E_SCALE:-10}
rounds=${E2E_ROUNDS:-}
keep=${E2E_KEEP:-0}
strict=${E2E_STRICT:-0}
runas=${E2E_USER:-postgres}
growth=${E2E_GROWTH:-0}
pool_max=${E2E_POOL_MAX:-20}
pool_min=${E2E_POOL_MIN:-1}
idle_timeout=${E2E_IDLE_TIMEOUT:-2}
burst=${E2E_BURST:-12}
use_strace=${E2E_STRACE:-0}
use_acct=${E2E_ACCT:-1}
count_syscalls=${E2E_SYSCALLS:-0}
profile=${E2E_PROFILE:-0}
strace_count=0
compare=0; cmp_a=; cmp_b=

while [ $# -gt 0 ]; do
  case $1 in
    --mode) mode=$2; shift 2 ;;
    --bin) bin_a=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --pipelines) pipelines=$2; shift 2 ;;
    --backends) backends=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --compare) compare=1; cmp_a=$2; cmp_b=$3; shift 3 ;;
    --keep) keep=1; shift ;;
    --growth) growth=1; shift ;;
    --pool-max) pool_max=$2; shift 2 ;;
    --pool-min) pool_min=$2; shift 2 ;;
    --idle-timeout) idle_timeout=$2; shift 2 ;;
    --burst) burst=$2; shift 2 ;;
    --strace) use_strace=1; keep=1; shift ;;
    --syscalls) count_syscalls=1; shift ;;
    --profile) profile=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "e2e.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

if [ "$growth" = 1 ]; then
  : "${duration:=30}" "${pipelines:=performance session}" "${clients:=4}" "${rounds:=1}"
else
  : "${duration:=5}" "${pipelines:=performance session transaction}" "${clients:=8}" "${rounds:=3}"
fi
[ "$use_strace" = 1 ] && ! command -v strace >/dev/null && { echo "e2e.sh: --strace needs strace" >&2; exit 2; }
if [ "$profile" = 1 ] && ! perf version >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || { echo "e2e.sh: --profile needs perf (Debian package linux-perf)" >&2; exit 2; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q linux-perf >/dev/null
fi

log() { printf '[e2e %(%H:%M:%S)T] %s\n' -1 "$*"; }
die() { printf 'e2e.sh: error: %s\n' "$*" >&2; exit 1; }

npass=0; nfail=0; nskip=0; nref=0
failures=()
pass() { npass=$((npass + 1)); }
fail() {
  if [ "${ref_mode:-0}" = 1 ]; then   # growth mode on Debian's libev: reported, not judged
    nref=$((nref + 1)); printf '  NOTE (reference build): %s\n' "$*"; return 0
  fi
  nfail=$((nfail + 1)); failures+=("$*"); printf '  FAIL: %s\n' "$*"
}
skip() { nskip=$((nskip + 1)); printf '  SKIP: %s\n' "$*"; }
check() { # check DESCRIPTION COMMAND... (output goes to $RUN/out/checks.log)
  local d=$1; shift
  if "$@" >>"$RUN/out/checks.log" 2>&1; then pass; else fail "$d"; fi
}

for t in ss ps timeout python3; do command -v $t >/dev/null || die "$t is required"; done

# --- builds ------------------------------------------------------------------------------------
resolve_build() { # MODE-or-DIR -> bin dir
  if [ -d "$1" ]; then (cd "$1" && pwd); return; fi
  "$here/build.sh" "$1" | tail -n 1
}
if [ $compare = 1 ]; then
  bin_a=$(resolve_build "$cmp_a"); bin_b=$(resolve_build "$cmp_b")
  name_a=$(basename "$(dirname "$bin_a")"); name_a=${name_a#build-}
  name_b=$(basename "$(dirname "$bin_b")"); name_b=${name_b#build-}
  [ "$name_a" != "$name_b" ] || { name_a=A; name_b=B; }
  builds=("$bin_a" "$bin_b")
else
  if [ -z "$bin_a" ]; then bin_a=$(resolve_build "$mode"); fi
  bin_a=$(cd "$bin_a" && pwd)
  builds=("$bin_a")
fi
for b in "${builds[@]}"; do
  for f in pgagroal pgagroal-cli pgagroal-admin; do [ -x "$b/$f" ] || die "no $b/$f"; done
done

# Which libev does a build load? "debian" when it is the system's libev.so.4.
sys_libev=$(readlink -f "$(cc -print-file-name=libev.so 2>/dev/null)" 2>/dev/null || true)
libev_of() {
  local so; so=$(ldd "$1/pgagroal" | awk '/libev\.so/ { print $3 }')
  if [ -z "$so" ]; then echo "static"
  elif [ -n "$sys_libev" ] && [ "$(readlink -f "$so")" = "$sys_libev" ]; then echo "debian"
  else echo "$so"; fi
}

# --- users ---------------------------------------------------------------------------------------
if [ "$(id -u)" = 0 ]; then
  id "$runas" >/dev/null 2>&1 || die "user $runas does not exist (install postgresql-15)"
  as() { runuser -u "$runas" -- "$@"; }
  run_uid=$(id -u "$runas")
else
  as() { "$@"; }
  runas=$(id -un); run_uid=$(id -u)
fi
for b in "${builds[@]}"; do
  as test -x "$b/pgagroal" || die "$runas cannot execute $b/pgagroal (directory permissions)"
done

if [ -z "${PGBIN:-}" ]; then
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$PGBIN" ] || PGBIN=$(pg_config --bindir)
fi
for t in initdb pg_ctl pgbench psql createdb; do [ -x "$PGBIN/$t" ] || die "no $PGBIN/$t"; done

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
port_listening() { [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }
listen_ino() { ss -Hltne "sport = :$1" 2>/dev/null | grep -o 'ino:[0-9]*' | head -n 1 || true; }

# --- run directory and cleanup ------------------------------------------------------------------
RUN=$(mktemp -d "${TMPDIR:-/tmp}/evring-e2e.XXXXXX")
chmod 755 "$RUN"
[ "$(id -u)" = 0 ] && chown "$runas" "$RUN"
A=$RUN/agroal
as mkdir -p "$A" "$RUN/out"
PGDATA=$RUN/data
pg_port=$(free_port)
agroal_pid=
agroal_wrapper=
created_master_key=0
master_key_file=$(getent passwd "$runas" | cut -d: -f6)/.pgagroal/master.key

stop_agroal_hard() {
  if [ -n "$agroal_pid" ] && kill -0 "$agroal_pid" 2>/dev/null; then
    [ -z "${agroal_main:-}" ] || kill -TERM "$agroal_main" 2>/dev/null || true
    kill -TERM "$agroal_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$agroal_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$agroal_pid" 2>/dev/null || true
  fi
  if [ -n "$agroal_wrapper" ]; then wait "$agroal_wrapper" 2>/dev/null || true; fi
  agroal_pid=; agroal_wrapper=; agroal_main=
}
acct_stop() { :; }
bg_jobs=
cleanup() {
  local rc=$?
  set +e
  [ -z "$bg_jobs" ] || kill $bg_jobs 2>/dev/null
  stop_agroal_hard
  acct_stop
  if [ -f "$PGDATA/postmaster.pid" ]; then
    as timeout 60 "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 ||
      as timeout 30 "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1
  fi
  if [ $created_master_key = 1 ]; then rm -f "$master_key_file"; fi
  if port_listening "$pg_port"; then echo "e2e.sh: WARNING: port $pg_port still listening"; rc=1; fi
  if [ "$keep" = 1 ]; then echo "e2e.sh: kept $RUN"; else rm -rf "$RUN"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# --- PostgreSQL ------------------------------------------------------------------------------------
log "PostgreSQL ($PGBIN) on 127.0.0.1:$pg_port, data in $PGDATA"
as timeout 120 "$PGBIN/initdb" -D "$PGDATA" -U postgres -A trust --no-sync -E UTF8 >"$RUN/initdb.log" 2>&1 ||
  { cat "$RUN/initdb.log"; die "initdb failed"; }
as timeout 60 "$PGBIN/pg_ctl" -D "$PGDATA" -l "$RUN/postgres.log" -w -t 50 \
  -o "-p $pg_port -k $RUN -c listen_addresses=127.0.0.1 -c max_connections=100 -c shared_buffers=128MB -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
  start >/dev/null || { cat "$RUN/postgres.log"; die "PostgreSQL did not start"; }
pgb() { as env PGPASSWORD="$password" timeout "$1" "$PGBIN/pgbench" "${@:2}"; }
as timeout 30 "$PGBIN/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres pgbench
log "pgbench -i -s $scale (directly against PostgreSQL)"
password=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
pgb 600 -i -q -s "$scale" -h 127.0.0.1 -p "$pg_port" -U postgres pgbench >"$RUN/out/init.log" 2>&1 ||
  { cat "$RUN/out/init.log"; die "pgbench -i failed"; }
pass

# --- pgagroal users (master key + users file) --------------------------------------------------
admin=${builds[0]}/pgagroal-admin
if ! as test -f "$master_key_file"; then
  as "$admin" -P "$(python3 -c 'import secrets; print(secrets.token_hex(16))')" master-key >/dev/null ||
    die "pgagroal-admin master-key failed"
  created_master_key=1
fi
as "$admin" -f "$A/pgagroal_users.conf" -U postgres -P "$password" user add >/dev/null ||
  die "pgagroal-admin user add failed"
echo "host all all all all" | as tee "$A/pgagroal_hba.conf" >/dev/null
if [ "$growth" = 1 ]; then
  # Growing pool: starts with pool_min connections, grows to pool_max on demand, and the
  # idle_timeout child closes connections idle for idle_timeout s (checked every
  # max(idle_timeout/2, 5) s), so it shrinks between bursts and grows again.
  pool=$pool_max; cfg_idle=$idle_timeout; cfg_blocking=10
  [ "$pool_min" -lt "$pool_max" ] || die "--pool-min must be below --pool-max"
  echo "pgbench postgres $pool_max $pool_min $pool_min" | as tee "$A/pgagroal_databases.conf" >/dev/null
else
  # Fixed-size pool, prefilled before any client runs (pgagroal.md section 7.1).
  pool=$(( clients * 2 )); [ $pool -ge 4 ] || pool=4
  cfg_idle=0; cfg_blocking=0
  echo "pgbench postgres $pool $pool $pool" | as tee "$A/pgagroal_databases.conf" >/dev/null
fi

# --- pgagroal lifecycle ----------------------------------------------------------------------------
cli() { as timeout 20 "$bin/pgagroal-cli" -c "$A/pgagroal.conf" "$@"; }

# start_agroal BIN PIPELINE BACKEND -> sets agroal_pid, agroal_port; returns 1 on failure
start_agroal() {
  bin=$1; local pipeline=$2 backend=$3
  agroal_port=$(free_port)
  as tee "$A/pgagroal.conf" >/dev/null <<EOF
[pgagroal]
host = 127.0.0.1
port = $agroal_port
unix_socket_dir = $A
log_type = file
log_path = $A/pgagroal.log
log_level = debug1
max_connections = $pool
idle_timeout = $cfg_idle
blocking_timeout = $cfg_blocking
validation = off
allow_unknown_users = false
pipeline = $pipeline
libev = $backend

[primary]
host = 127.0.0.1
port = $pg_port
EOF
  as rm -f "$A/pgagroal.log" "$A/pid"
  local wrap=
  if [ "$strace_count" = 1 ]; then
    # --syscalls: a summary (strace -c) of every pgagroal process, written at exit.
    wrap="strace -f -qq -c -o $strace_out"
  elif [ "$use_strace" = 1 ]; then
    # -f: every worker; the trace file names each line's pid. Only the fd-relevant calls.
    strace_out=$RUN/out/${cell//\//-}-$(basename "$(dirname "$bin")").strace
    wrap="strace -f -qq -tt -e signal=none -o $strace_out -e trace=socket,connect,accept,accept4,close,read,write,recvfrom,sendto,recvmsg,sendmsg,epoll_create1,epoll_ctl,epoll_wait,epoll_pwait,poll,ppoll,io_uring_setup,io_uring_enter,eventfd2,signalfd4,timerfd_create,dup,dup2,dup3,fcntl,fork,clone,clone3,exit_group"
  fi
  as sh -c 'echo $$ > "$1/pid"; exec $3 "$2/pgagroal" -c "$1/pgagroal.conf" -a "$1/pgagroal_hba.conf" \
      -u "$1/pgagroal_users.conf" -l "$1/pgagroal_databases.conf" >"$1/stdout.log" 2>&1' sh "$A" "$bin" "$wrap" &
  agroal_wrapper=$!
  for _ in $(seq 100); do [ -s "$A/pid" ] && break; sleep 0.05; done
  agroal_pid=$(cat "$A/pid" 2>/dev/null || true)
  agroal_main=$agroal_pid   # the pgagroal main process (under strace: strace's child)
  if [ -n "$wrap" ]; then
    for _ in $(seq 100); do
      agroal_main=$(ps -o pid= --ppid "$agroal_pid" 2>/dev/null | head -n 1 | tr -d ' ' || true)
      [ -n "$agroal_main" ] && break; sleep 0.05
    done
  fi
  for _ in $(seq 150); do
    grep -q "started on" "$A/pgagroal.log" 2>/dev/null && break
    if ! kill -0 "$agroal_pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  if ! grep -q "started on" "$A/pgagroal.log" 2>/dev/null; then
    fail "$cell: pgagroal did not start"; cat "$A/stdout.log" "$A/pgagroal.log" 2>/dev/null | tail -n 20
    stop_agroal_hard; return 1
  fi
  if [ "$growth" = 1 ]; then
    cli conf set log_level info >/dev/null 2>&1 || fail "$cell: pgagroal-cli conf set log_level info"
    return 0
  fi
  # Wait until the prefill has opened the whole pool (a pool that grows later can make
  # workers lose fds, pgagroal.md section 7.1).
  local n=0
  for _ in $(seq 100); do
    n=$(cli status 2>/dev/null | sed -n 's/^Total connections: *\([0-9]*\).*/\1/p')
    n=${n:--1}
    [ "$n" -ge "$pool" ] 2>/dev/null && break
    sleep 0.1
  done
  if [ "$n" -lt "$pool" ] 2>/dev/null; then fail "$cell: pool not prefilled ($n of $pool)"; fi
  cli conf set log_level info >/dev/null 2>&1 || fail "$cell: pgagroal-cli conf set log_level info"
  return 0
}

# Z-state children of pgagroal; libev's SIGCHLD watcher must reap them (pgagroal.md section 0.2).
zombies() { ps -o stat= --ppid "$agroal_pid" 2>/dev/null | grep -c '^Z' || true; }
check_zombies() {
  local z=0
  for _ in $(seq 30); do z=$(zombies); [ "$z" = 0 ] && break; sleep 0.1; done
  if [ "$z" = 0 ]; then pass; else fail "$cell: $z zombie children of pgagroal after $1"; fi
}

results=()   # "pipeline backend build workload xacts tps lat failed aborted"
# run_bench BUILDNAME WORKLOAD PGBENCH-ARGS...
run_bench() {
  local bname=$1 workload=$2; shift 2
  local out=$RUN/out/${cell//\//-}-$bname-$workload.$((++benchno)).log
  local rc=0
  pgb $((duration + 90)) -n -h 127.0.0.1 -p "$agroal_port" -U postgres "$@" pgbench >"$out" 2>&1 || rc=$?
  bench_eval "$bname" "$workload" "$out" "$rc"
}
# bench_eval BUILDNAME WORKLOAD OUTFILE RC: record and check one pgbench run's output
bench_eval() {
  local bname=$1 workload=$2 out=$3 rc=$4
  local xacts tps lat failed aborted
  xacts=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
  tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$out" | head -n 1)
  lat=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' "$out")
  failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out")
  aborted=$(grep -c 'client [0-9]* aborted' "$out" || true)
  results+=("${cell%%/*} ${cell##*/} $bname $workload ${xacts:--} ${tps:--} ${lat:--} ${failed:--} $aborted")
  last_tps=${tps:-0}
  last_xacts=${xacts:-0}
  printf '  %-10s %-11s xacts=%-8s tps=%-10s lat=%-7s failed=%s aborted=%s rc=%s\n' \
    "$bname" "$workload" "${xacts:--}" "${tps:--}" "${lat:--}" "${failed:--}" "$aborted" "$rc"
  if [ "$rc" = 0 ] && [ "${failed:-x}" = 0 ] && [ "$aborted" = 0 ] && [ "${xacts:-0}" -gt 0 ]; then
    pass
  else
    fail "$cell $bname $workload: pgbench rc=$rc failed=${failed:-?} aborted=$aborted (see below)"
    grep -v '^pgbench (' "$out" | grep -iE 'error|abort|fatal' | head -n 5 | sed 's/^/    /'
  fi
  check_zombies "$workload"
}

# Lines at level ERROR or FATAL (log line: "<date> <time> <LEVEL> file:line message").
check_log() {
  local bad
  bad=$(awk '$3 == "ERROR" || $3 == "FATAL"' "$A/pgagroal.log" 2>/dev/null || true)
  if [ -z "$bad" ]; then pass; else
    fail "$cell: ERROR/FATAL lines in pgagroal.log"; echo "$bad" | head -n 10 | sed 's/^/    /'
  fi
  awk '$3 == "WARN"' "$A/pgagroal.log" 2>/dev/null | sort -u -k4 | head -n 5 | sed 's/^/    note: /' || true
  as cp "$A/pgagroal.log" "$RUN/out/${cell//\//-}.pgagroal.log" 2>/dev/null || true
}

check_engine() { # the engine pgagroal logged at debug level
  local want=$1 got
  got=$(sed -n 's/.*libev engine: \([A-Za-z_]*\).*/\1/p' "$A/pgagroal.log" | head -n 1)
  engine_of[$cell]=${got:-?}
  case $want in
    auto) if [ -n "$got" ] && [ "$got" != Unknown ]; then pass; else fail "$cell: no engine logged (got '${got}')"; fi ;;
    iouring) if [ "$got" = io_uring ] || [ "$got" = iouring ]; then pass; else fail "$cell: engine '$got', wanted $want"; fi ;;
    *) if [ "$got" = "$want" ]; then pass; else fail "$cell: engine '$got', wanted $want"; fi ;;
  esac
}

# stop_agroal HOW (graceful|immediate|term): must exit, leave nothing behind, free its port
stop_agroal() {
  local how=$1
  case $how in
    graceful) cli shutdown gracefully >/dev/null 2>&1 || fail "$cell: pgagroal-cli shutdown gracefully" ;;
    immediate) cli shutdown immediate >/dev/null 2>&1 || fail "$cell: pgagroal-cli shutdown immediate" ;;
    term) kill -TERM "${agroal_main:-$agroal_pid}" ;;
  esac
  for _ in $(seq 150); do kill -0 "$agroal_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$agroal_pid" 2>/dev/null; then
    fail "$cell: pgagroal still running 15 s after $how shutdown"; stop_agroal_hard
  else
    pass
  fi
  wait "$agroal_wrapper" 2>/dev/null || true
  agroal_pid=; agroal_wrapper=; agroal_main=
  # Leftover processes of the run user that are not PostgreSQL's (the postmaster and its
  # children) and did not exist before pgagroal started.
  local pm left
  pm=$(head -n 1 "$PGDATA/postmaster.pid")
  for _ in $(seq 50); do
    left=$(ps -u "$run_uid" -o pid=,ppid=,stat=,args= | awk -v pm="$pm" -v b="$before_pids" '
      BEGIN { n = split(b, a, " "); for (i = 1; i <= n; i++) old[a[i]] = 1 }
      !($1 in old) && $1 != pm && $2 != pm && $4 !~ /^ps$/ && $4 !~ /awk/ { print }' | not_other_runs)
    [ -z "$left" ] && break
    sleep 0.1
  done
  if [ -z "$left" ]; then pass; else fail "$cell: processes left after shutdown:"; echo "$left" | sed 's/^/    /'; fi
  if port_listening "$agroal_port"; then fail "$cell: port $agroal_port still listening"; else pass; fi
}

# Drop processes that belong to other runs on the same machine (another e2e.sh, e.g. from
# another checkout): PostgreSQL processes (ours are the postmaster and its children, already
# excluded) and pgagroal processes of a pgagroal binary other than the one under test.
not_other_runs() {
  local pid rest exe pg
  pg=$(readlink -f "$PGBIN/postgres")
  while read -r pid rest; do
    exe=$(readlink -f "/proc/$pid/exe" 2>/dev/null || true)
    [ -n "$exe" ] && [ "$exe" = "$pg" ] && continue
    case $exe in */pgagroal) [ "$exe" = "$(readlink -f "$bin/pgagroal")" ] || continue ;; esac
    echo "$pid $rest"
  done
}
json_details() { local j; j=$(cli -F json status details) && printf '%s' "$j" | python3 -m json.tool >/dev/null; }
snapshot_pids() { before_pids=$(ps -u "$run_uid" -o pid= | tr -s ' \n' ' '); }

# --- growth/churn mode ---------------------------------------------------------------------------
# Process accounting (acct(2), root only): the kernel writes one record per exiting process with
# its parent pid and wait status, so workers killed by a signal are counted exactly even though
# pgagroal's loop reaps them silently. acct_ctl on FILE | off; acct_scan FILE PPID.
acct_ctl() {
  python3 - "$@" <<'PY'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
arg = sys.argv[2].encode() if sys.argv[1] == "on" else None
if libc.acct(arg) != 0:
    sys.exit("acct: " + os.strerror(ctypes.get_errno()))
PY
}
acct_scan() { # prints: exits killed_by_signal signal_names nonzero_exit_codes
  python3 - "$@" <<'PY'
import signal, struct, sys, collections
path, ppid = sys.argv[1], int(sys.argv[2])
data = open(path, "rb").read()
exits = killed = 0
sigs = collections.Counter(); codes = collections.Counter()
for off in range(0, len(data) - 63, 64):      # struct acct_v3: 64 bytes
    rec = data[off:off + 64]
    if rec[1] != 3:
        continue
    status, = struct.unpack_from("<I", rec, 4)       # ac_exitcode: the wait status
    pid, pp = struct.unpack_from("<II", rec, 16)     # ac_pid, ac_ppid
    comm = rec[48:64].split(b"\0")[0].decode(errors="replace")
    if pp != ppid or not comm.startswith("pgagroal"):
        continue
    exits += 1
    if status & 0x7f:
        killed += 1
        try: sigs[signal.Signals(status & 0x7f).name] += 1
        except ValueError: sigs[str(status & 0x7f)] += 1
    elif (status >> 8) & 0xff:
        codes[(status >> 8) & 0xff] += 1
fmt = lambda c: ",".join("%s:%d" % kv for kv in sorted(c.items())) or "-"
print(exits, killed, fmt(sigs), fmt(codes))
PY
}
acct_file=
if [ "$growth" = 1 ] && [ "$use_acct" = 1 ] && [ "$(id -u)" = 0 ]; then
  acct_file=$RUN/out/acct
  : >"$acct_file"
  if acct_ctl on "$acct_file"; then
    acct_stop() { acct_ctl off 2>/dev/null || true; }
  else
    acct_file=
  fi
fi
[ "$growth" = 1 ] && [ -z "$acct_file" ] &&
  log "note: no process accounting (needs root): worker deaths are counted from stderr only"

# Lines on pgagroal's stderr (all processes share it) that come from the event loop itself:
# libev's assertions and syserr aborts ("(libev) epoll_wait: Bad file descriptor",
# "libev: I/O watcher with invalid fd found in epoll_ctl", "poll found invalid fd"), and
# evring's fatal messages ("evring: ...").
loop_msg_re='\(libev\)|libev: |Assertion .* failed|(^|[^a-z])evring: '

growth_rows=()   # "pipeline backend build round launched xacts aborted failed exits killed sigs exitcodes loopmsgs errlines poolmin poolmax downs ups badfd stuck stalled"
# growth_cell BIN BUILDNAME PIPELINE BACKEND ROUND
growth_cell() {
  local gbin=$1 bname=$2 pipeline=$3 backend=$4 round=$5
  local tag=${cell//\//-}-$bname-r$round
  local reference=0
  [ "$(libev_of "$gbin")" = debian ] && reference=1
  ref_mode=$reference
  snapshot_pids
  start_agroal "$gbin" "$pipeline" "$backend" || return 0
  check_engine "$backend"
  local main=$agroal_main stop=$RUN/out/$tag.stop
  # pool size every second (pgagroal-cli status: "Total connections")
  ( while [ ! -e "$stop" ]; do
      cli status 2>/dev/null | sed -n 's/^Total connections: *\([0-9]*\).*/\1/p' || true; sleep 1
    done >"$RUN/out/$tag.pool" ) &
  local sampler=$!
  bg_jobs="$sampler"
  # bursts: every cycle, 6 s of only the base load, then 3 s of $burst more -C clients; the pool
  # grows for the burst and the idle_timeout child shrinks it again afterwards
  ( i=0
    while [ ! -e "$stop" ]; do
      for _ in 1 2 3 4 5 6; do [ -e "$stop" ] && exit 0; sleep 1; done
      rc=0
      pgb 33 -n -h 127.0.0.1 -p "$agroal_port" -U postgres -C -S -c "$burst" -j 2 -T 3 pgbench \
        >"$RUN/out/$tag.burst.$i.log" 2>&1 || rc=$?
      echo "$rc" >"$RUN/out/$tag.burst.$i.rc"
      i=$((i + 1))
    done ) &
  local burster=$!
  bg_jobs="$sampler $burster"
  local out=$RUN/out/$tag.main.log rc=0 main_rc
  pgb $((duration + 30)) -n -h 127.0.0.1 -p "$agroal_port" -U postgres -C -S -c "$clients" -j 2 \
    -T "$duration" pgbench >"$out" 2>&1 || rc=$?
  echo "$rc" >"$out.rc"; main_rc=$rc
  as touch "$stop"
  wait "$burster" "$sampler" 2>/dev/null || true
  bg_jobs=
  local alive=1; kill -0 "$main" 2>/dev/null || alive=0
  # Every pgbench has ended (on its own, or killed by its timeout: a -T 3 burst is given 33 s,
  # the main run duration + 30 s), so every client connection is closed. A worker sees its
  # client's EOF and exits; workers still there 5 s later are stuck: their loop does not
  # report the client's socket any more.
  local stuck=0 stalled=0
  for _ in $(seq 50); do
    stuck=$(ps -o args= --ppid "$main" 2>/dev/null | grep -c '^pgagroal: .*@' || true)
    [ "$stuck" = 0 ] && break; sleep 0.1
  done
  if [ "$stuck" != 0 ]; then
    ps -o pid=,etimes=,wchan:20=,args= --ppid "$main" | grep 'pgagroal: .*@' | head -n 3 | sed 's/^/    stuck worker: /'
  fi
  for f in "$out.rc" "$RUN/out/$tag".burst.*.rc; do
    [ -f "$f" ] && [ "$(cat "$f")" = 124 ] && stalled=$((stalled + 1))
  done
  stop_agroal term
  # --- count
  local nburst xacts=0 aborted=0 failed=0 x f
  nburst=$({ ls "$RUN/out/$tag".burst.*.log 2>/dev/null || true; } | wc -l)
  local launched=$(( clients + nburst * burst ))
  for f in "$out" "$RUN/out/$tag".burst.*.log; do
    [ -f "$f" ] || continue
    x=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$f"); xacts=$((xacts + ${x:-0}))
    x=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$f"); failed=$((failed + ${x:-0}))
    x=$(grep -c 'client [0-9]* aborted' "$f" || true); aborted=$((aborted + x))
  done
  local exits=- killed=- sigs=- codes=-
  if [ -n "$acct_file" ]; then
    read -r exits killed sigs codes < <(acct_scan "$acct_file" "$main") || fail "$cell $bname: cannot read $acct_file"
  fi
  local loopmsgs errlines badfd
  loopmsgs=$(grep -cE "$loop_msg_re" "$A/stdout.log" 2>/dev/null || true)
  badfd=$(grep -c 'Server error' "$A/pgagroal.log" 2>/dev/null || true)
  errlines=$({ awk '$3 == "ERROR" || $3 == "FATAL"' "$A/pgagroal.log" 2>/dev/null || true; } | wc -l)
  as cp "$A/pgagroal.log" "$RUN/out/$tag.pgagroal.log" 2>/dev/null || true
  as cp "$A/stdout.log" "$RUN/out/$tag.stderr.log" 2>/dev/null || true
  local pool_stats
  pool_stats=$(awk 'NR == 1 { mn = mx = $1 } { if ($1 < mn) mn = $1; if ($1 > mx) mx = $1;
      if (NR > 1 && $1 < p) d++; if (NR > 1 && $1 > p) u++; p = $1 }
      END { printf "%d %d %d %d", mn, mx, d, u }' "$RUN/out/$tag.pool")
  growth_rows+=("$pipeline $backend $bname $round $launched $xacts $aborted $failed $exits $killed $sigs $codes $loopmsgs $errlines $pool_stats $badfd $stuck $stalled")
  printf '  %-10s clients=%s aborted=%s failed=%s xacts=%s | workers: exits=%s killed=%s (%s) exit codes %s | loop msgs=%s | stuck workers=%s, pgbench runs stalled=%s | log: ERROR=%s "Server error"=%s | pool min/max/downs/ups=%s\n' \
    "$bname" "$launched" "$aborted" "$failed" "$xacts" "$exits" "$killed" "$sigs" "$codes" "$loopmsgs" "$stuck" "$stalled" "$errlines" "$badfd" "$pool_stats"
  { grep -hE "$loop_msg_re" "$A/stdout.log" 2>/dev/null || true; } | sort | uniq -c | sort -rn | head -n 3 | sed 's/^/    stderr: /'
  { grep -h 'aborted' "$out" "$RUN/out/$tag".burst.*.log 2>/dev/null || true; } | sed 's/client [0-9]*/client N/' | sort | uniq -c | head -n 3 | sed 's/^/    pgbench: /'
  { grep -h 'Server error' "$A/pgagroal.log" 2>/dev/null || true; } | cut -d' ' -f3- | sed 's/slot [0-9]*/slot N/; s/socket [0-9]*/socket N/' | sort | uniq -c | sort -rn | head -n 2 | sed 's/^/    pgagroal.log: /'
  # --- checks: pgagroal must survive and serve; on evring the loop must never fail
  if [ "$alive" = 1 ]; then pass; else fail "$cell $bname: pgagroal main process died during the run"; fi
  # a pgbench killed by its watchdog prints no totals: judge it as stalled, not by its count
  if [ "$main_rc" = 124 ]; then fail "$cell $bname: the main pgbench run stalled (killed by its watchdog)"
  elif [ "$xacts" -gt 0 ]; then pass; else fail "$cell $bname: no transaction went through"; fi
  ref_mode=0
  if [ "$reference" = 1 ]; then
    return 0   # Debian's libev: the reference, counted, not judged
  fi
  if [ "$loopmsgs" = 0 ] && [ "$stuck" = 0 ] && [ "$killed" = 0 -o "$killed" = - ]; then pass; else
    fail "$cell $bname: event-loop failures: $loopmsgs loop messages, $killed workers killed by a signal ($sigs), $stuck stuck workers"
  fi
  if [ "$use_strace" = 1 ]; then
    python3 "$here/badfd.py" "$strace_out" || true
  fi
}

growth_main() {
  local names=() k b
  for b in "${builds[@]}"; do
    case $(libev_of "$b") in static) names+=(evring-st) ;; debian) names+=(libev) ;; *) names+=(evring-sh) ;; esac
  done
  [ "${#names[@]}" = 1 ] || [ "${names[0]}" != "${names[1]}" ] || names=(A B)
  log "growth/churn: pool min $pool_min max $pool_max, idle_timeout ${idle_timeout}s; pgbench -C -S: $clients clients for ${duration}s plus bursts of $burst clients (3 s every 9 s); $rounds round(s)"
  for b in "${!builds[@]}"; do log "build ${names[$b]}: ${builds[$b]} (libev: $(libev_of "${builds[$b]}"))"; done
  for pipeline in $pipelines; do
    for backend in $backends; do
      cell=$pipeline/$backend
      log "== $cell (growth)"
      for r in $(seq "$rounds"); do
        if [ $((r % 2)) = 1 ]; then order=$(seq 0 $((${#builds[@]} - 1))); else order=$(seq $((${#builds[@]} - 1)) -1 0); fi
        for k in $order; do growth_cell "${builds[$k]}" "${names[$k]}" "$pipeline" "$backend" "$r"; done
      done
    done
  done
  echo
  echo "Growth/churn summary ($(date -u '+%Y-%m-%d %H:%M UTC'); pool min $pool_min max $pool_max, idle_timeout ${idle_timeout}s, ${duration}s pgbench -C -S x $clients + bursts of $burst, $rounds round(s)):"
  echo "  clients = pgbench clients started; aborted = clients that pgbench aborted (each ends that client);"
  echo "  killed = pgagroal workers killed by a signal (process accounting); loopmsg = event-loop messages on stderr;"
  echo "  stuck = workers still running 5 s after every pgbench ended (their loop stopped reporting the client socket);"
  echo "  stalled = pgbench runs killed by their timeout (a client waited for an answer that never came);"
  echo "  loopfail = runs with a loop message, a killed worker or a stuck worker; srverr = pgagroal.log 'Server error' lines (a worker lost its server socket: EBADF, ENOTCONN);"
  echo "  pool = smallest-largest pool size sampled, shrinks = times the sampled size went down"
  printf '%-12s %-8s %-10s %4s %7s %8s %7s %7s %6s %-14s %7s %5s %7s %6s %8s %6s %7s\n' \
    pipeline backend build runs clients xacts aborted abort% killed signals loopmsg stuck stalled srverr loopfail pool shrinks
  python3 - "${growth_rows[@]}" <<'PY'
import sys, collections
agg = collections.OrderedDict()
for row in sys.argv[1:]:
    f = row.split()
    key = tuple(f[0:3])
    a = agg.setdefault(key, dict(runs=0, launched=0, xacts=0, aborted=0, killed=0, sigs=collections.Counter(),
                                 loop=0, err=0, loopfail=0, pmin=None, pmax=0, acct=True, downs=0, badfd=0, stuck=0, stalled=0))
    a["runs"] += 1
    a["launched"] += int(f[4]); a["xacts"] += int(f[5]); a["aborted"] += int(f[6])
    if f[9] == "-": a["acct"] = False
    else: a["killed"] += int(f[9])
    if f[10] != "-":
        for kv in f[10].split(","):
            n, c = kv.split(":"); a["sigs"][n] += int(c)
    a["loop"] += int(f[12]); a["err"] += int(f[13]); a["downs"] += int(f[16]); a["badfd"] += int(f[18])
    a["stuck"] += int(f[19]); a["stalled"] += int(f[20])
    if int(f[12]) > 0 or int(f[19]) > 0 or (f[9] != "-" and int(f[9]) > 0): a["loopfail"] += 1
    pmn, pmx = int(f[14]), int(f[15])
    a["pmin"] = pmn if a["pmin"] is None else min(a["pmin"], pmn); a["pmax"] = max(a["pmax"], pmx)
for (p, b, n), a in agg.items():
    pct = 100.0 * a["aborted"] / a["launched"] if a["launched"] else 0.0
    sigs = ",".join("%s:%d" % kv for kv in sorted(a["sigs"].items())) or "-"
    print("%-12s %-8s %-10s %4d %7d %8d %7d %6.1f%% %6s %-14s %7d %5d %7d %6d %5d/%-2d %6s %7d" % (
        p, b, n, a["runs"], a["launched"], a["xacts"], a["aborted"], pct,
        a["killed"] if a["acct"] else "-", sigs, a["loop"], a["stuck"], a["stalled"], a["badfd"], a["loopfail"], a["runs"],
        "%d-%d" % (a["pmin"], a["pmax"]), a["downs"]))
PY
}

declare -A engine_of=()
benchno=0
first_backend=${backends%% *}
cellno=0
# ---------------------------------------------------------------------------------------------------
if [ "$growth" = 1 ]; then
  growth_main
elif [ $compare = 0 ]; then
  log "pgagroal build: $bin_a (libev: $(libev_of "$bin_a")); ${duration}s per run; $clients clients; pool $pool"
  bname=$(libev_of "$bin_a"); case $bname in static) bname=evring-st ;; debian) bname=libev ;; *) bname=evring-sh ;; esac
  for pipeline in $pipelines; do
    for backend in $backends; do
      cell=$pipeline/$backend; cellno=$((cellno + 1))
      log "== $cell"
      snapshot_pids
      start_agroal "$bin_a" "$pipeline" "$backend" || continue
      check_engine "$backend"
      run_bench "$bname" select-only -S -c "$clients" -j 2 -T "$duration"
      run_bench "$bname" tpcb -c "$clients" -j 2 -T "$duration"
      if [ "$backend" = "$first_backend" ]; then
        run_bench "$bname" connect-S -C -S -c "$clients" -j 2 -T "$duration"
      fi
      # pgagroal-cli
      check "$cell: pgagroal-cli ping" cli ping
      check "$cell: pgagroal-cli status" cli status
      cli status details >"$RUN/out/${cell//\//-}-details.txt" 2>&1 || true   # exits 1 in 1.6.0 (pgagroal.md 7.3)
      if grep -q "Active connections" "$RUN/out/${cell//\//-}-details.txt" 2>/dev/null; then pass; else fail "$cell: status details printed nothing useful"; fi
      check "$cell: pgagroal-cli -F json status details" json_details
      # SIGHUP reload in the middle of a pgbench run: pgagroal stops its listening watchers,
      # closes the sockets and binds the same ports again, while workers keep serving the
      # clients already connected. Then new connections must be accepted on the new sockets.
      if [ "$backend" = iouring ] && [ "$(libev_of "$bin_a")" = debian ] && [ "$strict" != 1 ]; then
        skip "$cell: SIGHUP reload (Debian libev io_uring cannot re-bind, pgagroal.md 7.2)"
      else
        hup_out=$RUN/out/${cell//\//-}-$bname-during-reload.$((++benchno)).log
        hup_s=$(( duration < 4 ? 4 : duration ))
        ( rc=0; pgb $((hup_s + 90)) -n -h 127.0.0.1 -p "$agroal_port" -U postgres \
            -S -c "$clients" -j 2 -T "$hup_s" pgbench >"$hup_out" 2>&1 || rc=$?; echo $rc >"$hup_out.rc" ) &
        hup_bench=$!
        sleep $(( hup_s / 2 ))
        ino_before=$(listen_ino "$agroal_port")
        kill -HUP "$agroal_pid"
        # the reload re-binds: the listening socket on the port is a new one (new inode). In
        # between, for a moment, nothing listens (old socket closed, new one not yet bound):
        # keep looking until a listening socket with another inode shows up.
        ino_after=$ino_before
        for _ in $(seq 50); do
          ino_after=$(listen_ino "$agroal_port")
          [ -n "$ino_after" ] && [ "$ino_after" != "$ino_before" ] && break
          sleep 0.1
        done
        if [ -n "$ino_after" ] && [ "$ino_after" != "$ino_before" ]; then pass; else
          fail "$cell: SIGHUP did not re-bind port $agroal_port (listening socket $ino_before -> '$ino_after')"
        fi
        wait "$hup_bench" || true
        bench_eval "$bname" during-reload "$hup_out" "$(cat "$hup_out.rc")"
        if kill -0 "$agroal_pid" 2>/dev/null && cli ping >/dev/null 2>&1 &&
           port_listening "$agroal_port"; then
          pass
          run_bench "$bname" after-reload -S -C -c 2 -j 1 -t 200
        else
          fail "$cell: pgagroal died or stopped answering after SIGHUP"
          tail -n 5 "$A/pgagroal.log" | sed 's/^/    /'
        fi
      fi
      if kill -0 "$agroal_pid" 2>/dev/null; then
        check "$cell: pgagroal-cli flush" cli flush all
        sleep 0.5
        check "$cell: pgagroal-cli ping after flush" cli ping
        check_zombies flush
        if [ $((cellno % 2)) = 1 ]; then stop_agroal graceful; else stop_agroal immediate; fi
      else
        stop_agroal_hard
      fi
      check_log
    done
  done

  echo
  echo "Summary ($(basename "$(dirname "$bin_a")"), ${duration}s runs, $clients clients, scale $scale):"
  printf '%-12s %-8s %-9s %-12s %9s %11s %9s %7s %7s\n' pipeline backend engine workload xacts tps lat_ms failed aborted
  for r in "${results[@]}"; do
    set -- $r
    printf '%-12s %-8s %-9s %-12s %9s %11s %9s %7s %7s\n' "$1" "$2" "${engine_of[$1/$2]:-?}" "$4" "$5" "$6" "$7" "$8" "$9"
  done
else
  # ---------------------------------------------------------------- comparison mode
  log "comparison: A=$name_a ($bin_a, libev: $(libev_of "$bin_a")) B=$name_b ($bin_b, libev: $(libev_of "$bin_b"))"
  log "${duration}s select-only runs, $rounds rounds, alternating A/B"
  declare -A tps_runs=() tps_c_runs=() sys_runs=() prof_runs=()
  for pipeline in $pipelines; do
    for backend in $backends; do
      cell=$pipeline/$backend
      log "== $cell"
      for r in $(seq "$rounds"); do
        if [ $((r % 2)) = 1 ]; then order="0 1"; else order="1 0"; fi
        for k in $order; do
          b=${builds[$k]}; if [ $k = 0 ]; then bname=$name_a; else bname=$name_b; fi
          snapshot_pids
          start_agroal "$b" "$pipeline" "$backend" || continue
          check_engine "$backend"
          run_bench "$bname" select-only -S -c "$clients" -j 2 -T "$duration"
          tps_runs[$cell/$k]="${tps_runs[$cell/$k]:-} $last_tps"
          # -C: a new client connection per transaction, so pgagroal forks a worker (fork,
          # ev_loop_new, a few iterations, ev_loop_destroy, exit) per transaction.
          run_bench "$bname" select-only-C -S -C -c "$clients" -j 2 -T "$duration"
          tps_c_runs[$cell/$k]="${tps_c_runs[$cell/$k]:-} $last_tps"
          stop_agroal term
          check_log
        done
      done
      if [ "$count_syscalls" = 1 ]; then
        for k in 0 1; do
          b=${builds[$k]}; if [ $k = 0 ]; then bname=$name_a; else bname=$name_b; fi
          pts=
          for t in 200 1000; do
            strace_out=$RUN/out/${cell//\//-}-$bname-t$t.strace-c
            strace_count=1
            snapshot_pids
            start_agroal "$b" "$pipeline" "$backend" || { strace_count=0; continue; }
            strace_count=0
            run_bench "$bname" "syscalls-t$t" -S -c "$clients" -j 2 -t "$t"
            stop_agroal term
            calls=$(awk '$NF == "total" { print $4 }' "$strace_out" 2>/dev/null || true)
            pts="$pts $t:${calls:-0}"
          done
          sys_runs[$cell/$k]=$pts
          log "   $bname syscalls (per-client transactions:calls):$pts"
        done
      fi
      if [ "$profile" = 1 ]; then
        for k in 0 1; do
          b=${builds[$k]}; if [ $k = 0 ]; then bname=$name_a; else bname=$name_b; fi
          for wl in S C; do
            snapshot_pids
            start_agroal "$b" "$pipeline" "$backend" || continue
            pdata=$RUN/out/${cell//\//-}-$bname-$wl.perf.data
            # sample the middle of the run: start-up and the last second are left out
            ( sleep 1; perf record -q -a -g -e ${E2E_PROFILE_EVENT:-cpu-clock} ${E2E_PROFILE_RATE:--F 999} -o "$pdata" -- \
                sleep $(( duration > 3 ? duration - 2 : 1 )) >/dev/null 2>>"$RUN/out/perf.err" ) &
            prec=$!
            # every pgagroal process (perf stat -p follows the workers it forks): page faults
            # per transaction over the whole run (-S -C: about one worker per transaction).
            # Its task-clock is not reported: it swung 14-104 us per -S transaction between
            # identical runs (workers' counts reach the parent only when they exit)
            pstat=$RUN/out/${cell//\//-}-$bname-$wl.perf-stat
            perf stat -x, -e page-faults -p "$agroal_pid" -o "$pstat" >/dev/null 2>>"$RUN/out/perf.err" &
            pstat_pid=$!
            if [ $wl = S ]; then
              run_bench "$bname" profile -S -c "$clients" -j 2 -T "$duration"
            else
              run_bench "$bname" profile-C -S -C -c "$clients" -j 2 -T "$duration"
            fi
            # a worker's counts are added to its parent's when it exits: let them exit first
            for _ in $(seq 50); do
              [ -z "$(pgrep -P "$agroal_pid" 2>/dev/null)" ] && break
              sleep 0.1
            done
            kill -INT "$pstat_pid" 2>/dev/null || true
            wait "$pstat_pid" || true
            wait "$prec" || true
            stop_agroal term
            pf=$(awk -F, '$3 == "page-faults" { print $1 }' "$pstat" 2>/dev/null || true)
            # (a failed analysis shows as n/a in the table; it must not end the comparison)
            per=$(python3 -c 'import sys
try:
    print("faults_per_xact=%.1f" % (float(sys.argv[1]) / int(sys.argv[2])))
except (ValueError, ZeroDivisionError):
    pass' "${pf:-}" "$last_xacts" || true)
            share=$(python3 "$here/loopshare.py" "$pdata" 2>>"$RUN/out/loopshare.err" | tail -n 1 || true)
            prof_runs[$cell/$k/$wl]="$share $per"
            log "   $bname profile ($wl): ${prof_runs[$cell/$k/$wl]}"
          done
        done
      fi
    done
  done
  # tps_table TITLE ARRAY: median TPS per build and cell of the runs recorded in ARRAY
  tps_table() {
    local -n runs=$2
    echo
    echo "$1"
    printf '%-12s %-8s %12s %12s %8s\n' pipeline backend "$name_a" "$name_b" "A/B"
    for pipeline in $pipelines; do
      for backend in $backends; do
        python3 - "$pipeline" "$backend" "${runs[$pipeline/$backend/0]:-}" "${runs[$pipeline/$backend/1]:-}" <<'EOF'
import statistics, sys
p, b, a, c = sys.argv[1:5]
a = [float(x) for x in a.split() if float(x) > 0]
c = [float(x) for x in c.split() if float(x) > 0]
ma = statistics.median(a) if a else 0.0
mc = statistics.median(c) if c else 0.0
ratio = "%.3f" % (ma / mc) if ma and mc else "n/a"
print("%-12s %-8s %12.1f %12.1f %8s" % (p, b, ma, mc, ratio))
EOF
      done
    done
  }
  tps_table "Comparison (median TPS of $rounds x ${duration}s pgbench -S runs, $clients clients):" tps_runs
  tps_table "Comparison, -C (median TPS of $rounds x ${duration}s pgbench -S -C runs: a new connection per transaction, $clients clients):" tps_c_runs
  if [ "$count_syscalls" = 1 ]; then
    echo
    echo "Syscalls per transaction (all pgagroal processes, strace -f -c; (calls at -t 1000 - calls at -t 200) / ($clients x 800 transactions)):"
    printf '%-12s %-8s %12s %12s %8s\n' pipeline backend "$name_a" "$name_b" "A-B"
    for pipeline in $pipelines; do
      for backend in $backends; do
        python3 - "$pipeline" "$backend" "$clients" "${sys_runs[$pipeline/$backend/0]:-}" "${sys_runs[$pipeline/$backend/1]:-}" <<'EOF'
import sys
p, b, clients, a, c = sys.argv[1:6]
def per_xact(s):
    pts = dict(x.split(":") for x in s.split())
    try:
        lo, hi = int(pts["200"]), int(pts["1000"])
    except (KeyError, ValueError):
        return None
    if lo <= 0 or hi <= lo:
        return None
    return (hi - lo) / (int(clients) * 800)
ra, rc = per_xact(a), per_xact(c)
fmt = lambda x: "%.2f" % x if x is not None else "n/a"
diff = "%+.2f" % (ra - rc) if ra is not None and rc is not None else "n/a"
print("%-12s %-8s %12s %12s %8s" % (p, b, fmt(ra), fmt(rc), diff))
EOF
      done
    done
  fi
fi

if [ "$compare" = 1 ] && [ "$profile" = 1 ]; then
  echo
  echo "Event loop share of the busy CPU (perf record -a, whole machine, ${duration}s pgbench; loopshare.py):"
  printf '%-12s %-8s %-14s %-5s %6s %6s %6s %6s %6s %7s %7s %9s\n' pipeline backend build run idle loop user kernel sched ceiling nowait faults/tx
  for pipeline in $pipelines; do
    for backend in $backends; do
      for k in 0 1; do
        if [ $k = 0 ]; then bname=$name_a; else bname=$name_b; fi
        for wl in S C; do
          set -- ${prof_runs[$pipeline/$backend/$k/$wl]:-}
          declare -A f=()
          for kv in "$@"; do case $kv in *=*) f[${kv%%=*}]=${kv#*=} ;; esac; done
          printf '%-12s %-8s %-14s %-5s %6s %6s %6s %6s %6s %7s %7s %9s\n' "$pipeline" "$backend" "$bname" \
            "$( [ $wl = S ] && echo -S || echo -S-C )" "${f[idle]:-n/a}" "${f[loop]:-n/a}" "${f[loop_user]:-n/a}" "${f[loop_kernel]:-n/a}" "${f[loop_sched]:-n/a}" "${f[ceiling]:-n/a}" "${f[ceiling_nowait]:-n/a}" \
            "${f[faults_per_xact]:-n/a}"
          unset f
        done
      done
    done
  done
fi

echo
if [ $nfail -gt 0 ]; then
  echo "Failed checks:"; for f in "${failures[@]}"; do echo "  - $f"; done
fi
[ "$nref" = 0 ] || echo "($nref notes on the reference build, not counted)"
echo "e2e: $npass passed, $nfail failed, $nskip skipped"
[ $nfail = 0 ]
