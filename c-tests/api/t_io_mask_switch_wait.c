/* evring-test: mode=diff timeout=30 variants=plain,ring */
/* A mask switch that the kernel learns through a fix-up (read watcher stopped, so the lazy
 * stop keeps the READ registration; a write watcher started on the same fd: ADD fails with
 * EEXIST, then MOD) must not cost a wait. The fd is a socket whose send buffer is full, so it
 * is neither readable nor writable: ev_run(EVRUN_ONCE) must sleep until the 0.2 s timer, in
 * the iteration that applies the switch and in the one after, as in libev. Found by review:
 * evring's io_uring backend, applying a small batch in fd_reify, marked the fixed-up fd as it
 * does for a fix-up made after a wait (FIXED, next wait non-blocking), so the very wait of
 * that iteration returned at once and EVRUN_ONCE came back with nothing done; before, the
 * iteration after the switch did (also through the ring: variant `ring`, EVRING_URING_SMALL=0
 * and EVRING_URING_RING_AFTER=0, where every change is recorded and sent as a batch; libev
 * ignores them). Each step also with two fds switched in one batch. */
#include "test.h"

#include <fcntl.h>
#include <sys/socket.h>

static int timer_fired, io_fired;

static void timer_cb(struct ev_loop *l, ev_timer *t, int revents)
{
  (void)l; (void)t; (void)revents;
  timer_fired++;
}

static void io_cb(struct ev_loop *l, ev_io *w, int revents)
{
  (void)l; (void)w; (void)revents;
  io_fired++;
}

/* A socket whose send buffer is full and whose peer sends nothing. */
static void stuck_socket(int sv[2])
{
  static char buf[65536];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  CHECK(fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0);
  while (write(sv[0], buf, sizeof buf) > 0) {
  }
  CHECK(errno == EAGAIN || errno == EWOULDBLOCK);
}

static void once_until_timer(struct ev_loop *l, const char *what)
{
  ev_timer t;
  double t0, dt;
  ev_now_update(l);
  ev_timer_init(&t, timer_cb, 0.2, 0.);
  ev_timer_start(l, &t);
  timer_fired = io_fired = 0;
  t0 = ev_time();
  ev_run(l, EVRUN_ONCE);
  dt = ev_time() - t0;
  TRACE("  %s: timer fired %d, io fired %d", what, timer_fired, io_fired);
  CHECK_DBL_GE(dt, 0.19);
  ev_timer_stop(l, &t);
}

static void run_case(struct ev_loop *l, int n)
{
  int sv[2][2], i;
  ev_io r[2], w[2];
  TRACE("%d fd(s)", n);
  for (i = 0; i < n; i++) {
    stuck_socket(sv[i]);
    ev_io_init(&r[i], io_cb, sv[i][0], EV_READ);
    ev_io_start(l, &r[i]);
  }
  ev_run(l, EVRUN_NOWAIT); /* registered for READ */
  for (i = 0; i < n; i++)
    ev_io_stop(l, &r[i]);
  ev_run(l, EVRUN_NOWAIT); /* lazy stop: the kernel keeps READ */
  for (i = 0; i < n; i++) {
    ev_io_init(&w[i], io_cb, sv[i][0], EV_WRITE);
    ev_io_start(l, &w[i]);
  }
  once_until_timer(l, "switch iteration");
  once_until_timer(l, "next iteration");
  for (i = 0; i < n; i++) {
    ev_io_stop(l, &w[i]);
    close(sv[i][0]);
    close(sv[i][1]);
  }
  ev_run(l, EVRUN_NOWAIT);
}

int main(int argc, char **argv)
{
  struct ev_loop *l;
  WATCHDOG(25);
  if (argc > 1 && !strcmp(argv[1], "ring")) {
    setenv("EVRING_URING_RING_AFTER", "0", 1);
    setenv("EVRING_URING_SMALL", "0", 1);
  }
  l = ev_default_loop(0);
  CHECK(l != NULL);
  run_case(l, 1);
  run_case(l, 2);
  printf("ok\n");
  return 0;
}
