/* evring-test: mode=diff backends=all timeout=30 */
/* When libev reads the wall clock for its periodics (found by a differential hunt; both
 * are what libev's internal timerfd callback does, run when the timerfd is made):
 *  1. The first ev_periodic_start of a loop makes the timerfd and so refreshes ev_now():
 *     a periodic started after a stall without a time update is scheduled from the real
 *     time, not from the stale ev_now() (evring scheduled it in the past and fired an extra,
 *     off-grid catch-up event).
 *  2. ev_loop_fork remakes the timerfd: the periodics are rescheduled from the real time, so
 *     periods missed while the loop did not run are skipped (evring fired a catch-up event).
 * Times are checked with margins of several tenths of a second (robust on a loaded machine):
 * each stall ends 0.2 s after a whole wall-clock second. */
#include "test.h"

#include <math.h>

static int fired;

static const char *YN(int b) { return b ? "yes" : "no"; }

static void cb(struct ev_loop *l, ev_periodic *w, int revents)
{
  (void)l; (void)w;
  CHECK(revents == EV_PERIODIC);
  fired++;
}

/* Busy-wait (the loop does not run, ev_now() stays) for at least `min` seconds, until the
 * wall clock is 0.2 s past a whole second. */
static void stall_to_x2(double min)
{
  double t0 = ev_time(), t;
  for (;;) {
    t = ev_time();
    if (t - t0 >= min && t - floor(t) >= 0.2 && t - floor(t) < 0.3) return;
    usleep(1000);
  }
}

int main(void)
{
  struct ev_loop *l;
  ev_periodic p;
  double before;
  WATCHDOG(20);
  l = ev_default_loop(0);
  CHECK(l != NULL);

  /* 1. */
  ev_run(l, EVRUN_NOWAIT);
  before = ev_now(l);
  stall_to_x2(1.0);
  ev_periodic_init(&p, cb, 0., 1., 0);
  ev_periodic_start(l, &p);
  TRACE("1. first periodic start after a stall: ev_now() refreshed: %s; scheduled in the future: %s",
        YN(ev_now(l) - before > 0.9), YN(ev_periodic_at(&p) > ev_time()));
  fired = 0;
  ev_run(l, EVRUN_NOWAIT);
  TRACE("   fired in the next non-blocking iteration: %d", fired);

  /* 2. */
  fired = 0;
  stall_to_x2(1.0); /* two periods missed */
  ev_loop_fork(l);
  ev_run(l, EVRUN_NOWAIT);
  TRACE("2. after ev_loop_fork: missed periods fired in the next non-blocking iteration: %d", fired);
  ev_run(l, EVRUN_NOWAIT);
  TRACE("   and in the one after: %d", fired);
  ev_periodic_stop(l, &p);
  TRACE("end");
  return 0;
}
