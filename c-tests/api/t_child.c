/* evring-test: timeout=30 */
/* ev_child on the default loop: libev reaps every child (watched or not: pgagroal depends on
 * it), pid-specific and pid-0 watchers, rpid/rstatus, priority forced to EV_MAXPRI on delivery,
 * the trace flag (stopped/continued children), a watcher started after the child already
 * exited, 50 children (libev-abi.md §4.10). Prints exit codes and booleans, never pids. */
#include "test.h"

#include <sys/wait.h>
#include <time.h>

static int guard_fired;
static void guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
  (void)loop; (void)w; (void)revents;
  guard_fired = 1;
}

static void step(struct ev_loop *loop, double secs)
{
  ev_timer g;
  ev_timer_init(&g, guard_cb, secs, 0.);
  guard_fired = 0;
  ev_timer_start(loop, &g);
  ev_run(loop, EVRUN_ONCE);
  ev_timer_stop(loop, &g);
}

static void wait_count(struct ev_loop *loop, volatile int *counter, int want)
{
  int i;
  for (i = 0; i < 400 && *counter < want; i++) step(loop, 0.05);
  CHECK_EQ_INT(*counter, want);
}

static void sleep_ms(int ms)
{
  struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) { }
}

static pid_t spawn_exit(int code, int delay_ms)
{
  pid_t pid;
  fflush(stdout);
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    if (delay_ms) sleep_ms(delay_ms);
    _exit(code);
  }
  return pid;
}

/* 1 while `pid` is a zombie or still running, 0 once it has been reaped (pid reuse within the
 * few milliseconds of this test is ignored) */
static int proc_exists(pid_t pid)
{
  char path[64];
  snprintf(path, sizeof path, "/proc/%d", (int)pid);
  return access(path, F_OK) == 0;
}

static const char *status_str(int st)
{
  static char buf[64];
  if (WIFEXITED(st)) snprintf(buf, sizeof buf, "exited(%d)", WEXITSTATUS(st));
  else if (WIFSIGNALED(st)) snprintf(buf, sizeof buf, "killed(%d)", WTERMSIG(st));
  else if (WIFSTOPPED(st)) snprintf(buf, sizeof buf, "stopped(%d)", WSTOPSIG(st));
  else if (WIFCONTINUED(st)) snprintf(buf, sizeof buf, "continued");
  else snprintf(buf, sizeof buf, "status?0x%x", (unsigned)st);
  return buf;
}

/* ---- a child watcher that records what it saw --------------------------------------------------- */

typedef struct {
  ev_child c;
  const char *name;
  pid_t expect;       /* pid expected in rpid (0 = don't check) */
  int calls;
  int bad_pid;
  int last_status;
  int last_prio;
  int last_revents;
  int sum_codes;
  char log[1024];
} nchild;

static void nchild_cb(struct ev_loop *loop, ev_child *w, int revents)
{
  nchild *n = (nchild *)w;
  size_t len = strlen(n->log);
  (void)loop;
  n->calls++;
  n->last_status = w->rstatus;
  n->last_prio = ev_priority(w);
  n->last_revents = revents;
  if (WIFEXITED(w->rstatus)) n->sum_codes += WEXITSTATUS(w->rstatus);
  if (n->expect && w->rpid != n->expect) n->bad_pid++;
  if (w->pid && w->rpid != w->pid) n->bad_pid++;
  snprintf(n->log + len, sizeof n->log - len, " %s", status_str(w->rstatus));
}

static void nchild_init(nchild *n, const char *name, pid_t pid, int trace)
{
  memset(n, 0, sizeof *n);
  ev_child_init(&n->c, nchild_cb, pid, trace);
  n->name = name;
}

/* ---- 1. pid-specific watcher ---------------------------------------------------------------------- */

