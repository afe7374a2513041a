/* evring-test: timeout=30 */
/* ev_run / ev_break / ev_ref / ev_unref / ev_iteration / ev_depth and the libev-3 names.
 *
 * Checked: ev_run returns the raw active count; an empty loop still iterates once; NOWAIT and
 * ONCE; ev_break ONE/ALL/CANCEL, also in nested ev_run on the same loop and across two loops;
 * a break issued before ev_run is forgotten; ev_iteration and ev_depth inside and outside of
 * callbacks; ev_ref/ev_unref including a negative count; ev_loop/ev_unloop/ev_loop_count/
 * ev_loop_depth/ev_loop_verify and the EVLOOP_/EVUNLOOP_ constants. */
#include "test.h"

static struct ev_loop *loop_a, *loop_b;
static test_log lg;

/* ---- helpers ---------------------------------------------------------------------------------- */

static int never_readable[2];   /* a pipe nobody writes to: an io watcher on it holds a reference */

static void never_cb(struct ev_loop *loop, ev_io *w, int revents)
{
  (void)loop; (void)w;
  TRACE("  UNEXPECTED io callback revents=0x%x", revents);
  exit(1);
}

static void long_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
  (void)loop; (void)w;
  TRACE("  UNEXPECTED long timer callback revents=0x%x", revents);
  exit(1);
}

/* ---- 1. empty loop, NOWAIT, ONCE ----------------------------------------------------------- */

static void scenario_empty(void)
{
  struct ev_loop *l = test_new_loop(0);
  unsigned it0 = ev_iteration(l);
  int r;
  TRACE("1. new loop: iteration=%u depth=%u", it0, ev_depth(l));
  r = ev_run(l, 0);
  TRACE("   ev_run(0) with nothing active -> %d, iterations done=%u", r, ev_iteration(l) - it0);
  r = ev_run(l, EVRUN_NOWAIT);
  TRACE("   ev_run(NOWAIT) -> %d, iterations done=%u", r, ev_iteration(l) - it0);
  r = ev_run(l, EVRUN_ONCE);
  TRACE("   ev_run(ONCE) -> %d, iterations done=%u", r, ev_iteration(l) - it0);
  TRACE("   depth after=%u", ev_depth(l));
  ev_loop_destroy(l);
}

/* ---- 2. return value = raw active count, ref/unref ---------------------------------------- */

static void idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
  (void)loop; (void)w; (void)revents;
}

static void nop_prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
  (void)loop; (void)w; (void)revents;
}

static void nop_cleanup_cb(struct ev_loop *loop, ev_cleanup *w, int revents)
{
  (void)loop; (void)w; (void)revents;
}

