/* evring-test: timeout=60 */
/* Orders that the loop's fast paths must keep exactly as libev has them:
 *  1. the timer heap under a long pseudo-random mix of start / stop / again / set+start with
 *     many equal deadlines: every watcher's raw `active` (its heap index) is hashed after
 *     each round, and ev_verify runs;
 *  2. the firing order of 600 timers with only three distinct deadlines (one NOWAIT run);
 *  3. pending queues across priorities: events fed out of order, callbacks that feed
 *     higher, equal and lower priorities, clear pending entries (also the last one of a
 *     queue), and run ev_invoke_pending nested;
 *  4. idle watchers at several priorities with pending work at, above and below them.
 * Only orders, counts and indices are printed, never times. */
#include "test.h"

static struct ev_loop *loop;
static test_log lg;

static unsigned long long rng = 88172645463325252ULL;
static unsigned next_rand(void)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (unsigned)(rng >> 11);
}

/* ---- 1. heap indices --------------------------------------------------------------------- */
#define NT 2000
static ev_timer t[NT];
static void never_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)l; (void)w; (void)revents;
  TRACE("UNEXPECTED timer callback");
  exit(1);
}

static unsigned active_hash(void)
{
  unsigned h = 2166136261u;
  for (int i = 0; i < NT; i++) {
    h ^= (unsigned)ev_is_active(&t[i]);
    h *= 16777619u;
  }
  return h;
}

static void heap_rounds(void)
{
  /* Deadlines in whole seconds far ahead: all timers of a class are exactly equal. */
  for (int i = 0; i < NT; i++) {
    ev_timer_init(&t[i], never_cb, 1000. + (next_rand() % 6) * 100., 0.);
    t[i].data = (void *)(long)i;
  }
  for (int i = 0; i < NT; i++)
    ev_timer_start(loop, &t[i]);
  TRACE("1. started %d: hash %08x, first actives %d %d %d %d", NT, active_hash(), ev_is_active(&t[0]),
        ev_is_active(&t[1]), ev_is_active(&t[2]), ev_is_active(&t[3]));
  ev_verify(loop);
  for (int round = 0; round < 12; round++) {
    int starts = 0, stops = 0, agains = 0;
    for (int k = 0; k < NT; k++) {
      int i = (int)(next_rand() % NT);
      switch (next_rand() % 4) {
      case 0:
        if (ev_is_active(&t[i])) stops++;
        ev_timer_stop(loop, &t[i]);
        break;
      case 1:
        t[i].repeat = 500. + (next_rand() % 4) * 250.;
        ev_timer_again(loop, &t[i]);
        agains++;
        break;
      case 2:
        if (!ev_is_active(&t[i])) {
          ev_timer_set(&t[i], 1000. + (next_rand() % 6) * 100., 0.);
          ev_timer_start(loop, &t[i]);
          starts++;
        }
        break;
      default:
        t[i].repeat = 0.;
        ev_timer_again(loop, &t[i]); /* repeat 0: stops an active timer */
        agains++;
        break;
      }
    }
    int n = 0;
    for (int i = 0; i < NT; i++)
      n += ev_is_active(&t[i]) != 0;
    ev_verify(loop);
    TRACE("   round %2d: starts %4d stops %4d agains %4d active %4d hash %08x", round, starts, stops, agains, n,
          active_hash());
  }
  for (int i = NT - 1; i >= 0; i -= 2)
    ev_timer_stop(loop, &t[i]);
  TRACE("   every other stopped from the end: hash %08x", active_hash());
  for (int i = 0; i < NT; i++)
    ev_timer_stop(loop, &t[i]);
  TRACE("   all stopped: hash %08x pending %u", active_hash(), ev_pending_count(loop));
  ev_verify(loop);
}

/* ---- 2. firing order with equal deadlines -------------------------------------------------- */
#define NF 600
static ev_timer f[NF];
static int fired[NF], nfired;
static void fire_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)l; (void)revents;
  fired[nfired++] = (int)(long)w->data;
}

static void firing_order(void)
{
  ev_now_update(loop);
  for (int i = 0; i < NF; i++) {
    int cls = (int)(next_rand() % 3);
    ev_timer_init(&f[i], fire_cb, cls * 0.002, cls == 1 ? 3600. : 0.);
    f[i].data = (void *)(long)i;
    ev_timer_start(loop, &f[i]);
  }
  /* Some removals before they fire, so the heap has holes filled from its end. */
  for (int i = 0; i < NF; i += 7)
    ev_timer_stop(loop, &f[i]);
  usleep(20000);
  nfired = 0;
  ev_run(loop, EVRUN_NOWAIT);
  unsigned h = 2166136261u;
  for (int i = 0; i < nfired; i++) {
    h ^= (unsigned)fired[i];
    h *= 16777619u;
  }
  TRACE("2. fired %d in one NOWAIT run, order hash %08x, first %d %d %d %d %d, last %d", nfired, h, fired[0],
        fired[1], fired[2], fired[3], fired[4], fired[nfired - 1]);
  int still = 0;
  for (int i = 0; i < NF; i++)
    if (ev_is_active(&f[i])) still++;
  TRACE("   still active (repeating): %d", still);
  for (int i = 0; i < NF; i++)
    ev_timer_stop(loop, &f[i]);
}

