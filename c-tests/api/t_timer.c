/* evring-test: timeout=30 */
/* ev_timer: expiry order, zero/negative timers, strict expiry, repeat without catch-up bursts,
 * ev_timer_again (all four cases), ev_timer_remaining, `at` written back on stop, restart
 * without ev_timer_set, repeat re-read at expiry, stop/start inside callbacks, one-shots that
 * are inactive but still queued, 1000 pseudo-random timers, raw heap indices in `active`.
 *
 * Times are never printed; only exact values that do not depend on the clock (e.g. the
 * remaining time while the cached loop time has not moved) or derived booleans. */
#include "test.h"
#include <math.h>

static struct ev_loop *loop;
static test_log lg;

static void name_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)l;
  test_log_add(&lg, "%s", (const char *)w->data);
  if (revents != EV_TIMER)
    test_log_add(&lg, "(revents=0x%x)", (unsigned)revents);
}

static void fail_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)l; (void)revents;
  TRACE("UNEXPECTED timer callback %s", w->data ? (const char *)w->data : "?");
  exit(1);
}

static void named(ev_timer *w, const char *name, double after, double repeat)
{
  ev_timer_init(w, name_cb, after, repeat);
  w->data = (void *)name;
}

static void run_until_idle(struct ev_loop *l)
{
  ev_run(l, 0);
}

/* ---- 1. expiry order --------------------------------------------------------------------- */
static void scenario_order(void)
{
  ev_timer x, y, z, w, ties[5];
  static const char *const tn[5] = { "1", "2", "3", "4", "5" };
  int i;
  double t0 = ev_time();

  ev_now_update(loop);    /* timers are relative to the cached loop time: make it >= t0 */
  test_log_reset(&lg);
  named(&x, "X", 0.03, 0.); named(&y, "Y", 0.01, 0.); named(&z, "Z", 0.02, 0.); named(&w, "W", 0.01, 0.);
  ev_timer_start(loop, &x); ev_timer_start(loop, &y); ev_timer_start(loop, &z); ev_timer_start(loop, &w);
  TRACE("1. started X.03 Y.01 Z.02 W.01: active X=%d Y=%d Z=%d W=%d", ev_is_active(&x), ev_is_active(&y),
        ev_is_active(&z), ev_is_active(&w));
  run_until_idle(loop);
  CHECK_DBL_GE(ev_time() - t0, 0.029);
  TRACE("   fired: %s", lg.buf);

  /* all expire in the same iteration: earliest deadline first */
  test_log_reset(&lg);
  named(&x, "C", 0.003, 0.); named(&y, "A", 0.001, 0.); named(&z, "B", 0.002, 0.); named(&w, "D", 0.004, 0.);
  ev_timer_start(loop, &w); ev_timer_start(loop, &x); ev_timer_start(loop, &y); ev_timer_start(loop, &z);
  ev_sleep(0.02);
  ev_run(loop, EVRUN_NOWAIT);
  TRACE("   D.004 C.003 A.001 B.002 all expired before one NOWAIT iteration: %s", lg.buf);

  /* identical deadlines */
  test_log_reset(&lg);
  for (i = 0; i < 5; i++) {
    named(&ties[i], tn[i], 0.002, 0.);
    ev_timer_start(loop, &ties[i]);
  }
  run_until_idle(loop);
  TRACE("   5 timers with identical deadlines started 1..5: %s", lg.buf);
  test_log_reset(&lg);
  for (i = 4; i >= 0; i--)
    ev_timer_start(loop, &ties[i]);
  ev_sleep(0.005);
  ev_run(loop, EVRUN_NOWAIT);
  TRACE("   started 5..1: %s", lg.buf);
}