static void scenario_count(void)
{
  struct ev_loop *l = test_new_loop(0);
  ev_timer t[3];
  ev_io io;
  ev_prepare p;
  ev_cleanup c;
  int i;

  for (i = 0; i < 3; i++) {
    ev_timer_init(&t[i], long_timer_cb, 100. + i, 0.);
    ev_timer_start(l, &t[i]);
  }
  ev_io_init(&io, never_cb, never_readable[0], EV_READ);
  ev_io_start(l, &io);
  TRACE("2. 3 timers + 1 io: ev_run(NOWAIT) -> %d", ev_run(l, EVRUN_NOWAIT));
  ev_unref(l);
  TRACE("   after ev_unref -> %d", ev_run(l, EVRUN_NOWAIT));
  ev_ref(l);
  TRACE("   after ev_ref -> %d", ev_run(l, EVRUN_NOWAIT));
  ev_timer_stop(l, &t[1]);
  TRACE("   after stopping one timer -> %d", ev_run(l, EVRUN_NOWAIT));
  ev_timer_stop(l, &t[1]);
  TRACE("   after stopping it again -> %d", ev_run(l, EVRUN_NOWAIT));
  ev_timer_start(l, &t[0]);
  TRACE("   after starting an active timer again -> %d", ev_run(l, EVRUN_NOWAIT));
  ev_prepare_init(&p, nop_prepare_cb);
  ev_prepare_start(l, &p);
  TRACE("   + prepare -> %d", ev_run(l, EVRUN_NOWAIT));
  ev_cleanup_init(&c, nop_cleanup_cb);
  ev_cleanup_start(l, &c);
  TRACE("   + cleanup (holds no reference) -> %d", ev_run(l, EVRUN_NOWAIT));
  ev_cleanup_stop(l, &c);
  TRACE("   - cleanup -> %d", ev_run(l, EVRUN_NOWAIT));
  ev_prepare_stop(l, &p);
  ev_timer_stop(l, &t[0]);
  ev_timer_stop(l, &t[2]);
  ev_io_stop(l, &io);
  TRACE("   all stopped -> %d", ev_run(l, EVRUN_NOWAIT));

  /* negative counts: unbalanced ev_unref */
  ev_unref(l);
  TRACE("   one ev_unref on an empty loop: ev_run(NOWAIT) -> %d", ev_run(l, EVRUN_NOWAIT));
  ev_unref(l);
  TRACE("   two: ev_run(NOWAIT) -> %d", ev_run(l, EVRUN_NOWAIT));
  ev_ref(l);
  ev_ref(l);
  TRACE("   balanced again -> %d", ev_run(l, EVRUN_NOWAIT));

  /* an idle watcher: counted like any other */
  {
    ev_idle id;
    ev_idle_init(&id, idle_cb);
    ev_idle_start(l, &id);
    ev_unref(l);
    TRACE("   idle + ev_unref -> %d", ev_run(l, EVRUN_NOWAIT));
    ev_ref(l);
    ev_idle_stop(l, &id);
  }
  ev_loop_destroy(l);
}

/* A negative count keeps ev_run(0) going: it only ends on a break. */
static int neg_ticks;
static void neg_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
  (void)revents;
  if (++neg_ticks == 3) {
    ev_timer_stop(loop, w);
    TRACE("   tick 3: count after stop would be negative; breaking");
    ev_break(loop, EVBREAK_ONE);
  }
}

static void scenario_negative_run(void)
{
  struct ev_loop *l = test_new_loop(0);
  ev_timer t;
  int r;
  ev_unref(l);
  ev_unref(l);
  ev_timer_init(&t, neg_tick_cb, 0.002, 0.002);
  ev_timer_start(l, &t);
  r = ev_run(l, 0);
  TRACE("3. two ev_unref + repeating timer: ev_run(0) -> %d after %d ticks", r, neg_ticks);
  ev_ref(l);
  ev_ref(l);
  TRACE("   rebalanced: ev_run(NOWAIT) -> %d", ev_run(l, EVRUN_NOWAIT));
  ev_loop_destroy(l);
}

/* ---- 4. EVRUN_ONCE blocks until an event ------------------------------------------------------ */

static int once_fired;
static void once_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
  (void)loop; (void)w;
  once_fired++;
  TRACE("   timer fired revents=0x%x active=%d depth=%u", revents, ev_is_active(w), ev_depth(loop));
}

static void scenario_once(void)
{
  struct ev_loop *l = test_new_loop(0);
  ev_timer t1, t2;
  unsigned it0 = ev_iteration(l);
  double t0 = ev_time();
  int r;
  ev_now_update(l);     /* timers are relative to the cached loop time: make it >= t0 */
  ev_timer_init(&t1, once_timer_cb, 0.02, 0.);
  ev_timer_init(&t2, long_timer_cb, 100., 0.);
  ev_timer_start(l, &t1);
  ev_timer_start(l, &t2);
  r = ev_run(l, EVRUN_ONCE);
  CHECK_DBL_GE(ev_time() - t0, 0.019);
  TRACE("4. ev_run(ONCE) with 20ms + 100s timers -> %d, fired=%d, iterations=%u", r, once_fired,
        ev_iteration(l) - it0);
  r = ev_run(l, EVRUN_NOWAIT);
  TRACE("   ev_run(NOWAIT) -> %d, fired=%d, iterations=%u", r, once_fired, ev_iteration(l) - it0);
  ev_timer_stop(l, &t2);
  ev_loop_destroy(l);
}

