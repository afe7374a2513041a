/* evring-test: timeout=20 */
/* ev_idle, ev_prepare, ev_check: invocation order within one iteration (prepare CBA, check FED,
 * checks before io of the same priority), idle lock-out by priority, idle watchers make the
 * loop non-blocking, a prepare callback starting an io watcher that is part of the same poll,
 * ev_break in a prepare callback leaving before the poll, raw `active` array indices. */
#include "test.h"

static struct ev_loop *loop;
static test_log lg;
static int rd[2];   /* a readable pipe (one byte written, never drained unless said so) */

static const char *nm(void *w) { return (const char *)((ev_watcher *)w)->data; }

static void p_cb(struct ev_loop *l, ev_prepare *w, int revents)
{
  (void)l;
  test_log_add(&lg, "%s", nm(w));
  CHECK_EQ_INT(revents, EV_PREPARE);
}
static void c_cb(struct ev_loop *l, ev_check *w, int revents)
{
  (void)l;
  test_log_add(&lg, "%s", nm(w));
  CHECK_EQ_INT(revents, EV_CHECK);
}
static void i_cb(struct ev_loop *l, ev_idle *w, int revents)
{
  (void)l;
  test_log_add(&lg, "%s", nm(w));
  CHECK_EQ_INT(revents, EV_IDLE);
}
static void io_cb(struct ev_loop *l, ev_io *w, int revents)
{
  (void)l;
  test_log_add(&lg, "%s", nm(w));
  CHECK_EQ_INT(revents, EV_READ);
}
static void t_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)l;
  test_log_add(&lg, "%s", nm(w));
  CHECK_EQ_INT(revents, EV_TIMER);
}

/* ---- 1. order within one iteration ----------------------------------------------------- */
static void scenario_order(void)
{
  ev_prepare pa, pb, pc;
  ev_check cd, ce, cf;
  ev_io ia, ib, ic;

  ev_prepare_init(&pa, p_cb); pa.data = "A";
  ev_prepare_init(&pb, p_cb); pb.data = "B";
  ev_prepare_init(&pc, p_cb); pc.data = "C";
  ev_check_init(&cd, c_cb); cd.data = "D";
  ev_check_init(&ce, c_cb); ce.data = "E";
  ev_check_init(&cf, c_cb); cf.data = "F";
  ev_io_init(&ia, io_cb, rd[0], EV_READ); ia.data = "a";
  ev_io_init(&ib, io_cb, rd[0], EV_READ); ib.data = "b";
  ev_io_init(&ic, io_cb, rd[0], EV_READ); ic.data = "c";
  ev_prepare_start(loop, &pa); ev_prepare_start(loop, &pb); ev_prepare_start(loop, &pc);
  ev_check_start(loop, &cd); ev_check_start(loop, &ce); ev_check_start(loop, &cf);
  ev_io_start(loop, &ia); ev_io_start(loop, &ib); ev_io_start(loop, &ic);
  TRACE("1. active: prepare A=%d B=%d C=%d check D=%d E=%d F=%d io=%d/%d/%d", ev_is_active(&pa),
        ev_is_active(&pb), ev_is_active(&pc), ev_is_active(&cd), ev_is_active(&ce), ev_is_active(&cf),
        ev_is_active(&ia), ev_is_active(&ib), ev_is_active(&ic));
  test_log_reset(&lg);
  ev_run(loop, EVRUN_NOWAIT);
  TRACE("   prepare A,B,C + check D,E,F + io a,b,c on one readable fd, one iteration: %s", lg.buf);

  ev_prepare_stop(loop, &pa);
  TRACE("   prepare A stopped: B=%d C=%d", ev_is_active(&pb), ev_is_active(&pc));
  ev_check_stop(loop, &ce);
  TRACE("   check E stopped: D=%d F=%d", ev_is_active(&cd), ev_is_active(&cf));
  test_log_reset(&lg);
  ev_run(loop, EVRUN_NOWAIT);
  TRACE("   next iteration: %s", lg.buf);

  /* priorities: check at -1 now runs after the io watchers, io b at +1 first */
  ev_check_stop(loop, &cd); ev_set_priority(&cd, -1); ev_check_start(loop, &cd);
  ev_io_stop(loop, &ib); ev_set_priority(&ib, 1); ev_io_start(loop, &ib);
  test_log_reset(&lg);
  ev_run(loop, EVRUN_NOWAIT);
  TRACE("   check D at prio -1, io b at prio 1: %s", lg.buf);

  ev_prepare_stop(loop, &pb); ev_prepare_stop(loop, &pc);
  ev_check_stop(loop, &cd); ev_check_stop(loop, &cf);
  ev_io_stop(loop, &ia); ev_io_stop(loop, &ib); ev_io_stop(loop, &ic);
}