/* ---- 2. zero and negative timers --------------------------------------------------------- */
static void scenario_zero(void)
{
  ev_timer z, n;
  test_log_reset(&lg);
  named(&z, "0", 0., 0.);
  named(&n, "-", -5., 0.);
  ev_timer_start(loop, &z);
  ev_timer_start(loop, &n);
  TRACE("2. remaining: zero=%.3f negative=%.3f pending=%d/%d", ev_timer_remaining(loop, &z),
        ev_timer_remaining(loop, &n), ev_is_pending(&z), ev_is_pending(&n));
  ev_run(loop, EVRUN_NOWAIT);
  TRACE("   fired in the first NOWAIT iteration: '%s' active=%d/%d", lg.buf, ev_is_active(&z), ev_is_active(&n));
}

/* ---- 3. strict expiry (never early) ------------------------------------------------------- */
static double strict_t0, strict_seen;
static void strict_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)l; (void)w; (void)revents;
  strict_seen = ev_time() - strict_t0;
}

static void scenario_strict(void)
{
  ev_timer t;
  int k;
  for (k = 0; k < 3; k++) {
    double after = 0.005 * (k + 1);
    strict_t0 = ev_time();     /* before the loop time the timer is relative to */
    ev_now_update(loop);
    ev_timer_init(&t, strict_cb, after, 0.);
    ev_timer_start(loop, &t);
    ev_run(loop, 0);
    /* the timer is relative to the cached loop time, refreshed just before t0 */
    CHECK_DBL_GE(strict_seen, after - 0.0005);
  }
  TRACE("3. 5/10/15 ms timers never fired early: yes");
}

/* ---- 4. repeat without catch-up bursts ---------------------------------------------------- */
static int rep_fired;
static void rep_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)l; (void)w; (void)revents;
  rep_fired++;
}

static void scenario_no_burst(void)
{
  ev_timer t;
  int a, b;
  ev_timer_init(&t, rep_cb, 0.1, 0.1);
  ev_timer_start(loop, &t);
  ev_sleep(0.45);           /* four periods missed */
  rep_fired = 0;
  ev_run(loop, EVRUN_NOWAIT);
  a = rep_fired;
  TRACE("4. 100ms repeating timer after a 450ms stall: fired %d time(s), remaining=%.4f", a,
        ev_timer_remaining(loop, &t));
  ev_run(loop, EVRUN_NOWAIT);
  b = rep_fired - a;
  /* (whether the iteration after that fires again depends on how long these took) */
  TRACE("   the next NOWAIT iteration fired %d (the deadline was set to the loop time)", b);
  ev_timer_stop(loop, &t);
}

/* ---- 5. ev_timer_again ------------------------------------------------------------------- */
static void scenario_again(void)
{
  ev_timer t;
  ev_timer_init(&t, fail_cb, 5., 7.);
  t.data = "again";
  ev_timer_again(loop, &t);
  TRACE("5. inactive, repeat 7 (after 5): again -> active=%d remaining=%.3f", ev_is_active(&t) != 0,
        ev_timer_remaining(loop, &t));
  t.repeat = 9.;
  ev_timer_again(loop, &t);
  TRACE("   active, repeat 9: again -> active=%d remaining=%.3f", ev_is_active(&t) != 0,
        ev_timer_remaining(loop, &t));
  ev_feed_event(loop, &t, EV_TIMER);
  ev_timer_again(loop, &t);
  TRACE("   pending before again: is_pending after=%d", ev_is_pending(&t));
  t.repeat = 0.;
  ev_timer_again(loop, &t);
  TRACE("   active, repeat 0: again -> active=%d remaining=%.3f at=%.3f", ev_is_active(&t),
        ev_timer_remaining(loop, &t), t.at);
  ev_timer_set(&t, 4., 0.);
  ev_timer_again(loop, &t);
  TRACE("   inactive, repeat 0 (after 4): again -> active=%d remaining=%.3f", ev_is_active(&t),
        ev_timer_remaining(loop, &t));
  ev_feed_event(loop, &t, EV_TIMER);
  ev_timer_again(loop, &t);
  TRACE("   inactive+pending, repeat 0: again -> is_pending=%d", ev_is_pending(&t));
}