/* ---- 3. pending queues --------------------------------------------------------------------- */
static ev_prepare p[10];
static int step, refeeds;
static void p_cb(struct ev_loop *l, ev_prepare *w, int revents)
{
  int id = (int)(w - p);
  test_log_add(&lg, "%d(%d)", id, ev_priority(w));
  (void)revents;
  switch (step) {
  case 1:
    if (id == 0) { /* lowest priority runs: feed higher ones, they must run next */
      ev_feed_event(l, &p[9], EV_CUSTOM);
      ev_feed_event(l, &p[7], EV_CUSTOM);
      ev_feed_event(l, &p[1], EV_CUSTOM);
    }
    if (id == 9) /* clear the newest entry of a queue, and one that already ran */
      test_log_add(&lg, "[c%d,%d]", ev_clear_pending(l, &p[1]) != 0, ev_clear_pending(l, &p[4]) != 0);
    break;
  case 2:
    if (id == 5) { /* nested invoke from a callback drains everything fed so far */
      ev_feed_event(l, &p[2], EV_CUSTOM);
      ev_feed_event(l, &p[7], EV_CUSTOM);
      test_log_add(&lg, "<");
      ev_invoke_pending(l);
      test_log_add(&lg, ">");
    }
    break;
  case 3:
    if (id == 3 && refeeds < 2) { /* feed itself again from its own callback */
      refeeds++;
      ev_feed_event(l, &p[3], EV_CUSTOM);
    }
    break;
  }
}

static void pending_queues(void)
{
  static const int pri[10] = { -2, -1, -2, 0, 1, 2, 0, -1, 2, 1 };
  for (int i = 0; i < 10; i++) {
    ev_prepare_init(&p[i], p_cb);
    ev_set_priority(&p[i], pri[i]);
  }
  static const int order1[] = { 0, 3, 6, 4, 8, 5, 2 };
  step = 1;
  test_log_reset(&lg);
  for (unsigned i = 0; i < sizeof order1 / sizeof *order1; i++)
    ev_feed_event(loop, &p[order1[i]], EV_CUSTOM);
  TRACE("3. fed 7, pending %u", ev_pending_count(loop));
  ev_invoke_pending(loop);
  TRACE("   step 1: %s, pending %u", lg.buf, ev_pending_count(loop));

  step = 2;
  test_log_reset(&lg);
  for (int i = 9; i >= 0; i--)
    if (i != 2 && i != 7) ev_feed_event(loop, &p[i], EV_CUSTOM);
  ev_invoke_pending(loop);
  TRACE("   step 2: %s, pending %u", lg.buf, ev_pending_count(loop));

  step = 3;
  test_log_reset(&lg);
  ev_feed_event(loop, &p[3], EV_CUSTOM);
  ev_feed_event(loop, &p[6], EV_CUSTOM);
  ev_feed_event(loop, &p[1], EV_CUSTOM);
  ev_feed_event(loop, &p[9], EV_CUSTOM);
  ev_invoke_pending(loop);
  TRACE("   step 3: %s, pending %u", lg.buf, ev_pending_count(loop));

  /* clear everything, then a run: nothing may be invoked */
  step = 0;
  test_log_reset(&lg);
  for (int i = 0; i < 10; i++)
    ev_feed_event(loop, &p[i], EV_CUSTOM);
  for (int i = 0; i < 10; i++)
    ev_clear_pending(loop, &p[i]);
  TRACE("   all cleared: pending count %u", ev_pending_count(loop));
  ev_invoke_pending(loop);
  TRACE("   invoked: '%s' pending count %u", lg.buf, ev_pending_count(loop));
}

/* ---- 4. idle priorities ---------------------------------------------------------------------- */
static ev_idle id[4];
static ev_timer tm;
static int iter;
static void idle_cb(struct ev_loop *l, ev_idle *w, int revents)
{
  (void)revents;
  int i = (int)(w - id);
  test_log_add(&lg, "I%d", i);
  if (iter == 3 && i == 3)
    ev_idle_stop(l, w); /* leaves one idle at the top idle priority */
  if (iter == 4 && i == 1)
    ev_idle_stop(l, w); /* the top idle priority empties: the next one takes over */
}
static void tm_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)l; (void)revents;
  test_log_add(&lg, "T%d", ev_priority(w));
}

static void idle_priorities(void)
{
  static const int ipri[4] = { -1, 1, -1, 1 };
  for (int i = 0; i < 4; i++) {
    ev_idle_init(&id[i], idle_cb);
    ev_set_priority(&id[i], ipri[i]);
    ev_idle_start(loop, &id[i]);
  }
  /* An expired timer is queued right before the idle decision: idles run only when nothing
   * at or above their priority is pending. */
  static const int fp[] = { 99, 2, 1, 0, -2, 99, 2, -1, -2, 99 };
  for (iter = 0; iter < (int)(sizeof fp / sizeof *fp); iter++) {
    if (fp[iter] != 99) {
      ev_timer_init(&tm, tm_cb, -1., 0.);
      ev_set_priority(&tm, fp[iter]);
      ev_timer_start(loop, &tm);
    }
    test_log_reset(&lg);
    ev_run(loop, EVRUN_NOWAIT);
    TRACE("4. iteration %d (timer at %d): %s", iter, fp[iter], lg.buf);
  }
  for (int i = 0; i < 4; i++)
    ev_idle_stop(loop, &id[i]);
}

int main(void)
{
  WATCHDOG(50);
  loop = test_default_loop();
  heap_rounds();
  firing_order();
  pending_queues();
  idle_priorities();
  TRACE("done");
  return 0;
}