/* ---- 5. ev_break in a plain run ------------------------------------------------------------ */

static int brk_mode;  /* what the ticker does at tick 3 */
static int brk_ticks;
static ev_timer brk_hold;
static void brk_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
  (void)revents;
  brk_ticks++;
  if (brk_ticks == 3) {
    switch (brk_mode) {
      case 0: ev_break(loop, EVBREAK_ONE); break;
      case 1: ev_break(loop, EVBREAK_ALL); break;
      case 2: ev_break(loop, EVBREAK_ONE); ev_break(loop, EVBREAK_CANCEL); break;
      case 3: ev_break(loop, EVBREAK_ALL); ev_break(loop, EVBREAK_CANCEL); break;
      case 4: ev_break(loop, EVBREAK_CANCEL); break;
      default: break;
    }
  }
  if (brk_ticks == 6) {
    ev_timer_stop(loop, w);
    ev_timer_stop(loop, &brk_hold);
  }
}

static void scenario_break(void)
{
  static const char *const names[] = { "ONE", "ALL", "ONE+CANCEL", "ALL+CANCEL", "CANCEL" };
  struct ev_loop *l = test_new_loop(0);
  ev_timer tick, x;
  int r;

  /* break before run */
  ev_timer_init(&x, once_timer_cb, 0.003, 0.);
  ev_timer_start(l, &x);
  once_fired = 0;
  ev_break(l, EVBREAK_ALL);
  r = ev_run(l, 0);
  TRACE("5. ev_break(ALL) before ev_run: returned %d, timer fired=%d", r, once_fired);
  ev_timer_start(l, &x);
  ev_break(l, EVBREAK_ONE);
  r = ev_run(l, 0);
  TRACE("   ev_break(ONE) before ev_run: returned %d, timer fired=%d", r, once_fired);

  for (brk_mode = 0; brk_mode < 5; brk_mode++) {
    brk_ticks = 0;
    ev_timer_init(&tick, brk_tick_cb, 0.001, 0.001);
    ev_timer_start(l, &tick);
    ev_timer_init(&brk_hold, long_timer_cb, 100., 0.);
    ev_timer_start(l, &brk_hold);
    r = ev_run(l, 0);
    TRACE("   %-10s at tick 3: ev_run returned %d after %d ticks", names[brk_mode], r, brk_ticks);
    /* a new ev_run after a break runs normally */
    if (ev_is_active(&tick)) {
      r = ev_run(l, 0);
      TRACE("   %-10s   second ev_run returned %d after %d ticks in total", "", r, brk_ticks);
    }
    ev_timer_stop(l, &brk_hold);
    ev_timer_stop(l, &tick);
  }
  ev_loop_destroy(l);
}

/* ---- 6. nested ev_run on the same loop -------------------------------------------------------- */
/* Idle watchers are used as tickers: each iteration runs them once without blocking, so the
 * number of ticks does not depend on timing. */

static int nest_mode;   /* 0: inner ONE, 1: inner ALL */
static int outer_ticks, inner_ticks;
static ev_idle outer_idle, inner_idle;

static void inner_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
  (void)w; (void)revents;
  inner_ticks++;
  test_log_add(&lg, " i%u", ev_depth(loop));
  if (inner_ticks == 2)
    ev_break(loop, nest_mode ? EVBREAK_ALL : EVBREAK_ONE);
}

