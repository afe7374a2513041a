/* evring-test: timeout=120 */
/* fork handling (libev-abi.md §4.14, pgagroal.md §1.3-§1.4):
 *  1. fork watchers after ev_loop_fork without a real fork (order CBA);
 *  2. real fork, ev_loop_fork in the child, child runs the inherited default loop and gets its
 *     own io/signal/async events; the parent is unaffected afterwards (probe forktest);
 *  3. EVFLAG_FORKCHECK: the child runs the loop without calling ev_loop_fork;
 *  4. pgagroal's periodic/flush children, 50 times: fork WITHOUT ev_loop_fork, the child stops
 *     the inherited default loop's io watchers, closes the fds and exit()s, while the parent
 *     keeps serving the same watchers: no missed and no spurious events;
 *  5. pgagroal's worker: inside a default-loop callback the child calls ev_loop_fork(default),
 *     shuts the listeners, then creates and runs a NEW loop (io + SIGQUIT) to completion. */
#include "test.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <ctype.h>

static void set_nonblock(int fd)
{
  int fl = fcntl(fd, F_GETFL);
  CHECK(fl >= 0);
  CHECK(fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0);
}

static const char *who = "parent";

static void log_print(const char *label)
{
  TRACE("  [%s] %s:%s", who, label, test_evlog_text());
  test_evlog_clear();
}

/* wait for a child with a bounded blocking waitpid (the loop is not running meanwhile, so
 * libev's SIGCHLD reaper cannot take it first) */
static int wait_child(pid_t pid)
{
  int st = 0, i;
  for (i = 0; i < 1000; i++) {
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) return st;
    CHECK(r == 0);
    test_sleep_ms(10);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &st, 0);
  fprintf(stderr, "child did not finish in time\n");
  exit(1);
}

static const char *status_str(int st)
{
  static char buf[64];
  if (WIFEXITED(st)) snprintf(buf, sizeof buf, "exited(%d)", WEXITSTATUS(st));
  else if (WIFSIGNALED(st)) snprintf(buf, sizeof buf, "killed(%d)", WTERMSIG(st));
  else snprintf(buf, sizeof buf, "status?0x%x", (unsigned)st);
  return buf;
}

/* ---- named fork watchers ---------------------------------------------------------------------- */

typedef struct {
  ev_fork f;
  const char *name;
} nfork;

static void nfork_cb(struct ev_loop *loop, ev_fork *w, int revents)
{
  char buf[64];
  snprintf(buf, sizeof buf, "%s(0x%x,depth=%u)", ((nfork *)w)->name, (unsigned)revents,
           ev_depth(loop));
  test_evlog_add(buf);
}

/* ---- 1. fork watchers, no real fork ------------------------------------------------------------ */

static void s_forkwatchers(struct ev_loop *loop)
{
  nfork a, b, c;

  TRACE("1. fork watchers after ev_loop_fork (no real fork)");
  ev_fork_init(&a.f, nfork_cb); a.name = "A";
  ev_fork_init(&b.f, nfork_cb); b.name = "B";
  ev_fork_init(&c.f, nfork_cb); c.name = "C";
  ev_fork_start(loop, &a.f);
  ev_fork_start(loop, &b.f);
  ev_fork_start(loop, &c.f);
  ev_run(loop, EVRUN_NOWAIT);
  log_print("no ev_loop_fork");
  ev_loop_fork(loop);
  ev_run(loop, EVRUN_NOWAIT);
  log_print("after ev_loop_fork");
  ev_run(loop, EVRUN_NOWAIT);
  log_print("next iteration");
  ev_fork_stop(loop, &b.f);
  ev_set_priority(&b.f, 1);
  ev_fork_start(loop, &b.f);
  ev_loop_fork(loop);
  ev_loop_fork(loop);
  ev_run(loop, EVRUN_NOWAIT);
  log_print("B at prio 1, ev_loop_fork twice");
  ev_fork_stop(loop, &a.f);
  ev_fork_stop(loop, &b.f);
  ev_fork_stop(loop, &c.f);
}

/* ---- 2. real fork, ev_loop_fork in the child, child runs the loop ----------------------------- */

static int f2_pipe[2];
static ev_io f2_io;
static ev_signal f2_sig;
static ev_async f2_async;
static ev_prepare f2_prep;
static nfork f2_a, f2_b, f2_c;
static int f2_prepares;