/* an inactivity timeout kept alive by ev_timer_again from another watcher */
static int idle_kicks, inact_fired;
static ev_timer inact;
static void inact_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)revents;
  inact_fired = idle_kicks;
  ev_timer_stop(l, w);
}
static void kick_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)revents;
  if (++idle_kicks == 5)
    ev_timer_stop(l, w);
  else
    ev_timer_again(l, &inact);
}

static void scenario_again_pattern(void)
{
  ev_timer kick;
  ev_timer_init(&inact, inact_cb, 0., 0.5);
  ev_timer_again(loop, &inact);
  ev_timer_init(&kick, kick_cb, 0.02, 0.02);
  ev_timer_start(loop, &kick);
  ev_run(loop, 0);
  TRACE("   inactivity timer (500ms) kicked every 20ms 4 times: fired after kick #%d, active=%d", inact_fired,
        ev_is_active(&inact));
  ev_timer_stop(loop, &inact);
}

/* ---- 6. remaining / at written back / leftover ------------------------------------------- */
static void scenario_remaining(void)
{
  ev_timer t, n;
  double left, rem;
  ev_timer_init(&n, fail_cb, 5., 7.);
  TRACE("6. never started (5,7): remaining=%.3f", ev_timer_remaining(loop, &n));
  ev_timer_init(&t, fail_cb, 10., 0.);
  ev_timer_start(loop, &t);
  TRACE("   active 10s: remaining=%.3f", ev_timer_remaining(loop, &t));
  ev_timer_stop(loop, &t);
  TRACE("   stopped at once: remaining=%.3f at=%.3f", ev_timer_remaining(loop, &t), t.at);
  ev_timer_start(loop, &t);
  ev_sleep(0.02);
  TRACE("   after 20ms without a time update: remaining=%.3f", ev_timer_remaining(loop, &t));
  ev_now_update(loop);
  rem = ev_timer_remaining(loop, &t);
  TRACE("   after ev_now_update: remaining below 9.985: %s, above 9: %s", rem < 9.985 ? "yes" : "no",
        rem > 9. ? "yes" : "no");
  ev_timer_stop(loop, &t);
  left = t.at;
  TRACE("   stopped: at == remaining before stop: %s", fabs(left - rem) < 1e-9 ? "yes" : "no");
  ev_timer_start(loop, &t);
  TRACE("   restarted without set: remaining == leftover: %s",
        fabs(ev_timer_remaining(loop, &t) - left) < 1e-6 ? "yes" : "no");
  ev_timer_stop(loop, &t);
}

static int oneshot_fired;
static void oneshot_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)l; (void)revents;
  oneshot_fired++;
  test_log_add(&lg, "[in cb: active=%d pending=%d]", ev_is_active(w), ev_is_pending(w));
}

static void scenario_leftover(void)
{
  ev_timer t;
  test_log_reset(&lg);
  oneshot_fired = 0;
  ev_timer_init(&t, oneshot_cb, 0.002, 0.);
  ev_timer_start(loop, &t);
  ev_run(loop, 0);
  TRACE("   fired one-shot: %s; after: active=%d at<0: %s remaining==at: %s", lg.buf, ev_is_active(&t),
        t.at < 0 ? "yes" : "no", ev_timer_remaining(loop, &t) == t.at ? "yes" : "no");
  ev_timer_start(loop, &t);
  ev_run(loop, EVRUN_NOWAIT);
  TRACE("   restarted without set: fired in the next NOWAIT iteration: %s", oneshot_fired == 2 ? "yes" : "no");
}

/* ---- 7. repeat re-read at expiry; stop/start in callbacks --------------------------------- */
static int rr_n;
static test_log rr;
static void rr_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)revents;
  rr_n++;
  test_log_add(&rr, " #%d active=%d", rr_n, ev_is_active(w) != 0);
  if (rr_n == 1) {
    test_log_add(&rr, " rem<=0.01:%s", ev_timer_remaining(l, w) <= 0.01 ? "yes" : "no");
    w->repeat = 0.3;      /* read again at the next expiry */
  } else if (rr_n == 2) {
    test_log_add(&rr, " rem>0.1:%s", ev_timer_remaining(l, w) > 0.1 ? "yes" : "no");
    w->repeat = 0.;       /* next expiry: behaves like a one-shot */
  }
}

