/* evring-test: timeout=60 */
/* ev_cleanup and ev_loop_destroy (libev-abi.md §4.1, §4.15, §6 trap 18): cleanup watchers run
 * at destroy (revents, depth, order, priorities, pending events invoked with them), they hold
 * no reference; destroying the default loop clears ev_default_loop_ptr (EV_DEFAULT_UC,
 * ev_is_default_loop) and puts SIGCHLD back to SIG_DFL; the default loop can be recreated and
 * reaps children again; 1000 create/destroy cycles leak no fd; watchers left active at destroy
 * stay active and are not touched. */
#include "test.h"

#include <sys/wait.h>
#include <time.h>

static const char *disposition(int sig)
{
  struct sigaction sa;
  CHECK(sigaction(sig, NULL, &sa) == 0);
  if (sa.sa_handler == SIG_DFL) return "SIG_DFL";
  if (sa.sa_handler == SIG_IGN) return "SIG_IGN";
  return "custom";
}

/* ---- cleanup watchers ---------------------------------------------------------------------------- */

typedef struct {
  ev_cleanup c;
  const char *name;
  ev_timer *stop_timer;   /* stop this timer from the callback */
  int stop_self;
} ncleanup;

static void ncleanup_cb(struct ev_loop *loop, ev_cleanup *w, int revents)
{
  ncleanup *n = (ncleanup *)w;
  char buf[96];
  snprintf(buf, sizeof buf, "%s(0x%x,depth=%u,active=%d,pending=%d)", n->name, (unsigned)revents,
           ev_depth(loop), ev_is_active(w) ? 1 : 0, ev_is_pending(w) ? 1 : 0);
  test_evlog_add(buf);
  if (n->stop_timer) ev_timer_stop(loop, n->stop_timer);
  if (n->stop_self) ev_cleanup_stop(loop, w);
}

static void ncleanup_init(ncleanup *n, const char *name)
{
  memset(n, 0, sizeof *n);
  ev_cleanup_init(&n->c, ncleanup_cb);
  n->name = name;
}

static void timer_log_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
  char buf[64];
  (void)loop;
  snprintf(buf, sizeof buf, "timer(0x%x,active=%d)", (unsigned)revents, ev_is_active(w) ? 1 : 0);
  test_evlog_add(buf);
}

static void s_cleanup(void)
{
  struct ev_loop *loop;
  ncleanup a, b, c;
  ev_timer t;

  TRACE("1. cleanup watchers");
  loop = test_new_loop(0);
  ncleanup_init(&a, "A");
  ncleanup_init(&b, "B");
  ncleanup_init(&c, "C");
  ev_cleanup_start(loop, &a.c);
  ev_cleanup_start(loop, &b.c);
  ev_cleanup_start(loop, &c.c);
  TRACE("  started: active=%d; ev_run(0) with only cleanup watchers -> %d", ev_is_active(&a.c) ? 1 : 0,
        ev_run(loop, 0));
  TRACE("  ev_run(NOWAIT) -> %d", ev_run(loop, EVRUN_NOWAIT));
  ev_loop_destroy(loop);
  test_evlog_print("destroy");
  TRACE("  after destroy: A active=%d pending=%d", ev_is_active(&a.c) ? 1 : 0,
        ev_is_pending(&a.c) ? 1 : 0);

  /* priorities, a callback stopping itself, one stopping a timer */
  loop = test_new_loop(0);
  ncleanup_init(&a, "A");
  ncleanup_init(&b, "B");
  ncleanup_init(&c, "C");
  ev_set_priority(&a.c, -2);
  ev_set_priority(&b.c, 2);
  a.stop_self = 1;
  ev_timer_init(&t, timer_log_cb, 100., 0.);
  ev_timer_start(loop, &t);
  c.stop_timer = &t;
  ev_cleanup_start(loop, &a.c);
  ev_cleanup_start(loop, &b.c);
  ev_cleanup_start(loop, &c.c);
  ev_loop_destroy(loop);
  test_evlog_print("A prio -2 (stops itself), B prio 2, C stops a timer");
  TRACE("  after destroy: A active=%d B active=%d timer active=%d", ev_is_active(&a.c) ? 1 : 0,
        ev_is_active(&b.c) ? 1 : 0, ev_is_active(&t) ? 1 : 0);

  /* pending events are invoked together with the cleanup watchers ... */
  loop = test_new_loop(0);
  ncleanup_init(&a, "A");
  ev_cleanup_start(loop, &a.c);
  ev_timer_init(&t, timer_log_cb, 100., 0.);
  ev_timer_start(loop, &t);
  ev_feed_event(loop, &t, EV_CUSTOM);
  ev_loop_destroy(loop);
  test_evlog_print("fed timer + cleanup at destroy");
  /* ... but not without them */
  loop = test_new_loop(0);
  ev_timer_init(&t, timer_log_cb, 100., 0.);
  ev_timer_start(loop, &t);
  ev_feed_event(loop, &t, EV_CUSTOM);
  ev_loop_destroy(loop);
  test_evlog_print("fed timer, no cleanup watcher, at destroy");

  /* a stopped cleanup watcher does not run */
  loop = test_new_loop(0);
  ncleanup_init(&a, "A");
  ev_cleanup_start(loop, &a.c);
  ev_cleanup_stop(loop, &a.c);
  ev_loop_destroy(loop);
  test_evlog_print("stopped cleanup watcher at destroy");
}

