/* evring-test: timeout=30 */
/* Callbacks that modify the loop while it is invoking them: stopping, restarting, re-initialising
 * and freeing watchers (also ones queued in the same pass, also the running watcher itself),
 * nested ev_run on the same loop (drains the outer queue first) and on another loop, and many
 * watchers started or fed from callbacks so that the loop's internal arrays grow in the middle
 * of an invoke pass. Run under ASan/valgrind this also checks that the library never touches a
 * watcher after its callback freed it. */
#include "test.h"

static struct ev_loop *loop;
static test_log lg;

static const char *nm(void *w) { return (const char *)((ev_watcher *)w)->data; }

static void log_idle_cb(struct ev_loop *l, ev_idle *w, int revents)
{
  (void)l; (void)revents;
  test_log_add(&lg, "%s", nm(w));
}

/* ---- 1. stop / restart / re-init watchers queued in the same pass --------------------------- */
static ev_idle q_a, q_b, q_c, q_d, q_e;
static void other_cb(struct ev_loop *l, ev_idle *w, int revents)
{
  (void)l;
  test_log_add(&lg, "%s'(0x%x)", nm(w), (unsigned)revents);
}
static void boss_cb(struct ev_loop *l, ev_idle *w, int revents)
{
  (void)revents;
  test_log_add(&lg, "%s", nm(w));
  ev_idle_stop(l, &q_b);                 /* queued: discarded */
  ev_idle_stop(l, &q_c);                 /* queued: discarded, then re-initialised and fed */
  ev_idle_init(&q_c, other_cb);
  q_c.data = "C";
  ev_feed_event(l, &q_c, EV_CUSTOM);
  ev_idle_start(l, &q_d);                /* queued and now started: still runs once this pass */
  test_log_add(&lg, "{B p=%d C p=%d D a=%d p=%d}", ev_is_pending(&q_b) != 0, ev_is_pending(&q_c) != 0,
               ev_is_active(&q_d) != 0, ev_is_pending(&q_d) != 0);
  (void)w;
}

static void scenario_modify_queued(void)
{
  ev_idle_init(&q_a, boss_cb); q_a.data = "A";
  ev_idle_init(&q_b, log_idle_cb); q_b.data = "B";
  ev_idle_init(&q_c, log_idle_cb); q_c.data = "C";
  ev_idle_init(&q_d, log_idle_cb); q_d.data = "D";
  ev_idle_init(&q_e, log_idle_cb); q_e.data = "E";
  ev_feed_event(loop, &q_e, EV_CUSTOM);
  ev_feed_event(loop, &q_d, EV_CUSTOM);
  ev_feed_event(loop, &q_c, EV_CUSTOM);
  ev_feed_event(loop, &q_b, EV_CUSTOM);
  ev_feed_event(loop, &q_a, EV_CUSTOM);
  test_log_reset(&lg);
  ev_run(loop, EVRUN_NOWAIT);
  TRACE("1. fed E,D,C,B,A; A stops B, stops+re-inits+feeds C, starts D: %s", lg.buf);
  test_log_reset(&lg);
  ev_run(loop, EVRUN_NOWAIT);
  TRACE("   next iteration (D is an active idle watcher now): %s", lg.buf);
  ev_idle_stop(loop, &q_d);
}

/* ---- 2. freeing watchers from callbacks ---------------------------------------------------- */
static int freed;

static void self_free_timer_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)revents;
  test_log_add(&lg, "%s", nm(w));
  ev_timer_stop(l, w);       /* repeating: must be stopped before it is freed */
  free(w);
  freed++;
}

static void oneshot_free_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)l; (void)revents;
  test_log_add(&lg, "%s", nm(w));
  free(w);                   /* a fired one-shot is inactive and no longer queued */
  freed++;
}