static void s_specific(struct ev_loop *loop)
{
  nchild a;
  pid_t pid;

  TRACE("1. pid-specific watcher");
  pid = spawn_exit(5, 20);
  nchild_init(&a, "A", pid, 0);
  a.expect = pid;
  ev_set_priority(&a.c, -2);
  ev_child_start(loop, &a.c);
  TRACE("  started: active=%d priority=%d pid-field-matches=%d flags=%d", ev_is_active(&a.c) ? 1 : 0,
        ev_priority(&a.c), a.c.pid == pid, a.c.flags);
  wait_count(loop, &a.calls, 1);
  TRACE("  callback: revents=0x%x rstatus=0x%x %s rpid-ok=%d priority-in-cb=%d (EV_MAXPRI=%d)",
        (unsigned)a.last_revents, (unsigned)a.last_status, status_str(a.last_status),
        a.bad_pid == 0, a.last_prio, EV_MAXPRI);
  TRACE("  after delivery: active=%d (not stopped automatically) priority=%d",
        ev_is_active(&a.c) ? 1 : 0, ev_priority(&a.c));
  step(loop, 0.05);
  TRACE("  no second callback: calls=%d", a.calls);
  ev_child_stop(loop, &a.c);
  TRACE("  stopped: active=%d", ev_is_active(&a.c) ? 1 : 0);
  TRACE("  child gone: %d", !proc_exists(pid));
}

/* ---- 2. child exited before the watcher was started ----------------------------------------------- */

static void s_late_start(struct ev_loop *loop)
{
  nchild a;
  pid_t pid;

  TRACE("2. watcher started after the child exited, before the loop iterated");
  pid = spawn_exit(7, 0);
  sleep_ms(80);    /* the child is a zombie now; SIGCHLD has been noted by libev's handler */
  TRACE("  zombie before the loop ran: %d", proc_exists(pid));
  nchild_init(&a, "A", pid, 0);
  a.expect = pid;
  ev_child_start(loop, &a.c);
  wait_count(loop, &a.calls, 1);
  TRACE("  callback: revents=0x%x %s rpid-ok=%d priority=%d", (unsigned)a.last_revents,
        status_str(a.last_status), a.bad_pid == 0, a.last_prio);
  ev_child_stop(loop, &a.c);
}

/* ---- 3. pid 0 watchers ----------------------------------------------------------------------------- */

static void s_any(struct ev_loop *loop)
{
  nchild z, s;
  pid_t pid;
  int codes[3] = { 1, 2, 3 }, i;

  TRACE("3. pid 0 watcher");
  nchild_init(&z, "Z", 0, 0);
  ev_child_start(loop, &z.c);
  for (i = 0; i < 3; i++) {
    pid = spawn_exit(codes[i], 0);
    z.expect = pid;
    wait_count(loop, &z.calls, i + 1);
  }
  TRACE("  one child at a time:%s bad-rpid=%d priority=%d", z.log, z.bad_pid, z.last_prio);

  /* a pid-specific watcher and the wildcard watcher see the same child */
  z.calls = 0; z.log[0] = 0; z.expect = 0;
  pid = spawn_exit(6, 20);
  nchild_init(&s, "S", pid, 0);
  ev_child_start(loop, &s.c);
  wait_count(loop, &s.calls, 1);
  wait_count(loop, &z.calls, 1);
  TRACE("  specific + wildcard: S:%s Z:%s", s.log, z.log);
  ev_child_stop(loop, &s.c);

  /* two children at once: one callback each (order of reaping is the kernel's) */
  z.calls = 0; z.log[0] = 0;
  spawn_exit(8, 0);
  spawn_exit(9, 0);
  wait_count(loop, &z.calls, 2);
  TRACE("  two children: calls=%d sorted-codes=%s", z.calls,
        (strcmp(z.log, " exited(8) exited(9)") == 0 || strcmp(z.log, " exited(9) exited(8)") == 0)
        ? "8,9" : z.log);
  ev_child_stop(loop, &z.c);
}

/* ---- 4. unwatched children are reaped too (no zombies) -------------------------------------------- */

static void s_unwatched(struct ev_loop *loop)
{
  pid_t pids[5];
  int i, j, alive;

  TRACE("4. unwatched children are reaped");
  for (i = 0; i < 5; i++) pids[i] = spawn_exit(10 + i, 0);
  for (j = 0; j < 200; j++) {
    for (i = 0, alive = 0; i < 5; i++) alive += proc_exists(pids[i]);
    if (!alive) break;
    step(loop, 0.02);
  }
  TRACE("  all reaped while the loop ran: %d", alive == 0);
  errno = 0;
  i = (int)waitpid(-1, NULL, WNOHANG);
  TRACE("  waitpid(-1, WNOHANG) -> %d ECHILD=%d", i, errno == ECHILD);
  /* ev_run with no user watchers returns at once (the SIGCHLD watcher holds no reference) */
  TRACE("  ev_run(0) without user watchers -> %d", ev_run(loop, 0));
}

/* ---- 5. trace flag: stopped and continued children ------------------------------------------------ */