/* ---- 2. default loop destroy / recreate ---------------------------------------------------------- */

static int child_calls, child_status;
static void child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
  (void)loop; (void)revents;
  child_calls++;
  child_status = w->rstatus;
}

static void reap_check(struct ev_loop *loop, int code)
{
  ev_child w;
  pid_t pid;
  int i;
  fflush(stdout);
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) _exit(code);
  ev_child_init(&w, child_cb, pid, 0);
  ev_child_start(loop, &w);
  child_calls = 0;
  for (i = 0; i < 200 && !child_calls; i++) test_step(loop, 0.05);
  ev_child_stop(loop, &w);
  TRACE("  child watcher: calls=%d exit=%d", child_calls,
        WIFEXITED(child_status) ? WEXITSTATUS(child_status) : -1);
}

static void s_default(void)
{
  struct ev_loop *loop, *again;
  ncleanup a;

  TRACE("2. default loop destroy and recreate");
  TRACE("  before: EV_DEFAULT_UC is NULL=%d SIGCHLD=%s", EV_DEFAULT_UC == NULL,
        disposition(SIGCHLD));
  loop = test_default_loop();
  TRACE("  created: EV_DEFAULT_UC==loop %d is_default=%d SIGCHLD=%s", EV_DEFAULT_UC == loop,
        ev_is_default_loop(loop), disposition(SIGCHLD));
  again = ev_default_loop(0);
  TRACE("  second ev_default_loop returns the same loop: %d", again == loop);
  reap_check(loop, 9);
  ncleanup_init(&a, "A");
  ev_cleanup_start(loop, &a.c);
  ev_loop_destroy(loop);
  test_evlog_print("destroy default");
  TRACE("  destroyed: EV_DEFAULT_UC is NULL=%d is_default(old)=%d SIGCHLD=%s",
        EV_DEFAULT_UC == NULL, ev_is_default_loop(loop), disposition(SIGCHLD));
  loop = test_default_loop();
  TRACE("  recreated: non-NULL=%d EV_DEFAULT_UC==loop %d is_default=%d SIGCHLD=%s", loop != NULL,
        EV_DEFAULT_UC == loop, ev_is_default_loop(loop), disposition(SIGCHLD));
  TRACE("  ev_run(NOWAIT) on the recreated loop -> %d", ev_run(loop, EVRUN_NOWAIT));
  reap_check(loop, 11);
  ev_loop_destroy(loop);
  TRACE("  destroyed again: EV_DEFAULT_UC is NULL=%d SIGCHLD=%s", EV_DEFAULT_UC == NULL,
        disposition(SIGCHLD));
}

/* ---- 3. many create/destroy cycles, no fd leak --------------------------------------------------- */