static void scenario_repeat_reread(void)
{
  ev_timer t;
  test_log_reset(&rr);
  rr_n = 0;
  ev_timer_init(&t, rr_cb, 0.01, 0.01);
  ev_timer_start(loop, &t);
  ev_run(loop, 0);
  TRACE("7. repeat changed 0.01 -> 0.3 -> 0 in callbacks:%s; ev_run returned with active=%d", rr.buf,
        ev_is_active(&t));
}

static ev_timer sc_a, sc_b, sc_c;
static int sc_phase;
static void sc_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)revents;
  test_log_add(&lg, " %s(a=%d", (const char *)w->data, ev_is_active(w) != 0);
  if (w == &sc_a) {
    /* B and C expired in the same iteration and are queued behind A */
    test_log_add(&lg, ",B:a=%d,p=%d,C:a=%d,p=%d", ev_is_active(&sc_b) != 0, ev_is_pending(&sc_b) != 0,
                 ev_is_active(&sc_c) != 0, ev_is_pending(&sc_c) != 0);
    if (sc_phase == 0) {
      ev_timer_stop(l, &sc_b);        /* queued one-shot: stopping discards its event */
      ev_timer_start(l, &sc_c);       /* queued one-shot restarted: still queued, now active */
    }
  }
  test_log_add(&lg, ")");
  if (w == &sc_c && ev_is_active(w))
    ev_timer_stop(l, w);
}

static void scenario_stop_start_in_cb(void)
{
  for (sc_phase = 0; sc_phase < 2; sc_phase++) {
    test_log_reset(&lg);
    ev_timer_init(&sc_a, sc_cb, 0.001, 0.); sc_a.data = "A";
    ev_timer_init(&sc_b, sc_cb, 0.002, 0.); sc_b.data = "B";
    ev_timer_init(&sc_c, sc_cb, 0.003, 0.); sc_c.data = "C";
    ev_timer_start(loop, &sc_a); ev_timer_start(loop, &sc_b); ev_timer_start(loop, &sc_c);
    ev_sleep(0.01);
    ev_run(loop, EVRUN_NOWAIT);
    TRACE("   A,B,C expired together; %s:%s", sc_phase ? "A only looks" : "A stops B, restarts C", lg.buf);
    ev_timer_stop(loop, &sc_a); ev_timer_stop(loop, &sc_b); ev_timer_stop(loop, &sc_c);
  }
}

static int zero_in_cb_iter;
static ev_timer zero_child;
static void zero_child_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)w; (void)revents;
  test_log_add(&lg, " child(iteration+%u)", ev_iteration(l) - (unsigned)zero_in_cb_iter);
}
static void zero_parent_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)w; (void)revents;
  zero_in_cb_iter = (int)ev_iteration(l);
  test_log_add(&lg, " parent");
  ev_timer_init(&zero_child, zero_child_cb, 0., 0.);
  ev_timer_start(l, &zero_child);
}

static void scenario_zero_from_cb(void)
{
  ev_timer p;
  test_log_reset(&lg);
  ev_timer_init(&p, zero_parent_cb, 0.001, 0.);
  ev_timer_start(loop, &p);
  ev_run(loop, 0);
  TRACE("   0s timer started in a callback:%s", lg.buf);
}

/* ---- 8. heap indices --------------------------------------------------------------------- */
static unsigned fnv(unsigned h, unsigned v)
{
  int i;
  for (i = 0; i < 4; i++) {
    h ^= (v >> (8 * i)) & 0xff;
    h *= 16777619u;
  }
  return h;
}

#define NT 1000
static ev_timer many[NT];
static int fire_seq[NT], fire_n;
static unsigned perm[NT];

static void many_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)l; (void)revents;
  CHECK(fire_n < NT);
  fire_seq[fire_n++] = (int)(w - many);
}