static ev_io *victim_io;
static void killer_io_cb(struct ev_loop *l, ev_io *w, int revents)
{
  (void)revents;
  test_log_add(&lg, "%s", nm(w));
  if (victim_io) {
    ev_io_stop(l, victim_io);  /* queued for the same fd in this pass: discarded */
    free(victim_io);
    victim_io = NULL;
    freed++;
  }
  ev_io_stop(l, w);
  free(w);
  freed++;
}

static void scenario_free(void)
{
  int p[2], i;
  ev_timer *t;
  ev_io *a;

  test_log_reset(&lg);
  freed = 0;
  for (i = 0; i < 3; i++) {
    static const char *const names[3] = { "r1", "r2", "r3" };
    t = malloc(sizeof *t);
    CHECK(t);
    ev_timer_init(t, self_free_timer_cb, 0.001 * (i + 1), 0.001);
    t->data = (void *)names[i];
    ev_timer_start(loop, t);
  }
  for (i = 0; i < 3; i++) {
    static const char *const names[3] = { "o1", "o2", "o3" };
    t = malloc(sizeof *t);
    CHECK(t);
    ev_timer_init(t, oneshot_free_cb, 0.0015 + 0.001 * i, 0.);
    t->data = (void *)names[i];
    ev_timer_start(loop, t);
  }
  ev_run(loop, 0);
  TRACE("2. 3 repeating + 3 one-shot malloc'd timers freeing themselves: %s freed=%d", lg.buf, freed);

  CHECK(pipe(p) == 0);
  CHECK(write(p[1], "x", 1) == 1);
  test_log_reset(&lg);
  freed = 0;
  a = malloc(sizeof *a);
  victim_io = malloc(sizeof *victim_io);
  CHECK(a && victim_io);
  ev_io_init(a, killer_io_cb, p[0], EV_READ); a->data = "killer";
  ev_io_init(victim_io, killer_io_cb, p[0], EV_READ); victim_io->data = "victim";
  ev_io_start(loop, a);          /* io watchers of one fd run in start order: killer first */
  ev_io_start(loop, victim_io);
  ev_run(loop, 0);
  TRACE("   two malloc'd io watchers on one readable fd, the first frees both: %s freed=%d", lg.buf, freed);
  close(p[0]);
  close(p[1]);
}

/* ---- 3. nested ev_run drains the outer queue --------------------------------------------- */
static ev_idle n_a, n_b, n_c;
static struct ev_loop *other;
static int nest_kind;   /* 0: same loop; 1: other loop */

static void nest_log_cb(struct ev_loop *l, ev_idle *w, int revents)
{
  (void)revents;
  test_log_add(&lg, "%s(d%u)", nm(w), ev_depth(l));
}

static ev_idle o_x;
static void other_loop_cb(struct ev_loop *l, ev_idle *w, int revents)
{
  (void)revents;
  test_log_add(&lg, "%s(dO%u,dL%u)", nm(w), ev_depth(l), ev_depth(loop));
  ev_feed_event(loop, &n_c, EV_CUSTOM);    /* into the outer loop, which is mid-pass */
  ev_idle_stop(l, w);
}

static void nester_cb(struct ev_loop *l, ev_idle *w, int revents)
{
  int r;
  (void)revents;
  test_log_add(&lg, "%s(d%u)[", nm(w), ev_depth(l));
  if (nest_kind == 0)
    r = ev_run(l, EVRUN_NOWAIT);
  else
    r = ev_run(other, 0);
  test_log_add(&lg, "]ret=%d,pc=%u ", r, ev_pending_count(l));
}