static void f2_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
  char buf[64], line[96];
  ssize_t n = read(w->fd, buf, sizeof buf - 1);
  (void)loop;
  buf[n > 0 ? n : 0] = 0;
  snprintf(line, sizeof line, "io(0x%x,'%s')", (unsigned)revents, buf);
  test_evlog_add(line);
}

static void f2_sig_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
  (void)loop; (void)w;
  test_evlog_add(revents == EV_SIGNAL ? "signal" : "signal?");
}

static void f2_async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
  (void)loop; (void)w;
  test_evlog_add(revents == EV_ASYNC ? "async" : "async?");
}

static void f2_prep_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
  (void)loop; (void)w; (void)revents;
  if (f2_prepares++ == 0) test_evlog_add("first-prepare");
}

static void f2_events(struct ev_loop *loop, const char *msg)
{
  raise(SIGUSR1);
  test_step(loop, 2.0);
  log_print("raise(SIGUSR1)");
  ev_async_send(loop, &f2_async);
  test_step(loop, 2.0);
  log_print("ev_async_send");
  CHECK_EQ_INT(write(f2_pipe[1], msg, strlen(msg)), (long long)strlen(msg));
  test_step(loop, 2.0);
  log_print("pipe written");
  test_step(loop, 0.05);
  log_print("nothing more");
}

static void s_realfork(struct ev_loop *loop)
{
  pid_t pid;

  TRACE("2. real fork, ev_loop_fork in the child, both run the loop");
  CHECK(pipe(f2_pipe) == 0);
  set_nonblock(f2_pipe[0]);
  ev_io_init(&f2_io, f2_io_cb, f2_pipe[0], EV_READ);
  ev_signal_init(&f2_sig, f2_sig_cb, SIGUSR1);
  ev_async_init(&f2_async, f2_async_cb);
  ev_prepare_init(&f2_prep, f2_prep_cb);
  ev_fork_init(&f2_a.f, nfork_cb); f2_a.name = "A";
  ev_fork_init(&f2_b.f, nfork_cb); f2_b.name = "B";
  ev_fork_init(&f2_c.f, nfork_cb); f2_c.name = "C";
  ev_io_start(loop, &f2_io);
  ev_signal_start(loop, &f2_sig);
  ev_async_start(loop, &f2_async);
  ev_fork_start(loop, &f2_a.f);
  ev_fork_start(loop, &f2_b.f);
  ev_fork_start(loop, &f2_c.f);
  f2_events(loop, "before");       /* everything is registered with the kernel now */

  fflush(stdout);
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    int own[2];
    who = "child";
    ev_loop_fork(loop);
    ev_prepare_start(loop, &f2_prep);
    ev_run(loop, EVRUN_NOWAIT);
    log_print("first iteration");
    /* the child moves the inherited io watcher to a pipe of its own: consuming data from the
     * shared pipe would make the parent's armed io_uring poll report a readiness that is gone
     * by the time the parent looks (a legitimate but timing-dependent extra event) */
    CHECK(pipe(own) == 0);
    set_nonblock(own[0]);
    ev_io_stop(loop, &f2_io);
    ev_io_set(&f2_io, own[0], EV_READ);
    ev_io_start(loop, &f2_io);
    f2_pipe[1] = own[1];
    f2_events(loop, "child");
    ev_prepare_stop(loop, &f2_prep);
    exit(0);
  }
  TRACE("  [parent] child %s", status_str(wait_child(pid)));
  f2_events(loop, "parent");
  ev_io_stop(loop, &f2_io);
  ev_signal_stop(loop, &f2_sig);
  ev_async_stop(loop, &f2_async);
  ev_fork_stop(loop, &f2_a.f);
  ev_fork_stop(loop, &f2_b.f);
  ev_fork_stop(loop, &f2_c.f);
  close(f2_pipe[0]);
  close(f2_pipe[1]);
}

/* ---- 3. EVFLAG_FORKCHECK --------------------------------------------------------------------- */

