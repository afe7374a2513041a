/* evring-test: mode=self backends=1,2,4,128 timeout=30 variants=plain,ring */
/* Watchers changed while the loop is released (between the release and acquire hooks: where
 * another thread, holding the application's loop mutex, may stop and start watchers and close
 * and open fds). Here the hooks do it themselves, so the window is hit deterministically:
 *  - the release hook (called just before the loop's wait) stops watcher w0 and closes its
 *    fd, after the loop has taken w0's re-registration into the batch it is about to send;
 *  - the acquire hook (just after the wait) opens a pipe on the same fd number, writes a
 *    byte into it and starts w0 on it again.
 * w0 must then be reported readable on the new pipe (libev: the change is applied at the next
 * fd_reify). evring's io_uring backend sends batched changes in the enter of the wait: the
 * registration for the closed fd fails (EBADF) and that result arrives after the acquire
 * hook; it once gave w0 EV_ERROR although w0 now watches a valid pipe (found by review).
 * The poll backend: the fd was closed during poll(), which reports POLLNVAL for it; evring
 * once killed the fd for it, giving the new pipe's watcher a stale EV_ERROR.
 * Not differential: Debian's libev asserts on io_uring ("event loop rejected bad fd") and on
 * poll ("poll found invalid fd in poll set"; built without assertions it kills the fd, as
 * evring did); on epoll and select its trace is the one checked here.
 * Variant `ring`: every batch through the ring from the first iteration
 * (EVRING_URING_RING_AFTER=0, EVRING_URING_SMALL=0; libev ignores them). The three watchers
 * are re-registered (stop, set to the same fd and mask, start) before the iteration, so the
 * batch is one the io_uring backend sends together with its wait. */
#include "test.h"

#define K 3

static struct ev_loop *L;
static ev_io w[K];
static int fds[K][2];
static int armed, released, acquired, done;

static void io_cb(struct ev_loop *l, ev_io *io, int revents)
{
  char c;
  int i = (int)(io - w);
  (void)l;
  TRACE("w%d: revents %s%s%s", i, revents & EV_READ ? "READ " : "", revents & EV_WRITE ? "WRITE " : "",
        revents & EV_ERROR ? "ERROR" : "");
  CHECK(i == 0);
  CHECK(revents == EV_READ);
  CHECK(test_read1(io->fd, &c) == 1);
  TRACE("w%d: read '%c'", i, c);
  done = 1;
}

static void timer_cb(struct ev_loop *l, ev_timer *t, int revents)
{
  (void)l; (void)t; (void)revents;
}

static void release_cb(struct ev_loop *l)
{
  if (!armed || released) return;
  released = 1;
  ev_io_stop(l, &w[0]);
  CHECK(close(fds[0][0]) == 0);
}

static void acquire_cb(struct ev_loop *l)
{
  int p[2];
  if (!released || acquired) return;
  acquired = 1;
  CHECK(pipe(p) == 0);
  /* the new pipe's read end on the closed number */
  if (p[0] != fds[0][0]) {
    CHECK(dup2(p[0], fds[0][0]) == fds[0][0]);
    CHECK(close(p[0]) == 0);
  }
  CHECK(close(fds[0][1]) == 0);
  fds[0][1] = p[1];
  CHECK(write(fds[0][1], "x", 1) == 1);
  ev_io_set(&w[0], fds[0][0], EV_READ);
  ev_io_start(l, &w[0]);
}

int main(int argc, char **argv)
{
  ev_timer t;
  int i, it;
  WATCHDOG(20);
  if (argc > 1 && !strcmp(argv[1], "ring")) {
    setenv("EVRING_URING_RING_AFTER", "0", 1);
    setenv("EVRING_URING_SMALL", "0", 1);
  }
  L = ev_loop_new(EVFLAG_AUTO);
  CHECK(L != NULL);
  for (i = 0; i < K; i++) {
    CHECK(pipe(fds[i]) == 0);
    ev_io_init(&w[i], io_cb, fds[i][0], EV_READ);
    ev_io_start(L, &w[i]);
  }
  ev_timer_init(&t, timer_cb, 0.05, 0.05);
  ev_timer_start(L, &t);
  ev_run(L, EVRUN_NOWAIT);
  ev_set_loop_release_cb(L, release_cb, acquire_cb);
  for (it = 0; it < 20 && !done; it++) {
    if (it == 0) {
      for (i = 0; i < K; i++) {
        ev_io_stop(L, &w[i]);
        ev_io_set(&w[i], fds[i][0], EV_READ);
        ev_io_start(L, &w[i]);
      }
      armed = 1;
    }
    ev_run(L, EVRUN_ONCE);
  }
  TRACE("released %d acquired %d done %d", released, acquired, done);
  CHECK(done);
  for (i = 0; i < K; i++) {
    ev_io_stop(L, &w[i]);
    close(fds[i][0]);
    close(fds[i][1]);
  }
  ev_timer_stop(L, &t);
  ev_loop_destroy(L);
  TRACE("end");
  return 0;
}
