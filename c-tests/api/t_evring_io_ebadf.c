/* evring-test: mode=self timeout=20 */
/* evring-only (mode=self): bad file descriptors in io watchers.
 *
 * Debian's libev 4.33 is built with assertions and aborts here on epoll, poll and io_uring
 * (libev-abi.md §4.8, probe fdtest), so this cannot be a differential test. evring implements
 * libev's NDEBUG behaviour instead (§4.8 "Recommendation"): every io watcher on the bad fd is
 * stopped and then receives EV_ERROR|EV_READ|EV_WRITE (0x80000003), whatever its event mask;
 * other watchers keep working. pgagroal relies on this (pgagroal.md §1.4 item 10).
 *
 * Checked on the backend chosen by LIBEV_FLAGS:
 *  1. watchers started on an fd that is already closed: EV_ERROR + stopped, on every backend,
 *     in the first ev_run(EVRUN_ONCE) (not when a timer next wakes the loop);
 *  2. fd closed while its watcher is active (after registration): on poll EV_ERROR + stopped;
 *     on epoll/io_uring the kernel forgets the fd silently, so libev (NDEBUG) reports nothing
 *     and the watcher stays active -- evring may do either, but nothing else;
 *  3. a healthy watcher on the same loop is unaffected and the loop keeps running. */
#include "test.h"

#include <fcntl.h>

#define EV_ERR_RW ((int)(EV_ERROR | EV_READ | EV_WRITE))

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

typedef struct {
  ev_io io;
  int calls;
  int revents;
  int active_in_cb;
  int other;        /* callbacks with anything but EV_ERROR|READ|WRITE */
} rec_io;

static void rec_cb(struct ev_loop *loop, ev_io *w, int revents)
{
  rec_io *r = (rec_io *)w;
  (void)loop;
  r->calls++;
  r->revents = revents;
  r->active_in_cb = ev_is_active(w) ? 1 : 0;
  if (revents != EV_ERR_RW) r->other++;
  if (revents & EV_ERROR) return;    /* pgagroal: "if (revents & EV_ERROR) return;" */
}

static int good_calls;
static void good_cb(struct ev_loop *loop, ev_io *w, int revents)
{
  char c;
  (void)loop;
  if (revents == EV_READ && read(w->fd, &c, 1) == 1) good_calls++;
}

static int closed_fd(void)
{
  int p[2];
  CHECK(pipe(p) == 0);
  close(p[1]);
  close(p[0]);
  return p[0];    /* a number that is not open now */
}

static void s_closed_before_start(void)
{
  struct ev_loop *loop = test_new_loop(0);
  rec_io a, b, c;
  ev_io good;
  int bad, p[2], i;

  bad = closed_fd();
  CHECK(fcntl(bad, F_GETFD) < 0 && errno == EBADF);
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  memset(&c, 0, sizeof c);
  ev_io_init(&a.io, rec_cb, bad, EV_READ);
  ev_io_init(&b.io, rec_cb, bad, EV_WRITE);
  ev_io_init(&c.io, rec_cb, bad, EV_READ | EV_WRITE);
  ev_io_start(loop, &a.io);
  ev_io_start(loop, &b.io);
  ev_io_start(loop, &c.io);
  /* in the first iteration, long before the 10 s guard timer: the loop must not sleep on a
   * change the kernel refused (evring's io_uring backend once did, until the timer) */
  step(loop, 10.0);
  CHECK(!guard_fired);
  TRACE("1. closed before start (backend 0x%x): calls %d/%d/%d revents 0x%x/0x%x/0x%x "
        "active in cb %d/%d/%d, after %d/%d/%d", ev_backend(loop), a.calls, b.calls, c.calls,
        (unsigned)a.revents, (unsigned)b.revents, (unsigned)c.revents, a.active_in_cb,
        b.active_in_cb, c.active_in_cb, ev_is_active(&a.io) ? 1 : 0, ev_is_active(&b.io) ? 1 : 0,
        ev_is_active(&c.io) ? 1 : 0);
  CHECK_EQ_INT(a.calls, 1);
  CHECK_EQ_INT(b.calls, 1);
  CHECK_EQ_INT(c.calls, 1);
  CHECK_EQ_INT(a.revents, EV_ERR_RW);
  CHECK_EQ_INT(b.revents, EV_ERR_RW);
  CHECK_EQ_INT(c.revents, EV_ERR_RW);
  CHECK_EQ_INT(a.active_in_cb + b.active_in_cb + c.active_in_cb, 0);
  CHECK(!ev_is_active(&a.io) && !ev_is_active(&b.io) && !ev_is_active(&c.io));

  /* the loop is healthy afterwards, also when the number is reused by a good fd */
  CHECK(pipe(p) == 0);
  ev_io_init(&good, good_cb, p[0], EV_READ);
  ev_io_start(loop, &good);
  CHECK_EQ_INT(write(p[1], "x", 1), 1);
  for (i = 0; i < 5 && !good_calls; i++) step(loop, 0.5);
  TRACE("   healthy watcher afterwards: calls=%d; error watchers called again: %d", good_calls,
        a.calls + b.calls + c.calls - 3);
  CHECK_EQ_INT(good_calls, 1);
  CHECK_EQ_INT(a.calls + b.calls + c.calls, 3);
  ev_io_stop(loop, &good);
  close(p[0]);
  close(p[1]);
  ev_loop_destroy(loop);
}

static void s_closed_while_active(void)
{
  struct ev_loop *loop = test_new_loop(0);
  rec_io a;
  ev_io good;
  int p[2], q[2], i;
  unsigned be = ev_backend(loop);

  CHECK(pipe(p) == 0);
  CHECK(pipe(q) == 0);
  memset(&a, 0, sizeof a);
  ev_io_init(&a.io, rec_cb, p[0], EV_READ);
  ev_io_start(loop, &a.io);
  ev_io_init(&good, good_cb, q[0], EV_READ);
  ev_io_start(loop, &good);
  step(loop, 0.01);          /* registered with the kernel now */
  close(p[0]);               /* keep p[1] open: no HUP on a dangling registration */
  good_calls = 0;
  for (i = 0; i < 4; i++) CHECK_EQ_INT(write(q[1], "y", 1), 1);
  /* (select/poll may lose the good fd's readiness in the iteration that found the bad fd) */
  for (i = 0; i < 10 && good_calls < 4; i++) step(loop, 0.5);
  TRACE("2. closed while active (backend 0x%x): calls=%d revents=0x%x other=%d active=%d; "
        "healthy watcher calls=%d", be, a.calls, (unsigned)a.revents, a.other,
        ev_is_active(&a.io) ? 1 : 0, good_calls);
  CHECK_EQ_INT(a.other, 0);
  CHECK(a.calls <= 1);
  if (a.calls) CHECK(!ev_is_active(&a.io));
  else CHECK(ev_is_active(&a.io));
  if (be == EVBACKEND_POLL || be == EVBACKEND_SELECT) CHECK_EQ_INT(a.calls, 1);
  CHECK_EQ_INT(good_calls, 4);
  if (ev_is_active(&a.io)) ev_io_stop(loop, &a.io);
  ev_io_stop(loop, &good);
  close(p[1]);
  close(q[0]);
  close(q[1]);
  ev_loop_destroy(loop);
}

int main(void)
{
  WATCHDOG(15);
  signal(SIGPIPE, SIG_IGN);
  s_closed_before_start();
  s_closed_while_active();
  TRACE("done");
  return 0;
}
