/* evring-test: timeout=20 */
/* The pending queue: ev_feed_event, ev_pending_count, ev_is_pending, ev_clear_pending,
 * ev_invoke, ev_invoke_pending, priorities and the order of invocation.
 *
 * libev keeps one pending array per priority and pops from its end (LIFO); the invoke pass
 * goes from the highest priority down and restarts at the top after every feed. ev_is_pending
 * returns the 1-based slot index; a cleared/stopped watcher leaves a dummy slot that is still
 * counted by ev_pending_count until the next invoke pass. */
#include "test.h"

static struct ev_loop *loop;
static test_log lg;
static int log_revents;   /* also log revents after each name */
static int log_count;     /* also log ev_pending_count inside callbacks */

static const char *wname(void *w) { return (const char *)((ev_watcher *)w)->data; }

static void generic(struct ev_loop *l, ev_watcher *w, int revents)
{
  test_log_add(&lg, "%s", wname(w));
  if (log_revents)
    test_log_add(&lg, "(0x%x)", (unsigned)revents);
  if (log_count)
    test_log_add(&lg, "[cnt=%u]", ev_pending_count(l));
}

#define DEFCB(T) static void cb_##T(struct ev_loop *l, ev_##T *w, int r) { generic(l, (ev_watcher *)w, r); }
DEFCB(io) DEFCB(timer) DEFCB(periodic) DEFCB(signal) DEFCB(child) DEFCB(stat) DEFCB(idle)
DEFCB(prepare) DEFCB(check) DEFCB(fork) DEFCB(cleanup) DEFCB(async) DEFCB(embed)

static void named_idle(ev_idle *w, const char *name, int prio)
{
  ev_idle_init(w, cb_idle);
  ev_set_priority(w, prio);
  w->data = (void *)name;
}

static void flush_run(const char *what)
{
  test_log_reset(&lg);
  ev_run(loop, EVRUN_NOWAIT);
  TRACE("%s: '%s' pending_count after=%u", what, lg.buf, ev_pending_count(loop));
}

/* ---- 1. LIFO within one priority, raw pending values ------------------------------------ */
static void scenario_lifo(void)
{
  ev_idle a, b, c;
  named_idle(&a, "A", 0); named_idle(&b, "B", 0); named_idle(&c, "C", 0);
  TRACE("1. before feeding: pending_count=%u is_pending(A)=%d", ev_pending_count(loop), ev_is_pending(&a));
  ev_feed_event(loop, &a, EV_CUSTOM);
  ev_feed_event(loop, &b, EV_CUSTOM);
  ev_feed_event(loop, &c, EV_CUSTOM);
  TRACE("   fed A,B,C: pending_count=%u is_pending A=%d B=%d C=%d active A=%d", ev_pending_count(loop),
        ev_is_pending(&a), ev_is_pending(&b), ev_is_pending(&c), ev_is_active(&a));
  log_revents = log_count = 1;
  flush_run("   invoked");
  log_revents = log_count = 0;
  TRACE("   after: is_pending A=%d B=%d C=%d", ev_is_pending(&a), ev_is_pending(&b), ev_is_pending(&c));
}

/* ---- 2. priorities ------------------------------------------------------------------------ */
static void scenario_prio(void)
{
  ev_idle w[10];
  static const char *const names[10] = { "a", "b", "c", "d", "e", "f", "g", "h", "i", "j" };
  static const int prios[10] = { -2, 2, 0, -1, 1, 0, 2, -2, 1, -1 };
  int i;
  for (i = 0; i < 10; i++) {
    named_idle(&w[i], names[i], prios[i]);
    ev_feed_event(loop, &w[i], EV_CUSTOM);
  }
  test_log_reset(&lg);
  for (i = 0; i < 10; i++)
    test_log_add(&lg, "%s%d=%d ", names[i], prios[i], ev_is_pending(&w[i]));
  TRACE("2. fed a..j with priorities; is_pending: %s", lg.buf);
  TRACE("   pending_count=%u", ev_pending_count(loop));
  flush_run("   invoked");
}

/* ---- 3. feeding inside a callback restarts the scan --------------------------------------- */
static ev_idle r_a, r_b, r_h, r_x, r_y, r_z, r_w;
static int refed;
static void refeed_cb(struct ev_loop *l, ev_idle *w, int revents)
{
  generic(l, (ev_watcher *)w, revents);
  if (w == &r_a && !refed) {
    refed = 1;
    ev_feed_event(l, &r_a, EV_CUSTOM);
    ev_feed_event(l, &r_h, EV_CUSTOM);
  }
  if (w == &r_x) {
    ev_feed_event(l, &r_z, EV_CUSTOM);
    ev_feed_event(l, &r_w, EV_CUSTOM);
  }
}