static void scenario_nested(void)
{
  ev_idle_init(&n_a, nester_cb); n_a.data = "A";
  ev_idle_init(&n_b, nest_log_cb); n_b.data = "B";
  ev_idle_init(&n_c, nest_log_cb); n_c.data = "C";

  nest_kind = 0;
  test_log_reset(&lg);
  ev_feed_event(loop, &n_b, EV_CUSTOM);
  ev_feed_event(loop, &n_c, EV_CUSTOM);
  ev_feed_event(loop, &n_a, EV_CUSTOM);
  ev_run(loop, EVRUN_NOWAIT);
  TRACE("3. fed B,C,A; A runs ev_run(same loop, NOWAIT): %s", lg.buf);

  nest_kind = 1;
  other = test_new_loop(0);
  ev_idle_init(&o_x, other_loop_cb); o_x.data = "X";
  ev_idle_start(other, &o_x);
  test_log_reset(&lg);
  ev_feed_event(loop, &n_b, EV_CUSTOM);
  ev_feed_event(loop, &n_a, EV_CUSTOM);
  ev_run(loop, EVRUN_NOWAIT);
  TRACE("   fed B,A; A runs ev_run(other loop) whose cb feeds C into this loop: %s", lg.buf);
  ev_loop_destroy(other);
}

/* ---- 4. array growth in the middle of a pass ---------------------------------------------- */
#define NG 2000
static ev_idle grow[NG];
static int grow_seen, grow_first, grow_last, grow_ordered;

static void grow_cb(struct ev_loop *l, ev_idle *w, int revents)
{
  int idx = (int)(w - grow);
  (void)l; (void)revents;
  if (grow_seen == 0)
    grow_first = idx;
  else if (idx != grow_last - 1)
    grow_ordered = 0;
  grow_last = idx;
  grow_seen++;
}

static void feeder_cb(struct ev_loop *l, ev_idle *w, int revents)
{
  int i;
  (void)revents;
  test_log_add(&lg, "%s", nm(w));
  for (i = 0; i < NG; i++) {
    ev_idle_init(&grow[i], grow_cb);
    ev_feed_event(l, &grow[i], EV_CUSTOM);
  }
  test_log_add(&lg, "[pc=%u]", ev_pending_count(l));
}

static ev_timer many_t[NG];
static int t_fired, p_runs, c_runs;
static ev_prepare many_p[200];
static ev_check many_c[200];

static void many_t_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)l; (void)w; (void)revents;
  t_fired++;
}
static void many_p_cb(struct ev_loop *l, ev_prepare *w, int revents)
{
  (void)l; (void)w; (void)revents;
  p_runs++;
}
static void many_c_cb(struct ev_loop *l, ev_check *w, int revents)
{
  (void)l; (void)w; (void)revents;
  c_runs++;
}

static int starter_calls;
static void starter_timer_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  int i;
  (void)w; (void)revents;
  starter_calls++;
  for (i = 0; i < NG; i++) {
    ev_timer_init(&many_t[i], many_t_cb, 0., 0.);
    ev_timer_start(l, &many_t[i]);
  }
  for (i = 0; i < 200; i++) {
    ev_prepare_init(&many_p[i], many_p_cb);
    ev_prepare_start(l, &many_p[i]);
    ev_check_init(&many_c[i], many_c_cb);
    ev_check_start(l, &many_c[i]);
  }
}

#define NP 40
static int pipes[NP][2];
static ev_io pio[NP];
static int io_seen;
static void pio_cb(struct ev_loop *l, ev_io *w, int revents)
{
  (void)revents;
  io_seen++;
  ev_io_stop(l, w);
}
static void io_starter_cb(struct ev_loop *l, ev_idle *w, int revents)
{
  int i;
  (void)revents;
  ev_idle_stop(l, w);
  for (i = 0; i < NP; i++) {
    ev_io_init(&pio[i], pio_cb, pipes[i][0], EV_READ);
    ev_io_start(l, &pio[i]);
  }
}

