/* evring-test: mode=self backends=128 timeout=60 */
/* evring-only: a wait right after the thread closed an io_uring ring is not cut short.
 * Closing a ring makes the kernel queue teardown work to every task that used it, with
 * TWA_SIGNAL: the thread's next blocking wait can fail with EINTR although no signal came
 * (measured: ~17 ms into a 200 ms wait). The io_uring backend resumes such a wait until its
 * deadline (src/backend/uring.rs, `eintr_from_ring_close`); without that, ev_run(EVRUN_ONCE)
 * with a 0.2 s timer would return early, before the timer, where libev waits for it.
 * Each round destroys a loop that has a ring (EVRING_URING_RING_AFTER=0: every io_uring loop
 * makes its ring at once), then runs one EVRUN_ONCE iteration of a new loop whose wait is
 * bounded by a 0.2 s timer (its three io watchers stay idle): (a) the plain epoll_wait path (no interest change pending), and
 * (b) the one-enter ring path (three re-registrations pending, sent with the wait; on kernels
 * without IORING_OP_EPOLL_WAIT, before 6.15, they go out in an enter of their own and the wait
 * is (a)'s). Measured on 6.18: (a)'s epoll_wait fails with EINTR in every round (without the
 * resume, ev_run returned after ~0.02 s with the timer not fired), while (b)'s io_uring_enter
 * runs the teardown work inside its own wait and is not interrupted; (b) guards that this stays
 * so. The timer must have fired when ev_run returns, and not before 0.2 s. In the
 * forced-fallback lane the loops are epoll loops without rings and the same must hold. On a
 * kernel whose ring teardown does not interrupt the thread's next wait the test checks nothing
 * beyond plain timer behaviour. */
#include "test.h"

#include <sys/socket.h>

static int fired;
static void tcb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)l; (void)w; (void)revents;
  fired++;
}
static void iocb(struct ev_loop *l, ev_io *w, int revents)
{
  (void)l; (void)w; (void)revents;
}

static void close_a_ring(void)
{
  struct ev_loop *l = ev_loop_new(EVFLAG_AUTO);
  CHECK(l != NULL);
  ev_run(l, EVRUN_NOWAIT);
  ev_loop_destroy(l);
}

static void round_trip(int ring_path)
{
  int s[3][2], i;
  ev_io w[3];
  ev_timer t;
  double t0, dt;
  struct ev_loop *l;

  close_a_ring();
  l = ev_loop_new(EVFLAG_AUTO);
  CHECK(l != NULL);
  for (i = 0; i < 3; i++) {
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s[i]) == 0);
    ev_io_init(&w[i], iocb, s[i][0], EV_READ);
    ev_io_start(l, &w[i]);
  }
  ev_run(l, EVRUN_NOWAIT); /* the registrations go out */
  close_a_ring();          /* the window starts now, for the wait below */
  if (ring_path)
    for (i = 0; i < 3; i++) { /* three re-registrations: sent in one enter with the wait */
      ev_io_stop(l, &w[i]);
      ev_io_set(&w[i], s[i][0], EV_READ); /* without it, the same mask is no change at all */
      ev_io_start(l, &w[i]);
    }
  ev_now_update(l); /* the timer counts from now, not from before close_a_ring() */
  ev_timer_init(&t, tcb, 0.2, 0.);
  ev_timer_start(l, &t);
  fired = 0;
  t0 = ev_time();
  ev_run(l, EVRUN_ONCE);
  dt = ev_time() - t0;
  if (!fired || dt < 0.19)
    fprintf(stderr, "%s path: ev_run(EVRUN_ONCE) returned after %.3f s, timer fired %d\n",
            ring_path ? "ring" : "plain", dt, fired);
  CHECK(fired == 1);
  CHECK_DBL_GE(dt, 0.19);
  for (i = 0; i < 3; i++) {
    ev_io_stop(l, &w[i]);
    close(s[i][0]);
    close(s[i][1]);
  }
  ev_loop_destroy(l);
}

int main(void)
{
  int r;
  WATCHDOG_KILL(50); /* no SIGALRM: a signal would be a real EINTR */
  setenv("EVRING_URING_RING_AFTER", "0", 1);
  for (r = 0; r < 5; r++) {
    round_trip(0);
    round_trip(1);
  }
  printf("ok\n");
  return 0;
}
