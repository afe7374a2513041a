/* evring-test: timeout=30 */
/* ev_periodic: absolute mode, interval mode aligned to offset + k*interval, reschedule_cb call
 * counts, ev_periodic_again, ev_periodic_at after an absolute one fired, missed periods
 * skipped, rw fields re-read at the next reschedule, order against timers.
 *
 * Wall-clock values are never printed: only booleans derived from them. */
#include "test.h"
#include <math.h>

static struct ev_loop *loop;
static test_log lg;

static const char *YN(int b) { return b ? "yes" : "no"; }

/* is x == offset + k*interval for an integer k? Wall-clock values near 1.7e9 have an ulp of
 * about 2.4e-7 s, so "equal" means within 10 microseconds. */
static int aligned(double x, double offset, double interval)
{
  double k = floor((x - offset) / interval + 0.5);
  return fabs(x - (offset + k * interval)) < 1e-5;
}

static void fail_pcb(struct ev_loop *l, ev_periodic *w, int revents)
{
  (void)l; (void)w; (void)revents;
  TRACE("UNEXPECTED periodic callback");
  exit(1);
}

/* ---- 1. absolute ------------------------------------------------------------------------- */
static double abs_offset;
static void abs_cb(struct ev_loop *l, ev_periodic *w, int revents)
{
  test_log_add(&lg, "fired revents=0x%x active=%d pending=%d at==offset:%s now>at:%s", (unsigned)revents,
               ev_is_active(w), ev_is_pending(w), YN(ev_periodic_at(w) == abs_offset),
               YN(ev_now(l) > ev_periodic_at(w)));
}

static void scenario_absolute(void)
{
  ev_periodic p;
  double t0;
  int r;
  t0 = ev_time();
  ev_now_update(loop);
  abs_offset = ev_now(loop) + 0.03;
  test_log_reset(&lg);
  ev_periodic_init(&p, abs_cb, abs_offset, 0., 0);
  ev_periodic_start(loop, &p);
  TRACE("1. absolute periodic (now+30ms): active=%d at==offset:%s", ev_is_active(&p),
        YN(ev_periodic_at(&p) == abs_offset));
  r = ev_run(loop, 0);
  CHECK_DBL_GE(ev_time() - t0, 0.025);
  TRACE("   %s; ev_run -> %d", lg.buf, r);
  TRACE("   after: active=%d ev_periodic_at still == offset:%s", ev_is_active(&p),
        YN(ev_periodic_at(&p) == abs_offset));

  /* restart the fired one: at is in the past now, so it fires at once */
  test_log_reset(&lg);
  ev_periodic_start(loop, &p);
  ev_run(loop, EVRUN_NOWAIT);
  TRACE("   restarted after firing: %s", lg.buf[0] ? "fired in the next NOWAIT iteration" : "did not fire");

  /* absolute time in the past */
  test_log_reset(&lg);
  abs_offset = ev_now(loop) - 10.;
  ev_periodic_set(&p, abs_offset, 0., 0);
  ev_periodic_start(loop, &p);
  ev_run(loop, EVRUN_NOWAIT);
  TRACE("   offset 10s in the past: %s", lg.buf);
}

/* ---- 2. interval mode ---------------------------------------------------------------------- */
static int iv_n;
static void iv_cb(struct ev_loop *l, ev_periodic *w, int revents)
{
  double at = ev_periodic_at(w);
  (void)revents;
  iv_n++;
  test_log_add(&lg, " #%d(active=%d aligned:%s at>now:%s at-now<=ival:%s", iv_n, ev_is_active(w),
               YN(aligned(at, w->offset, w->interval)), YN(at > ev_now(l)),
               YN(at - ev_now(l) <= w->interval + 1e-5));
  test_log_add(&lg, ")");
  if (iv_n == 3)
    ev_periodic_stop(l, w);
}