static void outer_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
  (void)revents;
  outer_ticks++;
  test_log_add(&lg, " o%u", ev_depth(loop));
  if (outer_ticks == 2) {
    int r;
    ev_idle_stop(loop, w);
    ev_idle_init(&inner_idle, inner_idle_cb);
    ev_idle_start(loop, &inner_idle);
    r = ev_run(loop, 0);
    test_log_add(&lg, " [inner returned %d, depth now %u]", r, ev_depth(loop));
    ev_idle_stop(loop, &inner_idle);
    ev_idle_start(loop, w);
  }
  if (outer_ticks == 5)
    ev_idle_stop(loop, w);
}

static void scenario_nested_same(void)
{
  for (nest_mode = 0; nest_mode < 2; nest_mode++) {
    int r;
    test_log_reset(&lg);
    outer_ticks = inner_ticks = 0;
    ev_idle_init(&outer_idle, outer_idle_cb);
    ev_idle_start(loop_a, &outer_idle);
    r = ev_run(loop_a, 0);
    TRACE("6. nested same loop, inner %s: outer returned %d depth=%u outer_ticks=%d inner_ticks=%d",
          nest_mode ? "EVBREAK_ALL" : "EVBREAK_ONE", r, ev_depth(loop_a), outer_ticks, inner_ticks);
    TRACE("   log:%s", lg.buf);
    ev_idle_stop(loop_a, &outer_idle);
  }
}

/* ---- 7. nested ev_run on another loop ----------------------------------------------------- */

static int two_mode;   /* 0: B breaks B with ALL; 1: B breaks A with ONE */
static int a_ticks, b_ticks;
static ev_idle a_idle, b_idle;

static void b_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
  (void)revents;
  b_ticks++;
  test_log_add(&lg, " b(dA=%u,dB=%u)", ev_depth(loop_a), ev_depth(loop));
  if (b_ticks == 2) {
    if (two_mode == 0)
      ev_break(loop, EVBREAK_ALL);
    else
      ev_break(loop_a, EVBREAK_ONE);
  }
  if (b_ticks == 4)
    ev_idle_stop(loop, w);
}

static void a_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
  (void)revents;
  a_ticks++;
  test_log_add(&lg, " a(dA=%u,dB=%u)", ev_depth(loop), ev_depth(loop_b));
  if (a_ticks == 2) {
    int r;
    ev_idle_init(&b_idle, b_idle_cb);
    ev_idle_start(loop_b, &b_idle);
    r = ev_run(loop_b, 0);
    test_log_add(&lg, " [B returned %d]", r);
    ev_idle_stop(loop_b, &b_idle);
  }
  if (a_ticks == 4)
    ev_idle_stop(loop, w);
}

static void scenario_nested_two(void)
{
  for (two_mode = 0; two_mode < 2; two_mode++) {
    int r;
    test_log_reset(&lg);
    a_ticks = b_ticks = 0;
    ev_idle_init(&a_idle, a_idle_cb);
    ev_idle_start(loop_a, &a_idle);
    r = ev_run(loop_a, 0);
    TRACE("7. two loops, %s: A returned %d a_ticks=%d b_ticks=%d",
          two_mode ? "B's cb breaks A with ONE" : "B's cb breaks B with ALL", r, a_ticks, b_ticks);
    TRACE("   log:%s", lg.buf);
    ev_idle_stop(loop_a, &a_idle);
    /* B's ALL break does not leak into B's next run */
    if (two_mode == 0) {
      b_ticks = 0;
      test_log_reset(&lg);
      ev_idle_start(loop_b, &b_idle);
      two_mode = 2;   /* neither break at tick 2 */
      r = ev_run(loop_b, 0);
      two_mode = 0;
      TRACE("   B run again afterwards: returned %d b_ticks=%d", r, b_ticks);
    }
  }
}

/* ---- 8. iteration / depth ---------------------------------------------------------------- */