/* ---- 2. idle lock-out ------------------------------------------------------------------- */
static void scenario_idle_lockout(void)
{
  ev_idle a, b, c, b2;
  ev_timer t;
  ev_idle_init(&a, i_cb); a.data = "A"; ev_set_priority(&a, -1);
  ev_idle_init(&b, i_cb); b.data = "B"; ev_set_priority(&b, 0);
  ev_idle_init(&c, i_cb); c.data = "C"; ev_set_priority(&c, 1);
  ev_idle_init(&b2, i_cb); b2.data = "b"; ev_set_priority(&b2, 0);
  ev_idle_start(loop, &a); ev_idle_start(loop, &b); ev_idle_start(loop, &c); ev_idle_start(loop, &b2);
  TRACE("2. idle active: A(-1)=%d B(0)=%d b(0)=%d C(1)=%d", ev_is_active(&a), ev_is_active(&b),
        ev_is_active(&b2), ev_is_active(&c));
  test_log_reset(&lg);
  ev_run(loop, EVRUN_NOWAIT); test_log_add(&lg, "|");
  ev_run(loop, EVRUN_NOWAIT); test_log_add(&lg, "|");
  ev_idle_stop(loop, &c);
  ev_run(loop, EVRUN_NOWAIT); test_log_add(&lg, "|");
  ev_idle_stop(loop, &b);
  TRACE("   b after stopping B: active=%d", ev_is_active(&b2));
  ev_run(loop, EVRUN_NOWAIT); test_log_add(&lg, "|");
  ev_idle_stop(loop, &b2);
  ev_run(loop, EVRUN_NOWAIT);
  TRACE("   iterations (C stopped after 2, B after 3, b after 4): %s", lg.buf);

  /* with a timer pending at various priorities */
  {
    static const int tprio[3] = { 0, 1, 2 };
    int k;
    ev_idle_start(loop, &b); ev_idle_start(loop, &c);
    for (k = 0; k < 3; k++) {
      ev_timer_init(&t, t_cb, 0., 0.);
      t.data = "T";
      ev_set_priority(&t, tprio[k]);
      ev_timer_start(loop, &t);
      test_log_reset(&lg);
      ev_run(loop, EVRUN_NOWAIT);
      TRACE("   idles A(-1) B(0) C(1) + expired timer at prio %d: %s", tprio[k], lg.buf);
    }
    ev_idle_stop(loop, &b); ev_idle_stop(loop, &c);
  }
  ev_idle_stop(loop, &a);
}

/* ---- 3. idle makes the loop non-blocking --------------------------------------------------- */
static int idle_runs;
static void counting_idle_cb(struct ev_loop *l, ev_idle *w, int revents)
{
  (void)revents;
  if (++idle_runs == 5)
    ev_idle_stop(l, w);
}

static void scenario_nonblocking(void)
{
  ev_idle id;
  ev_timer t;
  double t0;
  unsigned it0;
  int r;
  ev_idle_init(&id, counting_idle_cb);
  ev_timer_init(&t, t_cb, 2., 0.);
  t.data = "T";
  ev_idle_start(loop, &id);
  ev_timer_start(loop, &t);
  idle_runs = 0;
  t0 = ev_time();
  r = ev_run(loop, EVRUN_ONCE);
  TRACE("3. idle + 2s timer: ev_run(ONCE) -> %d, idle ran %d, returned well before the timer: %s", r, idle_runs,
        ev_time() - t0 < 1.5 ? "yes" : "no");
  ev_timer_stop(loop, &t);
  it0 = ev_iteration(loop);
  r = ev_run(loop, 0);
  TRACE("   only the idle watcher (stops itself at 5): ev_run -> %d, idle ran %d, iterations=%u", r, idle_runs,
        ev_iteration(loop) - it0);
}

/* ---- 4. io events keep idles from running -------------------------------------------------- */
static void draining_io_cb(struct ev_loop *l, ev_io *w, int revents)
{
  char ch;
  (void)l; (void)revents;
  test_log_add(&lg, "%s", nm(w));
  if (read(w->fd, &ch, 1) != 1)
    test_log_add(&lg, "(read failed)");
}