static void scenario_refeed(void)
{
  named_idle(&r_a, "A", 0); named_idle(&r_b, "B", 0); named_idle(&r_h, "H", 2);
  r_a.cb = refeed_cb;
  refed = 0;
  ev_feed_event(loop, &r_b, EV_CUSTOM);
  ev_feed_event(loop, &r_a, EV_CUSTOM);
  flush_run("3. fed B,A; A re-feeds itself and feeds H(prio 2)");

  named_idle(&r_x, "X", 1); named_idle(&r_y, "Y", 0); named_idle(&r_z, "Z", -1); named_idle(&r_w, "W", 1);
  r_x.cb = refeed_cb;
  ev_feed_event(loop, &r_y, EV_CUSTOM);
  ev_feed_event(loop, &r_x, EV_CUSTOM);
  flush_run("   fed Y(0),X(1); X feeds Z(-1),W(1)");
}

/* ---- 4. feeding a pending watcher merges revents ---------------------------------------- */
static void scenario_merge(void)
{
  ev_idle a, b;
  named_idle(&a, "A", 0); named_idle(&b, "B", 0);
  ev_feed_event(loop, &a, EV_CUSTOM);
  ev_feed_event(loop, &b, EV_READ);
  ev_feed_event(loop, &a, EV_READ);
  ev_feed_event(loop, &a, EV_WRITE);
  TRACE("4. fed A,B,A,A: pending_count=%u is_pending A=%d B=%d", ev_pending_count(loop),
        ev_is_pending(&a), ev_is_pending(&b));
  log_revents = 1;
  flush_run("   invoked");
  ev_feed_event(loop, &a, 0);
  TRACE("   fed with revents 0: is_pending=%d", ev_is_pending(&a));
  flush_run("   invoked");
  log_revents = 0;
}

/* ---- 5. ev_clear_pending ------------------------------------------------------------------ */
static void scenario_clear(void)
{
  ev_idle a, b, c;
  int r;
  named_idle(&a, "A", 0); named_idle(&b, "B", 0); named_idle(&c, "C", 0);
  r = ev_clear_pending(loop, &a);
  TRACE("5. clear_pending on a non-pending watcher -> 0x%x", (unsigned)r);
  ev_feed_event(loop, &a, EV_CUSTOM | EV_READ);
  r = ev_clear_pending(loop, &a);
  TRACE("   fed A with CUSTOM|READ; clear_pending -> 0x%x is_pending=%d pending_count=%u", (unsigned)r,
        ev_is_pending(&a), ev_pending_count(loop));
  r = ev_clear_pending(loop, &a);
  TRACE("   second clear_pending -> 0x%x pending_count=%u", (unsigned)r, ev_pending_count(loop));
  flush_run("   invoked");

  ev_feed_event(loop, &a, EV_CUSTOM);
  ev_feed_event(loop, &b, EV_CUSTOM);
  ev_feed_event(loop, &c, EV_CUSTOM);
  r = ev_clear_pending(loop, &b);
  TRACE("   fed A,B,C; cleared B -> 0x%x; pending_count=%u", (unsigned)r, ev_pending_count(loop));
  ev_feed_event(loop, &b, EV_READ);
  TRACE("   re-fed B: is_pending(B)=%d pending_count=%u", ev_is_pending(&b), ev_pending_count(loop));
  flush_run("   invoked");
}