static void s_trace(struct ev_loop *loop)
{
  nchild t, u;
  pid_t pid;
  int p[2];

  TRACE("5. trace flag");
  CHECK(pipe(p) == 0);
  fflush(stdout);
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    char c;
    close(p[1]);
    raise(SIGSTOP);
    while (read(p[0], &c, 1) < 0 && errno == EINTR) { }
    _exit(4);
  }
  close(p[0]);
  nchild_init(&t, "T", pid, 1);
  nchild_init(&u, "U", 0, 0);
  t.expect = u.expect = pid;
  ev_child_start(loop, &t.c);
  ev_child_start(loop, &u.c);
  TRACE("  T flags=%d U flags=%d", t.c.flags, u.c.flags);
  wait_count(loop, &t.calls, 1);
  TRACE("  after SIGSTOP: T:%s U calls=%d", t.log, u.calls);
  kill(pid, SIGCONT);
  wait_count(loop, &t.calls, 2);
  TRACE("  after SIGCONT: T:%s U calls=%d", t.log, u.calls);
  CHECK_EQ_INT(write(p[1], "x", 1), 1);
  wait_count(loop, &t.calls, 3);
  wait_count(loop, &u.calls, 1);
  TRACE("  after exit: T:%s U:%s bad-rpid=%d/%d", t.log, u.log, t.bad_pid, u.bad_pid);
  close(p[1]);
  ev_child_stop(loop, &t.c);
  ev_child_stop(loop, &u.c);
}

/* ---- 6. 50 children --------------------------------------------------------------------------------- */

static void s_many(struct ev_loop *loop)
{
  nchild z;
  pid_t pids[50];
  int i, sum = 0, alive = 0;

  TRACE("6. 50 children");
  nchild_init(&z, "Z", 0, 0);
  ev_child_start(loop, &z.c);
  for (i = 0; i < 50; i++) pids[i] = spawn_exit(i + 1, i % 3 ? 0 : 5);
  wait_count(loop, &z.calls, 50);
  sum = z.sum_codes;
  for (i = 0; i < 50; i++) alive += proc_exists(pids[i]);
  TRACE("  callbacks=%d sum-of-codes=%d (expected %d) zombies=%d", z.calls, sum, 50 * 51 / 2,
        alive);
  step(loop, 0.05);
  TRACE("  no extra callback: calls=%d", z.calls);
  errno = 0;
  i = (int)waitpid(-1, NULL, WNOHANG);
  TRACE("  waitpid(-1, WNOHANG) -> %d ECHILD=%d", i, errno == ECHILD);
  ev_child_stop(loop, &z.c);
}

/* ---- 7. a user SIGCHLD signal watcher on the default loop ----------------------------------------- */

static int sigchld_calls;
static void sigchld_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
  (void)loop; (void)w; (void)revents;
  sigchld_calls++;
}

static void s_sigchld_watcher(struct ev_loop *loop)
{
  ev_signal s;
  nchild a;
  pid_t pid;

  TRACE("7. user ev_signal for SIGCHLD next to the reaper");
  ev_signal_init(&s, sigchld_cb, SIGCHLD);
  ev_signal_start(loop, &s);
  pid = spawn_exit(3, 0);
  nchild_init(&a, "A", pid, 0);
  a.expect = pid;
  ev_child_start(loop, &a.c);
  wait_count(loop, &a.calls, 1);
  step(loop, 0.02);
  TRACE("  child cb:%s signal cb called: %d", a.log, sigchld_calls >= 1);
  ev_child_stop(loop, &a.c);
  ev_signal_stop(loop, &s);
  {
    struct sigaction sa;
    CHECK(sigaction(SIGCHLD, NULL, &sa) == 0);
    TRACE("  SIGCHLD handler still installed after the user watcher stopped: %d",
          sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN);
  }
  /* and reaping still works */
  pid = spawn_exit(2, 0);
  nchild_init(&a, "A", pid, 0);
  a.expect = pid;
  ev_child_start(loop, &a.c);
  wait_count(loop, &a.calls, 1);
  TRACE("  child cb after that:%s", a.log);
  ev_child_stop(loop, &a.c);
}

int main(void)
{
  struct ev_loop *loop;

  WATCHDOG(25);
  loop = test_default_loop();
  s_specific(loop);
  s_late_start(loop);
  s_any(loop);
  s_unwatched(loop);
  s_trace(loop);
  s_many(loop);
  s_sigchld_watcher(loop);
  TRACE("done");
  return 0;
}