static void scenario_idle_vs_io(void)
{
  int p[2];
  ev_io io;
  ev_idle id;
  CHECK(pipe(p) == 0);
  CHECK(write(p[1], "x", 1) == 1);
  ev_io_init(&io, draining_io_cb, p[0], EV_READ); io.data = "io";
  ev_idle_init(&id, i_cb); id.data = "idle";
  ev_io_start(loop, &io);
  ev_idle_start(loop, &id);
  test_log_reset(&lg);
  ev_run(loop, EVRUN_NOWAIT); test_log_add(&lg, "|");
  ev_run(loop, EVRUN_NOWAIT); test_log_add(&lg, "|");
  ev_run(loop, EVRUN_NOWAIT);
  TRACE("4. readable pipe (drained by its cb) + idle, same prio, 3 iterations: %s", lg.buf);
  ev_io_stop(loop, &io);
  ev_idle_stop(loop, &id);
  close(p[0]);
  close(p[1]);
}

/* ---- 5. prepare starts an io watcher; prepare breaks ----------------------------------------- */
static ev_io late_io;
static unsigned prep_iter;
static int prep_mode;   /* 0: start io; 1: break ONE; 2: break ALL */
static void starter_prepare_cb(struct ev_loop *l, ev_prepare *w, int revents)
{
  (void)revents;
  prep_iter = ev_iteration(l);
  test_log_add(&lg, "P");
  if (prep_mode == 0 && !ev_is_active(&late_io))
    ev_io_start(l, &late_io);
  if (prep_mode == 1)
    ev_break(l, EVBREAK_ONE);
  if (prep_mode == 2)
    ev_break(l, EVBREAK_ALL);
  (void)w;
}
static void late_io_cb(struct ev_loop *l, ev_io *w, int revents)
{
  (void)w; (void)revents;
  test_log_add(&lg, "io(iteration %s)", ev_iteration(l) == prep_iter + 1 ? "prepare+1" : "other");
}

static void scenario_prepare_effects(void)
{
  ev_prepare p;
  ev_check c;
  ev_timer t;
  unsigned it0;
  int r;
  ev_prepare_init(&p, starter_prepare_cb);
  ev_check_init(&c, c_cb); c.data = "C";
  ev_io_init(&late_io, late_io_cb, rd[0], EV_READ);
  ev_prepare_start(loop, &p);
  ev_check_start(loop, &c);

  prep_mode = 0;
  test_log_reset(&lg);
  ev_run(loop, EVRUN_NOWAIT);
  TRACE("5. prepare starts an io watcher on a readable fd, one NOWAIT iteration: %s", lg.buf);
  ev_io_stop(loop, &late_io);

  for (prep_mode = 1; prep_mode <= 2; prep_mode++) {
    ev_io_start(loop, &late_io);
    test_log_reset(&lg);
    it0 = ev_iteration(loop);
    r = ev_run(loop, 0);
    TRACE("   prepare calls ev_break(%s) with a readable io watcher: %s, ev_run -> %d, iterations=%u",
          prep_mode == 1 ? "ONE" : "ALL", lg.buf, r, ev_iteration(loop) - it0);
    ev_io_stop(loop, &late_io);
  }

  ev_prepare_stop(loop, &p);
  ev_check_stop(loop, &c);

  /* ONCE with a timer: prepare, poll, then check before the timer. A fresh loop: on `loop` the
   * stopped io watchers' readable fd may still be registered with the kernel (epoll removes
   * it lazily), which is an allowed spurious wakeup that would end the ONCE run early. */
  {
    struct ev_loop *l2 = test_new_loop(0);
    prep_mode = 3;
    ev_prepare_start(l2, &p);
    ev_check_start(l2, &c);
    ev_timer_init(&t, t_cb, 0.005, 0.);
    t.data = "T";
    ev_timer_start(l2, &t);
    test_log_reset(&lg);
    ev_run(l2, EVRUN_ONCE);
    TRACE("   prepare + check + 5ms timer, ev_run(ONCE): %s", lg.buf);
    ev_prepare_stop(l2, &p);
    ev_check_stop(l2, &c);
    ev_loop_destroy(l2);
  }
}

int main(void)
{
  WATCHDOG(15);
  CHECK(pipe(rd) == 0);
  CHECK(write(rd[1], "r", 1) == 1);
  loop = test_default_loop();
  scenario_order();
  scenario_idle_lockout();
  scenario_nonblocking();
  scenario_idle_vs_io();
  scenario_prepare_effects();
  ev_loop_destroy(loop);
  close(rd[0]);
  close(rd[1]);
  TRACE("done");
  return 0;
}