static void s_forkcheck(void)
{
  struct ev_loop *loop = ev_loop_new(EVFLAG_FORKCHECK);
  nfork a;
  pid_t pid;

  TRACE("3. EVFLAG_FORKCHECK, child runs the loop without ev_loop_fork");
  CHECK(loop != NULL);
  CHECK(pipe(f2_pipe) == 0);
  set_nonblock(f2_pipe[0]);
  ev_io_init(&f2_io, f2_io_cb, f2_pipe[0], EV_READ);
  ev_async_init(&f2_async, f2_async_cb);
  ev_fork_init(&a.f, nfork_cb); a.name = "F";
  ev_io_start(loop, &f2_io);
  ev_async_start(loop, &f2_async);
  ev_fork_start(loop, &a.f);
  ev_run(loop, EVRUN_NOWAIT);
  log_print("parent iteration before fork");

  fflush(stdout);
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    who = "child";
    ev_async_send(loop, &f2_async);
    test_step(loop, 2.0);
    log_print("first iteration (async sent before)");
    CHECK_EQ_INT(write(f2_pipe[1], "kid", 3), 3);
    test_step(loop, 2.0);
    log_print("pipe written");
    ev_async_send(loop, &f2_async);
    test_step(loop, 2.0);
    log_print("async");
    exit(0);
  }
  TRACE("  [parent] child %s", status_str(wait_child(pid)));
  CHECK_EQ_INT(write(f2_pipe[1], "dad", 3), 3);
  test_step(loop, 2.0);
  log_print("pipe written");
  ev_async_send(loop, &f2_async);
  test_step(loop, 2.0);
  log_print("async");
  ev_io_stop(loop, &f2_io);
  ev_async_stop(loop, &f2_async);
  ev_fork_stop(loop, &a.f);
  close(f2_pipe[0]);
  close(f2_pipe[1]);
  ev_loop_destroy(loop);
}

/* ---- 4. pgagroal's periodic/flush children: fork without ev_loop_fork, ev_io_stop + close +
 *         exit() in the child, 50 times --------------------------------------------------------- */

#define P_ROUNDS 50
static int p_sock1[2], p_sock2[2];
static ev_io p_l1, p_l2;
static ev_timer p_tick;
static ev_child p_child;
static int p_round, p_l1_events, p_l2_events, p_spurious, p_bad_status, p_children;
static int p_have_l1, p_have_child, p_wait_l2;

static void p_next_round(struct ev_loop *loop);

static void p_maybe_finish_round(struct ev_loop *loop)
{
  if (!p_have_l1 || !p_have_child) return;
  p_have_l1 = p_have_child = 0;
  /* the child is gone: an event on the second "listener" must still arrive exactly once */
  p_wait_l2 = 1;
  CHECK_EQ_INT(write(p_sock2[1], "2", 1), 1);
  (void)loop;
}

static void p_l1_cb(struct ev_loop *loop, ev_io *w, int revents)
{
  char c;
  if (revents != EV_READ || read(w->fd, &c, 1) != 1) { p_spurious++; return; }
  p_l1_events++;
  p_have_l1 = 1;
  p_maybe_finish_round(loop);
}

static void p_l2_cb(struct ev_loop *loop, ev_io *w, int revents)
{
  char c;
  if (revents != EV_READ || read(w->fd, &c, 1) != 1 || !p_wait_l2) { p_spurious++; return; }
  p_l2_events++;
  p_wait_l2 = 0;
  p_next_round(loop);
}

static void p_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
  (void)revents;
  p_children++;
  if (!WIFEXITED(w->rstatus) || WEXITSTATUS(w->rstatus) != 0) p_bad_status++;
  ev_child_stop(loop, w);
  p_have_child = 1;
  p_maybe_finish_round(loop);
}

static void p_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
  pid_t pid;
  (void)w; (void)revents;
  /* an event is pending on the first "listener" while the child exists */
  CHECK_EQ_INT(write(p_sock1[1], "1", 1), 1);
  fflush(stdout);
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    /* pgagroal: shutdown_ports() without ev_loop_fork, then exit() (not _exit) */
    if (p_round % 2) test_sleep_ms(3);
    ev_io_stop(loop, &p_l1);
    ev_io_stop(loop, &p_l2);
    close(p_sock1[0]);
    close(p_sock2[0]);
    if (p_round % 3 == 0) test_sleep_ms(2);
    exit(0);
  }
  ev_child_set(&p_child, pid, 0);
  ev_child_start(loop, &p_child);
}