static void noop_io(struct ev_loop *l, ev_io *w, int r) { (void)l; (void)w; (void)r; }
static void noop_timer(struct ev_loop *l, ev_timer *w, int r) { (void)l; (void)w; (void)r; }
static void noop_periodic(struct ev_loop *l, ev_periodic *w, int r) { (void)l; (void)w; (void)r; }
static void noop_async(struct ev_loop *l, ev_async *w, int r) { (void)l; (void)w; (void)r; }
static void noop_signal(struct ev_loop *l, ev_signal *w, int r) { (void)l; (void)w; (void)r; }
static void noop_child(struct ev_loop *l, ev_child *w, int r) { (void)l; (void)w; (void)r; }

static void s_cycles(void)
{
  int before, after, i, p[2], fails = 0;
  struct ev_loop *loops[10];

  TRACE("3. create/destroy cycles");
  CHECK(pipe(p) == 0);
  before = test_count_fds();
  for (i = 0; i < 1000; i++) {
    struct ev_loop *loop = ev_loop_new(0);
    ev_io io;
    ev_timer t;
    ev_async as;
    ev_signal sg;
    ev_periodic pe;
    if (!loop) { fails++; continue; }
    ev_io_init(&io, noop_io, p[1], EV_WRITE);
    ev_timer_init(&t, noop_timer, 10., 0.);
    ev_async_init(&as, noop_async);
    ev_signal_init(&sg, noop_signal, SIGUSR1);
    ev_periodic_init(&pe, noop_periodic, 0., 3600., 0);
    ev_io_start(loop, &io);
    ev_timer_start(loop, &t);
    if (i % 2) ev_async_start(loop, &as);
    if (i % 3 == 0) ev_signal_start(loop, &sg);
    if (i % 5 == 0) ev_periodic_start(loop, &pe);
    ev_run(loop, EVRUN_NOWAIT);
    ev_io_stop(loop, &io);
    ev_timer_stop(loop, &t);
    ev_async_stop(loop, &as);
    ev_signal_stop(loop, &sg);
    ev_periodic_stop(loop, &pe);
    ev_loop_destroy(loop);
  }
  after = test_count_fds();
  TRACE("  1000 ev_loop_new/destroy with watchers: failures=%d fd-leak=%d", fails, after - before);

  for (i = 0; i < 10; i++) {
    loops[i] = ev_loop_new(0);
    CHECK(loops[i] != NULL);
    ev_run(loops[i], EVRUN_NOWAIT);
  }
  for (i = 9; i >= 0; i--) ev_loop_destroy(loops[i]);
  TRACE("  10 loops alive at once, destroyed in reverse: fd-leak=%d", test_count_fds() - before);

  for (i = 0; i < 50; i++) {
    struct ev_loop *loop = ev_default_loop(0);
    ev_child c;
    if (!loop) { fails++; continue; }
    ev_child_init(&c, noop_child, 0, 0);
    ev_child_start(loop, &c);
    ev_run(loop, EVRUN_NOWAIT);
    ev_child_stop(loop, &c);
    ev_loop_destroy(loop);
  }
  TRACE("  50 default loop create/destroy: failures=%d fd-leak=%d SIGCHLD=%s", fails,
        test_count_fds() - before, disposition(SIGCHLD));
  close(p[0]);
  close(p[1]);
}

/* ---- 4. watchers left active at destroy are orphaned, not touched ------------------------------- */

static void noop_idle(struct ev_loop *l, ev_idle *w, int r) { (void)l; (void)w; (void)r; }
static void noop_prepare(struct ev_loop *l, ev_prepare *w, int r) { (void)l; (void)w; (void)r; }
static void noop_check(struct ev_loop *l, ev_check *w, int r) { (void)l; (void)w; (void)r; }
static void noop_fork(struct ev_loop *l, ev_fork *w, int r) { (void)l; (void)w; (void)r; }
static void noop_cleanup(struct ev_loop *l, ev_cleanup *w, int r) { (void)l; (void)w; (void)r; }