static void scenario_interval(void)
{
  ev_periodic p;
  double now;
  test_log_reset(&lg);
  iv_n = 0;
  ev_periodic_init(&p, iv_cb, 0.0123, 0.1, 0);
  ev_periodic_start(loop, &p);
  now = ev_now(loop);
  TRACE("2. interval (offset 0.0123, 0.1): active=%d aligned:%s at>now:%s at-now<=ival:%s", ev_is_active(&p),
        YN(aligned(ev_periodic_at(&p), 0.0123, 0.1)), YN(ev_periodic_at(&p) > now),
        YN(ev_periodic_at(&p) - now <= 0.1 + 1e-5));
  ev_run(loop, 0);
  TRACE("  %s", lg.buf);

  /* offset larger than the interval, and an offset far in the past: still aligned */
  ev_periodic_init(&p, fail_pcb, 1234567.891, 0.7, 0);
  ev_periodic_start(loop, &p);
  TRACE("   offset 1234567.891 interval 0.7: aligned:%s at>now:%s at-now<=ival:%s", YN(aligned(ev_periodic_at(&p), 1234567.891, 0.7)),
        YN(ev_periodic_at(&p) > ev_now(loop)), YN(ev_periodic_at(&p) - ev_now(loop) <= 0.7 + 1e-5));
  ev_periodic_stop(loop, &p);
  ev_periodic_init(&p, fail_pcb, 0., 3600., 0);
  ev_periodic_start(loop, &p);
  TRACE("   hourly: aligned to a full hour:%s", YN(aligned(ev_periodic_at(&p), 0., 3600.)));
  ev_periodic_stop(loop, &p);
}

/* ---- 3. missed periods are skipped ---------------------------------------------------------- */
static int skip_n;
static void skip_cb(struct ev_loop *l, ev_periodic *w, int revents)
{
  (void)l; (void)w; (void)revents;
  skip_n++;
}

static void scenario_skip(void)
{
  ev_periodic p;
  int a;
  ev_periodic_init(&p, skip_cb, 0., 0.1, 0);
  ev_periodic_start(loop, &p);
  ev_sleep(0.42);
  skip_n = 0;
  ev_run(loop, EVRUN_NOWAIT);
  a = skip_n;
  TRACE("3. 100ms periodic after a 420ms stall: fired %d time(s); next at aligned:%s in the future:%s within one interval:%s",
        a, YN(aligned(ev_periodic_at(&p), 0., 0.1)), YN(ev_periodic_at(&p) > ev_now(loop)),
        YN(ev_periodic_at(&p) - ev_now(loop) <= 0.1 + 1e-5));
  ev_periodic_stop(loop, &p);
}

/* ---- 4. reschedule_cb ------------------------------------------------------------------- */
static int rs_calls, rs_fired, rs_bad_now;
static double rs_last_now;
static ev_tstamp rs_cb(ev_periodic *w, ev_tstamp now)
{
  (void)w;
  rs_calls++;
  if (now < rs_last_now)
    rs_bad_now++;
  rs_last_now = now;
  return now + 0.01;
}

static void rs_fire_cb(struct ev_loop *l, ev_periodic *w, int revents)
{
  (void)revents;
  rs_fired++;
  test_log_add(&lg, " fired#%d(calls=%d active=%d at>now:%s)", rs_fired, rs_calls, ev_is_active(w) != 0,
               YN(ev_periodic_at(w) > ev_now(l)));
  if (rs_fired == 3)
    ev_periodic_stop(l, w);
}

static void scenario_reschedule(void)
{
  ev_periodic p;
  test_log_reset(&lg);
  rs_calls = rs_fired = rs_bad_now = 0;
  rs_last_now = 0.;
  ev_periodic_init(&p, rs_fire_cb, 0., 0., rs_cb);
  TRACE("4. reschedule_cb: calls after init=%d", rs_calls);
  ev_periodic_start(loop, &p);
  TRACE("   after start: calls=%d at==now+0.01:%s", rs_calls, YN(fabs(ev_periodic_at(&p) - ev_now(loop) - 0.01) < 1e-5));
  ev_run(loop, 0);
  TRACE("  %s; total calls=%d now never decreased:%s", lg.buf, rs_calls, YN(rs_bad_now == 0));

  /* ev_periodic_again on an active and on an inactive one */
  rs_calls = 0;
  ev_periodic_start(loop, &p);
  ev_periodic_again(loop, &p);
  TRACE("   start + again (active): calls=%d active=%d", rs_calls, ev_is_active(&p) != 0);
  ev_periodic_stop(loop, &p);
  ev_periodic_again(loop, &p);
  TRACE("   stop + again (inactive): calls=%d active=%d", rs_calls, ev_is_active(&p) != 0);
  ev_periodic_stop(loop, &p);
  TRACE("   stop: calls=%d", rs_calls);
}

/* ---- 5. ev_periodic_again / rw fields ------------------------------------------------------ */
static int ag_fired;
static void ag_cb(struct ev_loop *l, ev_periodic *w, int revents)
{
  (void)l; (void)w; (void)revents;
  ag_fired++;
}