/* ---- 6. stop clears pending, also for never-started watchers of every type ---------------- */
static void scenario_stop_clears(void)
{
  struct ev_loop *other = test_new_loop(EVFLAG_NOENV | EVBACKEND_EPOLL | EVBACKEND_POLL);
  ev_io io; ev_timer tm; ev_periodic pe; ev_signal sg; ev_child ch; ev_stat st; ev_idle id;
  ev_prepare pr; ev_check ck; ev_fork fk; ev_cleanup cl; ev_async as; ev_embed em;

  ev_io_init(&io, cb_io, 0, EV_READ); io.data = "io";
  ev_timer_init(&tm, cb_timer, 1., 0.); tm.data = "timer";
  ev_periodic_init(&pe, cb_periodic, 0., 1., 0); pe.data = "periodic";
  ev_signal_init(&sg, cb_signal, SIGUSR1); sg.data = "signal";
  ev_child_init(&ch, cb_child, 0, 0); ch.data = "child";
  ev_stat_init(&st, cb_stat, "nonexistent-evring-stat-path", 0.); st.data = "stat";
  ev_idle_init(&id, cb_idle); id.data = "idle";
  ev_prepare_init(&pr, cb_prepare); pr.data = "prepare";
  ev_check_init(&ck, cb_check); ck.data = "check";
  ev_fork_init(&fk, cb_fork); fk.data = "fork";
  ev_cleanup_init(&cl, cb_cleanup); cl.data = "cleanup";
  ev_async_init(&as, cb_async); as.data = "async";
  ev_embed_init(&em, cb_embed, other); em.data = "embed";

  /* 6a: feeding inactive watchers of every type invokes them, LIFO */
  ev_feed_event(loop, &io, EV_CUSTOM);
  ev_feed_event(loop, &tm, EV_CUSTOM);
  ev_feed_event(loop, &pe, EV_CUSTOM);
  ev_feed_event(loop, &sg, EV_CUSTOM);
  ev_feed_event(loop, &ch, EV_CUSTOM);
  ev_feed_event(loop, &st, EV_CUSTOM);
  ev_feed_event(loop, &id, EV_CUSTOM);
  ev_feed_event(loop, &pr, EV_CUSTOM);
  ev_feed_event(loop, &ck, EV_CUSTOM);
  ev_feed_event(loop, &fk, EV_CUSTOM);
  ev_feed_event(loop, &cl, EV_CUSTOM);
  ev_feed_event(loop, &as, EV_CUSTOM);
  ev_feed_event(loop, &em, EV_CUSTOM);
  TRACE("6. fed 13 never-started watchers: pending_count=%u is_pending(embed)=%d", ev_pending_count(loop),
        ev_is_pending(&em));
  test_log_reset(&lg);
  log_revents = 1;
  ev_run(loop, EVRUN_NOWAIT);
  log_revents = 0;
  TRACE("   invoked: %s", lg.buf);
  TRACE("   still inactive: %d", ev_is_active(&io) + ev_is_active(&tm) + ev_is_active(&pe) +
        ev_is_active(&sg) + ev_is_active(&ch) + ev_is_active(&st) + ev_is_active(&id) +
        ev_is_active(&pr) + ev_is_active(&ck) + ev_is_active(&fk) + ev_is_active(&cl) +
        ev_is_active(&as) + ev_is_active(&em) == 0);

  /* 6b: feed again, then stop each one: nothing runs */
  ev_feed_event(loop, &io, EV_CUSTOM);
  ev_feed_event(loop, &tm, EV_CUSTOM);
  ev_feed_event(loop, &pe, EV_CUSTOM);
  ev_feed_event(loop, &sg, EV_CUSTOM);
  ev_feed_event(loop, &ch, EV_CUSTOM);
  ev_feed_event(loop, &st, EV_CUSTOM);
  ev_feed_event(loop, &id, EV_CUSTOM);
  ev_feed_event(loop, &pr, EV_CUSTOM);
  ev_feed_event(loop, &ck, EV_CUSTOM);
  ev_feed_event(loop, &fk, EV_CUSTOM);
  ev_feed_event(loop, &cl, EV_CUSTOM);
  ev_feed_event(loop, &as, EV_CUSTOM);
  ev_feed_event(loop, &em, EV_CUSTOM);
  ev_io_stop(loop, &io);
  ev_timer_stop(loop, &tm);
  ev_periodic_stop(loop, &pe);
  ev_signal_stop(loop, &sg);
  ev_child_stop(loop, &ch);
  ev_stat_stop(loop, &st);
  ev_idle_stop(loop, &id);
  ev_prepare_stop(loop, &pr);
  ev_check_stop(loop, &ck);
  ev_fork_stop(loop, &fk);
  ev_cleanup_stop(loop, &cl);
  ev_async_stop(loop, &as);
  ev_embed_stop(loop, &em);
  TRACE("   fed again and stopped all: is_pending sum=%d pending_count=%u",
        ev_is_pending(&io) + ev_is_pending(&tm) + ev_is_pending(&pe) + ev_is_pending(&sg) +
        ev_is_pending(&ch) + ev_is_pending(&st) + ev_is_pending(&id) + ev_is_pending(&pr) +
        ev_is_pending(&ck) + ev_is_pending(&fk) + ev_is_pending(&cl) + ev_is_pending(&as) +
        ev_is_pending(&em), ev_pending_count(loop));
  flush_run("   invoked");
  ev_loop_destroy(other);
}

/* ---- 7. active watchers fed: stay active; stopped by another callback: not invoked ----------- */
static ev_idle s_a, s_b, s_c, s_d;
static void stopper_cb(struct ev_loop *l, ev_idle *w, int revents)
{
  generic(l, (ev_watcher *)w, revents);
  if (w == &s_d) {
    int r = ev_clear_pending(l, &s_c);
    test_log_add(&lg, "{clear C -> 0x%x}", (unsigned)r);
    ev_idle_stop(l, &s_b);
    test_log_add(&lg, "{stop B: pending=%d active=%d cnt=%u}", ev_is_pending(&s_b), ev_is_active(&s_b),
                 ev_pending_count(l));
  }
}