static unsigned seen_iter[8], seen_depth[8];
static int seen_n;
static void iter_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
  (void)revents;
  seen_iter[seen_n] = ev_iteration(loop);
  seen_depth[seen_n] = ev_depth(loop);
  if (++seen_n == 3)
    ev_timer_stop(loop, w);
}

static void scenario_iteration(void)
{
  struct ev_loop *l = test_new_loop(0);
  ev_timer t;
  unsigned it0;
  int i, r;
  it0 = ev_iteration(l);
  ev_timer_init(&t, iter_cb, 0.001, 0.001);
  ev_timer_start(l, &t);
  r = ev_run(l, 0);
  TRACE("8. repeating timer x3: ev_run -> %d, iterations=%u, depth outside=%u", r,
        ev_iteration(l) - it0, ev_depth(l));
  for (i = 0; i < seen_n; i++)
    TRACE("   callback %d: iteration=%u depth=%u", i, seen_iter[i] - it0, seen_depth[i]);
  for (i = 0; i < 5; i++)
    ev_run(l, EVRUN_NOWAIT);
  TRACE("   after 5 more NOWAIT runs: iterations=%u", ev_iteration(l) - it0);
  ev_loop_destroy(l);
}

/* ---- 9. libev 3 compatibility names ------------------------------------------------------- */

static int compat_ticks;
static void compat_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
  (void)w; (void)revents;
  compat_ticks++;
  if (compat_ticks == 1)
    TRACE("   in callback: ev_loop_depth=%u", ev_loop_depth(loop));
  if (compat_ticks == 2)
    ev_unloop(loop, EVUNLOOP_ALL);
}

static void scenario_compat3(void)
{
  struct ev_loop *l = test_new_loop(0);
  ev_timer t;
  unsigned c0 = ev_loop_count(l);
  TRACE("9. EVLOOP_NONBLOCK=%d EVLOOP_ONESHOT=%d EVUNLOOP_CANCEL=%d EVUNLOOP_ONE=%d EVUNLOOP_ALL=%d",
        EVLOOP_NONBLOCK, EVLOOP_ONESHOT, EVUNLOOP_CANCEL, EVUNLOOP_ONE, EVUNLOOP_ALL);
  TRACE("   EVRUN_NOWAIT=%d EVRUN_ONCE=%d EVBREAK_CANCEL=%d EVBREAK_ONE=%d EVBREAK_ALL=%d",
        EVRUN_NOWAIT, EVRUN_ONCE, EVBREAK_CANCEL, EVBREAK_ONE, EVBREAK_ALL);
  CHECK_EQ_INT(ev_loop_count(l), ev_iteration(l));
  ev_loop(l, EVLOOP_NONBLOCK);
  TRACE("   ev_loop(NONBLOCK): ev_loop_count advanced by %u", ev_loop_count(l) - c0);
  ev_timer_init(&t, compat_cb, 0.001, 0.001);
  ev_timer_start(l, &t);
  ev_loop_verify(l);
  ev_loop(l, 0);
  TRACE("   ev_unloop(ALL) at tick %d: ticks=%d depth=%u active=%d", 2, compat_ticks,
        ev_loop_depth(l), ev_is_active(&t));
  ev_loop_verify(l);
  ev_timer_stop(l, &t);
  ev_loop_destroy(l);
}

int main(void)
{
  WATCHDOG(25);
  if (pipe(never_readable) != 0) {
    perror("pipe");
    return 1;
  }
  loop_a = test_default_loop();
  loop_b = test_new_loop(0);
  setvbuf(stdout, NULL, _IOLBF, 0);

  scenario_empty();
  scenario_count();
  scenario_negative_run();
  scenario_once();
  scenario_break();
  scenario_nested_same();
  scenario_nested_two();
  scenario_iteration();
  scenario_compat3();

  ev_loop_destroy(loop_b);
  ev_loop_destroy(loop_a);
  close(never_readable[0]);
  close(never_readable[1]);
  TRACE("done");
  return 0;
}