static void scenario_heap(void)
{
  struct ev_loop *l = test_new_loop(0);
  ev_timer t1, t2, t3;
  unsigned seed = 12345u, h;
  int i, sorted = 1, stopped = 0;

  ev_timer_init(&t1, fail_cb, 10., 0.);
  ev_timer_init(&t2, fail_cb, 20., 0.);
  ev_timer_init(&t3, fail_cb, 30., 0.);
  ev_timer_start(l, &t1); ev_timer_start(l, &t2); ev_timer_start(l, &t3);
  TRACE("8. active (heap index) t1(10s)=%d t2(20s)=%d t3(30s)=%d", ev_is_active(&t1), ev_is_active(&t2),
        ev_is_active(&t3));
  ev_timer_stop(l, &t1); ev_timer_stop(l, &t2); ev_timer_stop(l, &t3);
  ev_timer_start(l, &t3); ev_timer_start(l, &t2); ev_timer_start(l, &t1);
  TRACE("   reverse start order: t1=%d t2=%d t3=%d", ev_is_active(&t1), ev_is_active(&t2), ev_is_active(&t3));
  ev_timer_stop(l, &t2);
  TRACE("   after stopping t2: t1=%d t3=%d", ev_is_active(&t1), ev_is_active(&t3));
  ev_timer_stop(l, &t1); ev_timer_stop(l, &t3);

  /* a fixed pseudo-random permutation of 0..NT-1 (Fisher-Yates with an LCG) */
  for (i = 0; i < NT; i++)
    perm[i] = (unsigned)i;
  for (i = NT - 1; i > 0; i--) {
    unsigned j, tmp;
    seed = seed * 1103515245u + 12345u;
    j = (seed >> 8) % (unsigned)(i + 1);
    tmp = perm[i]; perm[i] = perm[j]; perm[j] = tmp;
  }
  for (i = 0; i < NT; i++) {
    ev_timer_init(&many[i], many_cb, 0.002 + perm[i] * 0.0001, 0.);
    ev_timer_start(l, &many[i]);
  }
  test_log_reset(&lg);
  for (i = 0; i < 10; i++)
    test_log_add(&lg, "%d ", ev_is_active(&many[i]));
  h = 2166136261u;
  for (i = 0; i < NT; i++)
    h = fnv(h, (unsigned)ev_is_active(&many[i]));
  TRACE("   %d timers started: first ten active=%s hash(all active)=%08x", NT, lg.buf, h);
  for (i = 0; i < NT; i += 3) {
    ev_timer_stop(l, &many[i]);
    stopped++;
  }
  h = 2166136261u;
  for (i = 0; i < NT; i++)
    h = fnv(h, (unsigned)ev_is_active(&many[i]));
  TRACE("   stopped every third: hash(all active)=%08x", h);
  for (i = 0; i < NT; i += 3)
    ev_timer_start(l, &many[i]);
  h = 2166136261u;
  for (i = 0; i < NT; i++)
    h = fnv(h, (unsigned)ev_is_active(&many[i]));
  TRACE("   restarted them: hash(all active)=%08x", h);
  ev_verify(l);

  fire_n = 0;
  ev_run(l, 0);
  for (i = 1; i < fire_n; i++)
    if (perm[fire_seq[i - 1]] >= perm[fire_seq[i]])
      sorted = 0;
  TRACE("   fired %d, in deadline order: %s (stopped+restarted %d)", fire_n, sorted ? "yes" : "no", stopped);
  ev_loop_destroy(l);
}

int main(void)
{
  WATCHDOG(25);
  loop = test_default_loop();
  scenario_order();
  scenario_zero();
  scenario_strict();
  scenario_no_burst();
  scenario_again();
  scenario_again_pattern();
  scenario_remaining();
  scenario_leftover();
  scenario_repeat_reread();
  scenario_stop_start_in_cb();
  scenario_zero_from_cb();
  scenario_heap();
  ev_loop_destroy(loop);
  TRACE("done");
  return 0;
}