static int io_fired;
static void count_io(struct ev_loop *l, ev_io *w, int r)
{
  (void)w; (void)r;
  io_fired++;
  ev_break(l, EVBREAK_ONE);
}

static void s_orphans(void)
{
  struct ev_loop *loop = test_new_loop(0), *other;
  int p[2];
  struct {
    ev_io io;
    ev_timer timer;
    ev_periodic periodic;
    ev_async async;
    ev_idle idle;
    ev_prepare prepare;
    ev_check check;
    ev_fork fork;
    ev_cleanup cleanup;
  } w, snap;

  TRACE("4. watchers left active at destroy");
  CHECK(pipe(p) == 0);
  memset(&w, 0, sizeof w);
  ev_io_init(&w.io, noop_io, p[0], EV_READ);
  ev_timer_init(&w.timer, noop_timer, 50., 5.);
  ev_periodic_init(&w.periodic, noop_periodic, 0., 60., 0);
  ev_async_init(&w.async, noop_async);
  ev_idle_init(&w.idle, noop_idle);
  ev_prepare_init(&w.prepare, noop_prepare);
  ev_check_init(&w.check, noop_check);
  ev_fork_init(&w.fork, noop_fork);
  ev_cleanup_init(&w.cleanup, noop_cleanup);
  ev_io_start(loop, &w.io);
  ev_timer_start(loop, &w.timer);
  ev_periodic_start(loop, &w.periodic);
  ev_async_start(loop, &w.async);
  ev_prepare_start(loop, &w.prepare);
  ev_check_start(loop, &w.check);
  ev_fork_start(loop, &w.fork);
  ev_cleanup_start(loop, &w.cleanup);
  ev_run(loop, EVRUN_NOWAIT);
  ev_idle_start(loop, &w.idle);   /* started after the iteration: must not have run */
  memcpy(&snap, &w, sizeof w);
  ev_loop_destroy(loop);
  TRACE("  active after destroy: io=%d timer=%d periodic=%d async=%d idle=%d prepare=%d check=%d "
        "fork=%d cleanup=%d", ev_is_active(&w.io) ? 1 : 0, ev_is_active(&w.timer) ? 1 : 0,
        ev_is_active(&w.periodic) ? 1 : 0, ev_is_active(&w.async) ? 1 : 0,
        ev_is_active(&w.idle) ? 1 : 0, ev_is_active(&w.prepare) ? 1 : 0,
        ev_is_active(&w.check) ? 1 : 0, ev_is_active(&w.fork) ? 1 : 0,
        ev_is_active(&w.cleanup) ? 1 : 0);
  TRACE("  bytes unchanged: io=%d timer=%d periodic=%d async=%d idle=%d prepare=%d check=%d "
        "fork=%d cleanup=%d",
        !memcmp(&w.io, &snap.io, sizeof w.io), !memcmp(&w.timer, &snap.timer, sizeof w.timer),
        !memcmp(&w.periodic, &snap.periodic, sizeof w.periodic),
        !memcmp(&w.async, &snap.async, sizeof w.async), !memcmp(&w.idle, &snap.idle, sizeof w.idle),
        !memcmp(&w.prepare, &snap.prepare, sizeof w.prepare),
        !memcmp(&w.check, &snap.check, sizeof w.check), !memcmp(&w.fork, &snap.fork, sizeof w.fork),
        !memcmp(&w.cleanup, &snap.cleanup, sizeof w.cleanup));

  /* the memory can be re-initialised and used with another loop */
  other = test_new_loop(0);
  ev_io_init(&w.io, count_io, p[0], EV_READ);
  ev_io_start(other, &w.io);
  CHECK_EQ_INT(write(p[1], "x", 1), 1);
  test_step(other, 2.0);
  TRACE("  re-initialised io watcher on another loop fired: %d", io_fired);
  ev_io_stop(other, &w.io);
  ev_loop_destroy(other);
  close(p[0]);
  close(p[1]);
}

int main(void)
{
  WATCHDOG(55);
  s_cleanup();
  s_default();
  s_cycles();
  s_orphans();
  TRACE("done");
  return 0;
}