static void scenario_growth(void)
{
  ev_idle f, tail;
  ev_timer st;
  ev_idle ios;
  int i, r;

  ev_idle_init(&f, feeder_cb); f.data = "F";
  ev_idle_init(&tail, log_idle_cb); tail.data = "T";
  ev_feed_event(loop, &tail, EV_CUSTOM);
  ev_feed_event(loop, &f, EV_CUSTOM);
  test_log_reset(&lg);
  grow_seen = 0;
  grow_ordered = 1;
  ev_run(loop, EVRUN_NOWAIT);
  TRACE("4. a callback feeds %d watchers mid-pass: log=%s invoked=%d first=%d last=%d newest-first=%s", NG, lg.buf,
        grow_seen, grow_first, grow_last, grow_ordered ? "yes" : "no");
  (void)i;

  /* timers, prepares and checks started from a timer callback */
  t_fired = p_runs = c_runs = starter_calls = 0;
  ev_timer_init(&st, starter_timer_cb, 0., 0.);
  ev_timer_start(loop, &st);
  r = ev_run(loop, EVRUN_NOWAIT);
  TRACE("   iteration 1 (a timer starts %d 0s timers, 200 prepares, 200 checks): starter=%d timers=%d prepares=%d checks=%d ret=%d",
        NG, starter_calls, t_fired, p_runs, c_runs, r);
  r = ev_run(loop, EVRUN_NOWAIT);
  TRACE("   iteration 2: timers=%d prepares=%d checks=%d ret=%d", t_fired, p_runs, c_runs, r);
  for (i = 0; i < 200; i++) {
    ev_prepare_stop(loop, &many_p[i]);
    ev_check_stop(loop, &many_c[i]);
  }
  TRACE("   all stopped: ev_run(NOWAIT) -> %d", ev_run(loop, EVRUN_NOWAIT));

  /* io watchers on many fds started from a callback (fd table growth) */
  for (i = 0; i < NP; i++) {
    CHECK(pipe(pipes[i]) == 0);
    CHECK(write(pipes[i][1], "x", 1) == 1);
  }
  io_seen = 0;
  ev_idle_init(&ios, io_starter_cb);
  ev_idle_start(loop, &ios);
  r = ev_run(loop, 0);
  TRACE("   an idle callback starts io watchers on %d readable pipes: seen=%d ev_run -> %d", NP, io_seen, r);
  for (i = 0; i < NP; i++) {
    close(pipes[i][0]);
    close(pipes[i][1]);
  }
}

/* ---- 5. a timer that restarts itself repeatedly inside its callback ----------------------- */
static int churn_n;
static ev_timer churn_others[8];
static void churn_other_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)l; (void)revents;
  test_log_add(&lg, "%d", (int)(w - churn_others));
}
static void churn_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  int i;
  (void)revents;
  test_log_add(&lg, "C");
  for (i = 0; i < 50; i++) {
    ev_timer_stop(l, w);
    ev_timer_set(w, 0.001 * (i % 7), 0.);
    ev_timer_start(l, w);
  }
  if (++churn_n == 3)
    ev_timer_stop(l, w);
}

static void scenario_churn(void)
{
  ev_timer c;
  int i;
  test_log_reset(&lg);
  for (i = 0; i < 8; i++) {
    ev_timer_init(&churn_others[i], churn_other_cb, 0.002 + 0.001 * i, 0.);
    ev_timer_start(loop, &churn_others[i]);
  }
  ev_timer_init(&c, churn_cb, 0.0005, 0.);
  ev_timer_start(loop, &c);
  ev_sleep(0.02);
  ev_run(loop, EVRUN_NOWAIT);
  test_log_add(&lg, "|");
  ev_sleep(0.01);
  ev_run(loop, EVRUN_NOWAIT);
  test_log_add(&lg, "|");
  ev_sleep(0.01);
  ev_run(loop, EVRUN_NOWAIT);
  ev_verify(loop);
  TRACE("5. heap churn inside a callback (restart x50), 8 other timers: %s active=%d", lg.buf, ev_is_active(&c));
}

int main(void)
{
  WATCHDOG(25);
  loop = test_default_loop();
  scenario_modify_queued();
  scenario_free();
  scenario_nested();
  scenario_growth();
  scenario_churn();
  ev_loop_destroy(loop);
  TRACE("done");
  return 0;
}