static void scenario_stop_in_cb(void)
{
  named_idle(&s_a, "A", -2); named_idle(&s_b, "B", -2); named_idle(&s_c, "C", -2); named_idle(&s_d, "D", -2);
  s_a.cb = s_b.cb = s_c.cb = s_d.cb = stopper_cb;
  ev_feed_event(loop, &s_a, EV_CUSTOM);
  ev_feed_event(loop, &s_b, EV_CUSTOM);
  ev_feed_event(loop, &s_c, EV_CUSTOM);
  ev_feed_event(loop, &s_d, EV_CUSTOM);
  flush_run("7. fed A,B,C,D; D clears C and stops B");

  {
    ev_timer t;
    ev_timer_init(&t, cb_timer, 100., 0.);
    t.data = "T";
    ev_timer_start(loop, &t);
    ev_feed_event(loop, &t, EV_CUSTOM);
    log_revents = 1;
    flush_run("   active timer fed");
    log_revents = 0;
    TRACE("   timer still active: %d", ev_is_active(&t) != 0);
    ev_timer_stop(loop, &t);
  }
}

/* ---- 8. ev_invoke and ev_invoke_pending by hand -------------------------------------------- */
static void depth_cb(struct ev_loop *l, ev_idle *w, int revents)
{
  generic(l, (ev_watcher *)w, revents);
  test_log_add(&lg, "<d%u>", ev_depth(l));
}

static void scenario_invoke(void)
{
  ev_idle a, b, c;
  named_idle(&a, "A", 0); named_idle(&b, "B", 1); named_idle(&c, "C", 0);
  a.cb = b.cb = c.cb = depth_cb;
  test_log_reset(&lg);
  log_revents = 1;
  ev_invoke(loop, &a, EV_READ | EV_WRITE);
  TRACE("8. ev_invoke(A, READ|WRITE): '%s' is_pending=%d pending_count=%u", lg.buf, ev_is_pending(&a),
        ev_pending_count(loop));
  ev_feed_event(loop, &a, EV_CUSTOM);
  test_log_reset(&lg);
  ev_invoke(loop, &a, EV_TIMER);
  TRACE("   ev_invoke on a pending watcher: '%s' is_pending=%d", lg.buf, ev_is_pending(&a));
  ev_feed_event(loop, &b, EV_CUSTOM);
  ev_feed_event(loop, &c, EV_CUSTOM);
  test_log_reset(&lg);
  ev_invoke_pending(loop);
  TRACE("   ev_invoke_pending by hand: '%s' pending_count=%u", lg.buf, ev_pending_count(loop));
  test_log_reset(&lg);
  ev_invoke_pending(loop);
  TRACE("   again: '%s'", lg.buf);
  log_revents = 0;
}

/* ---- 9. priority clamping --------------------------------------------------------------- */
static void scenario_clamp(void)
{
  ev_idle id;
  ev_timer tm;
  ev_io io;
  ev_prepare pr;

  TRACE("9. EV_MINPRI=%d EV_MAXPRI=%d", EV_MINPRI, EV_MAXPRI);
  ev_idle_init(&id, cb_idle); id.data = "i";
  ev_set_priority(&id, 10);
  TRACE("   idle prio set 10: before start=%d", ev_priority(&id));
  ev_idle_start(loop, &id);
  TRACE("   after start=%d", ev_priority(&id));
  ev_idle_stop(loop, &id);
  TRACE("   after stop=%d", ev_priority(&id));

  ev_timer_init(&tm, cb_timer, 100., 0.); tm.data = "t";
  ev_set_priority(&tm, -7);
  ev_timer_start(loop, &tm);
  TRACE("   timer prio -7 after start=%d", ev_priority(&tm));
  ev_timer_stop(loop, &tm);

  ev_io_init(&io, cb_io, 0, 0); io.data = "o";
  ev_set_priority(&io, 3);
  ev_io_start(loop, &io);
  TRACE("   io prio 3 after start=%d", ev_priority(&io));
  ev_io_stop(loop, &io);

  ev_prepare_init(&pr, cb_prepare); pr.data = "p";
  ev_set_priority(&pr, -3);
  ev_prepare_start(loop, &pr);
  TRACE("   prepare prio -3 after start=%d", ev_priority(&pr));
  ev_prepare_stop(loop, &pr);

  ev_idle_init(&id, cb_idle);
  ev_set_priority(&id, 1);
  ev_idle_start(loop, &id);
  TRACE("   in-range 1 after start=%d", ev_priority(&id));
  ev_idle_stop(loop, &id);
}

int main(void)
{
  WATCHDOG(15);
  loop = test_default_loop();
  scenario_lifo();
  scenario_prio();
  scenario_refeed();
  scenario_merge();
  scenario_clear();
  scenario_stop_clears();
  scenario_stop_in_cb();
  scenario_invoke();
  scenario_clamp();
  ev_loop_destroy(loop);
  TRACE("done");
  return 0;
}