static int rw_n;
static void rw_cb(struct ev_loop *l, ev_periodic *w, int revents)
{
  (void)l; (void)revents;
  rw_n++;
  if (rw_n == 1)
    test_log_add(&lg, " #1(aligned to 0.02:%s)", YN(aligned(ev_periodic_at(w), 0., 0.02)));
  else
    test_log_add(&lg, " #%d(aligned to 0.05:%s)", rw_n, YN(aligned(ev_periodic_at(w), 0., 0.05)));
  if (rw_n == 1)
    w->interval = 0.05;     /* used from the next reschedule on */
  if (rw_n == 3)
    ev_periodic_stop(l, w);
}

static void scenario_again(void)
{
  ev_periodic p;
  double off;
  off = ev_now(loop) + 100.;
  ev_periodic_init(&p, ag_cb, off, 0., 0);
  ev_periodic_start(loop, &p);
  off = ev_now(loop) + 0.01;
  p.offset = off;
  TRACE("5. absolute at now+100; offset changed to now+10ms while active: at changed:%s", YN(ev_periodic_at(&p) == off));
  ev_periodic_again(loop, &p);
  TRACE("   after ev_periodic_again: at==new offset:%s active=%d", YN(ev_periodic_at(&p) == off),
        ev_is_active(&p) != 0);
  ag_fired = 0;
  ev_run(loop, 0);
  TRACE("   fired=%d active=%d", ag_fired, ev_is_active(&p));

  test_log_reset(&lg);
  rw_n = 0;
  ev_periodic_init(&p, rw_cb, 0., 0.02, 0);
  ev_periodic_start(loop, &p);
  ev_run(loop, 0);
  TRACE("   interval 0.02 changed to 0.05 in the first callback:%s", lg.buf);
}

/* ---- 6. order against timers, several periodics ----------------------------------------- */
static void name_pcb(struct ev_loop *l, ev_periodic *w, int revents)
{
  (void)l; (void)revents;
  test_log_add(&lg, "%s", (const char *)w->data);
}
static void name_tcb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)l; (void)revents;
  test_log_add(&lg, "%s", (const char *)w->data);
}

static void scenario_order(void)
{
  ev_periodic p1, p2, p3;
  ev_timer t1, t2;
  double now = ev_now(loop);
  test_log_reset(&lg);
  ev_periodic_init(&p1, name_pcb, now + 0.003, 0., 0); p1.data = "P3";
  ev_periodic_init(&p2, name_pcb, now + 0.001, 0., 0); p2.data = "P1";
  ev_periodic_init(&p3, name_pcb, now + 0.002, 0., 0); p3.data = "P2";
  ev_timer_init(&t1, name_tcb, 0.002, 0.); t1.data = "T2";
  ev_timer_init(&t2, name_tcb, 0.001, 0.); t2.data = "T1";
  ev_periodic_start(loop, &p1); ev_periodic_start(loop, &p2); ev_periodic_start(loop, &p3);
  ev_timer_start(loop, &t1); ev_timer_start(loop, &t2);
  TRACE("6. active (heap index): P3=%d P1=%d P2=%d T2=%d T1=%d", ev_is_active(&p1), ev_is_active(&p2),
        ev_is_active(&p3), ev_is_active(&t1), ev_is_active(&t2));
  ev_sleep(0.02);
  ev_run(loop, EVRUN_NOWAIT);
  TRACE("   all expired before one NOWAIT iteration: %s", lg.buf);

  /* priorities still order them */
  test_log_reset(&lg);
  now = ev_now(loop);
  ev_periodic_set(&p1, now + 0.001, 0., 0); ev_set_priority(&p1, -1); p1.data = "P(-1)";
  ev_timer_set(&t1, 0.002, 0.); ev_set_priority(&t1, 1); t1.data = "T(+1)";
  ev_periodic_start(loop, &p1);
  ev_timer_start(loop, &t1);
  ev_sleep(0.01);
  ev_run(loop, EVRUN_NOWAIT);
  TRACE("   periodic prio -1 + timer prio 1: %s", lg.buf);
}

int main(void)
{
  WATCHDOG(25);
  loop = test_default_loop();
  scenario_absolute();
  scenario_interval();
  scenario_skip();
  scenario_reschedule();
  scenario_again();
  scenario_order();
  ev_loop_destroy(loop);
  TRACE("done");
  return 0;
}