static void p_next_round(struct ev_loop *loop)
{
  if (++p_round > P_ROUNDS) {
    ev_break(loop, EVBREAK_ALL);
    return;
  }
  ev_timer_set(&p_tick, 0.001, 0.);
  ev_timer_start(loop, &p_tick);
}

static void s_pgagroal_children(struct ev_loop *loop)
{
  ev_timer guard;

  TRACE("4. fork without ev_loop_fork, child stops+closes inherited watchers, %d rounds",
        P_ROUNDS);
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, p_sock1) == 0);
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, p_sock2) == 0);
  set_nonblock(p_sock1[0]);
  set_nonblock(p_sock2[0]);
  ev_io_init(&p_l1, p_l1_cb, p_sock1[0], EV_READ);
  ev_io_init(&p_l2, p_l2_cb, p_sock2[0], EV_READ);
  ev_io_start(loop, &p_l1);
  ev_io_start(loop, &p_l2);
  ev_init(&p_tick, p_tick_cb);
  ev_child_init(&p_child, p_child_cb, 0, 0);
  ev_timer_init(&guard, test_guard_cb, 60., 0.);
  ev_timer_start(loop, &guard);
  ev_unref(loop);
  test_guard_fired = 0;
  p_round = 0;
  p_next_round(loop);
  ev_run(loop, 0);
  ev_ref(loop);
  ev_timer_stop(loop, &guard);
  TRACE("  rounds=%d l1-events=%d l2-events=%d spurious=%d children=%d bad-exit=%d guard=%d",
        p_round - 1, p_l1_events, p_l2_events, p_spurious, p_children, p_bad_status, test_guard_fired);
  test_step(loop, 0.05);
  TRACE("  afterwards: l1-events=%d l2-events=%d spurious=%d", p_l1_events, p_l2_events,
        p_spurious);
  /* the watchers still work normally */
  CHECK_EQ_INT(write(p_sock1[1], "1", 1), 1);
  test_step(loop, 2.0);
  TRACE("  one more event: l1-events=%d spurious=%d", p_l1_events, p_spurious);
  CHECK_EQ_INT(p_l1_events, P_ROUNDS + 1);
  CHECK_EQ_INT(p_l2_events, P_ROUNDS);
  CHECK_EQ_INT(p_spurious, 0);
  ev_io_stop(loop, &p_l1);
  ev_io_stop(loop, &p_l2);
  close(p_sock1[0]); close(p_sock1[1]);
  close(p_sock2[0]); close(p_sock2[1]);
}

/* ---- 5. pgagroal's worker: ev_loop_fork(default) + a new loop run inside a callback ------------ */

#define W_ROUNDS 3
#define W_MSGS 3
static int w_accept_sock[2];
static ev_io w_accept_io, w_client_io;
static ev_child w_child;
static int w_client_fd = -1, w_round, w_msgs, w_done;
static pid_t w_pid;

/* ---- worker side (runs in the child) */
static int wk_running;
static ev_io wk_io;
static ev_signal wk_quit;

static void wk_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
  char buf[32];
  ssize_t n = read(w->fd, buf, sizeof buf - 1), i;
  if (n <= 0) {
    TRACE("  [worker] read failed revents=0x%x", (unsigned)revents);
    wk_running = 0;
    ev_break(loop, EVBREAK_ALL);
    return;
  }
  buf[n] = 0;
  TRACE("  [worker] got '%s' (revents=0x%x, depth=%u)", buf, (unsigned)revents, ev_depth(loop));
  for (i = 0; i < n; i++) buf[i] = (char)toupper((unsigned char)buf[i]);
  CHECK_EQ_INT(write(w->fd, buf, (size_t)n), n);
  ev_break(loop, EVBREAK_ONE);     /* pgagroal: every pipeline callback breaks */
}

static void wk_quit_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
  TRACE("  [worker] SIG%s revents=0x%x", w->signum == SIGQUIT ? "QUIT" : "?", (unsigned)revents);
  wk_running = 0;
  ev_break(loop, EVBREAK_ALL);
}

static void worker_main(int fd)
{
  struct ev_loop *loop = ev_loop_new(0);
  int iterations = 0;
  if (!loop) exit(70);
  wk_running = 1;
  ev_io_init(&wk_io, wk_io_cb, fd, EV_READ);
  ev_signal_init(&wk_quit, wk_quit_cb, SIGQUIT);
  ev_signal_start(loop, &wk_quit);
  ev_io_start(loop, &wk_io);
  CHECK_EQ_INT(write(fd, "R", 1), 1);
  while (wk_running && iterations++ < 1000) ev_run(loop, 0);
  /* pgagroal closes the client fd before stopping its watcher */
  close(fd);
  ev_io_stop(loop, &wk_io);
  ev_signal_stop(loop, &wk_quit);
  ev_loop_destroy(loop);
  exit(3);
}

/* ---- parent side */
static void w_send_next(void)
{
  char msg[16];
  snprintf(msg, sizeof msg, "msg%d", w_msgs + 1);
  CHECK_EQ_INT(write(w_client_fd, msg, strlen(msg)), (long long)strlen(msg));
}

static void w_client_cb(struct ev_loop *loop, ev_io *w, int revents)
{
  char buf[32];
  ssize_t n = read(w->fd, buf, sizeof buf - 1);
  if (n <= 0) {
    /* the worker exited; whether this EOF or the child watcher comes first is timing */
    ev_io_stop(loop, w);
    return;
  }
  buf[n] = 0;
  TRACE("  [parent] client got '%s' (revents=0x%x)", buf, (unsigned)revents);
  if (strcmp(buf, "R") != 0) w_msgs++;
  if (w_msgs < W_MSGS) w_send_next();
  else kill(w_pid, SIGQUIT);
}

static void w_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
  char c;
  int conn[2];
  pid_t pid;
  CHECK_EQ_INT(read(w->fd, &c, 1), 1);
  TRACE("  [parent] accept round %d (revents=0x%x)", w_round, (unsigned)revents);
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, conn) == 0);
  fflush(stdout);
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    ev_loop_fork(loop);                 /* pgagroal: accept_main_cb in the child */
    ev_io_stop(loop, &w_accept_io);     /* shutdown_ports() */
    close(w_accept_sock[0]);
    close(w_accept_sock[1]);
    close(conn[0]);
    worker_main(conn[1]);               /* never returns */
  }
  close(conn[1]);
  w_pid = pid;
  w_client_fd = conn[0];
  w_msgs = 0;
  ev_io_init(&w_client_io, w_client_cb, w_client_fd, EV_READ);
  ev_io_start(loop, &w_client_io);
  ev_child_set(&w_child, pid, 0);
  ev_child_start(loop, &w_child);
}

static void w_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
  TRACE("  [parent] worker %s (revents=0x%x)", status_str(w->rstatus), (unsigned)revents);
  ev_child_stop(loop, w);
  ev_io_stop(loop, &w_client_io);
  close(w_client_fd);
  w_client_fd = -1;
  if (++w_round == W_ROUNDS) {
    w_done = 1;
    ev_break(loop, EVBREAK_ALL);
    return;
  }
  CHECK_EQ_INT(write(w_accept_sock[1], "c", 1), 1);
}

static void s_worker(struct ev_loop *loop)
{
  ev_timer guard;

  TRACE("5. worker: ev_loop_fork(default) + a new loop inside a default-loop callback");
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, w_accept_sock) == 0);
  ev_io_init(&w_accept_io, w_accept_cb, w_accept_sock[0], EV_READ);
  ev_io_start(loop, &w_accept_io);
  ev_child_init(&w_child, w_child_cb, 0, 0);
  ev_timer_init(&guard, test_guard_cb, 60., 0.);
  ev_timer_start(loop, &guard);
  ev_unref(loop);
  test_guard_fired = 0;
  CHECK_EQ_INT(write(w_accept_sock[1], "c", 1), 1);
  while (!w_done && !test_guard_fired) ev_run(loop, 0);
  ev_ref(loop);
  ev_timer_stop(loop, &guard);
  TRACE("  [parent] rounds=%d guard=%d", w_round, test_guard_fired);
  ev_io_stop(loop, &w_accept_io);
  close(w_accept_sock[0]);
  close(w_accept_sock[1]);
}

int main(void)
{
  struct ev_loop *loop;

  WATCHDOG(35);
  signal(SIGPIPE, SIG_IGN);
  loop = test_default_loop();
  s_forkwatchers(loop);
  s_realfork(loop);
  s_forkcheck();
  s_pgagroal_children(loop);
  s_worker(loop);
  TRACE("done");
  return 0;
}
