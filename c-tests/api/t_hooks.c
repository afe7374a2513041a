/* evring-test: timeout=30 */
/* Loop hooks and global helpers: ev_set_invoke_pending_cb (custom invoker), release/acquire
 * callbacks, ev_set_userdata/ev_userdata, collect intervals (coarse lower bounds only),
 * ev_now/ev_time/ev_now_update/ev_sleep (booleans only), ev_suspend/ev_resume, ev_verify on a
 * busy loop, ev_version_major/minor, ev_once with timeout only / fd only / both / neither. */
#include "test.h"
#include <math.h>

static struct ev_loop *loop;
static test_log lg;

static const char *YN(int b) { return b ? "yes" : "no"; }

static void nop_timer_cb(struct ev_loop *l, ev_timer *w, int revents) { (void)l; (void)w; (void)revents; }
static void nop_prepare_cb(struct ev_loop *l, ev_prepare *w, int revents) { (void)l; (void)w; (void)revents; }

static void name_idle_cb(struct ev_loop *l, ev_idle *w, int revents)
{
  (void)l; (void)revents;
  test_log_add(&lg, "%s", (const char *)w->data);
}

/* ---- 1. invoke-pending hook ------------------------------------------------------------- */
static int inv_calls, inv_mode;   /* mode 0: forward to ev_invoke_pending; 1: do nothing */
static void my_invoke(struct ev_loop *l)
{
  inv_calls++;
  /* (exact pending counts are not printed here: with io_uring, libev's internal timer watcher
   * is queued in every iteration and counted) */
  if (ev_pending_count(l))
    test_log_add(&lg, "[inv d=%u]", ev_depth(l));
  if (inv_mode == 0)
    ev_invoke_pending(l);
}

static int tick3;
static void tick3_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)revents;
  test_log_add(&lg, "T");
  if (++tick3 == 3)
    ev_timer_stop(l, w);
}

static void cleanup_cb(struct ev_loop *l, ev_cleanup *w, int revents)
{
  (void)l; (void)w;
  test_log_add(&lg, "cleanup(0x%x)", (unsigned)revents);
}

static void scenario_invoke_hook(void)
{
  struct ev_loop *l = test_new_loop(0);
  ev_prepare p;
  ev_timer t;
  ev_idle a, b;
  ev_cleanup c;

  ev_set_invoke_pending_cb(l, my_invoke);
  inv_calls = 0;
  ev_run(l, EVRUN_NOWAIT);
  TRACE("1. custom invoker: NOWAIT run with nothing: calls=%d", inv_calls);
  ev_prepare_init(&p, nop_prepare_cb);
  ev_prepare_start(l, &p);
  inv_calls = 0;
  ev_run(l, EVRUN_NOWAIT);
  TRACE("   with a prepare watcher: calls=%d", inv_calls);
  ev_prepare_stop(l, &p);

  test_log_reset(&lg);
  inv_calls = 0;
  tick3 = 0;
  ev_timer_init(&t, tick3_cb, 0.001, 0.001);
  ev_timer_start(l, &t);
  ev_run(l, 0);
  TRACE("   repeating timer, 3 ticks: calls=%d log=%s", inv_calls, lg.buf);

  /* an invoker that does nothing: events stay queued */
  ev_idle_init(&a, name_idle_cb); a.data = "A";
  ev_idle_init(&b, name_idle_cb); b.data = "B";
  inv_mode = 1;
  test_log_reset(&lg);
  ev_feed_event(l, &a, EV_CUSTOM);
  ev_feed_event(l, &b, EV_CUSTOM);
  ev_run(l, EVRUN_NOWAIT);
  TRACE("   lazy invoker: log=%s pending_count>=2: %s", lg.buf, YN(ev_pending_count(l) >= 2));
  ev_set_invoke_pending_cb(l, ev_invoke_pending);
  test_log_reset(&lg);
  ev_run(l, EVRUN_NOWAIT);
  TRACE("   invoker reset to ev_invoke_pending: log=%s pending_count=%u", lg.buf, ev_pending_count(l));

  /* the hook also runs the cleanup watchers in ev_loop_destroy */
  inv_mode = 0;
  ev_set_invoke_pending_cb(l, my_invoke);
  ev_cleanup_init(&c, cleanup_cb);
  ev_cleanup_start(l, &c);
  test_log_reset(&lg);
  inv_calls = 0;
  ev_loop_destroy(l);
  TRACE("   ev_loop_destroy with a cleanup watcher: calls=%d log=%s", inv_calls, lg.buf);
}

/* ---- 2. release / acquire ---------------------------------------------------------------- */
static int rel_calls, acq_calls, rel_bad;
static void my_release(struct ev_loop *l)
{
  (void)l;
  if (rel_calls != acq_calls)
    rel_bad++;
  rel_calls++;
}
static void my_acquire(struct ev_loop *l)
{
  (void)l;
  acq_calls++;
  if (rel_calls != acq_calls)
    rel_bad++;
}

static void break_prepare_cb(struct ev_loop *l, ev_prepare *w, int revents)
{
  (void)w; (void)revents;
  ev_break(l, EVBREAK_ONE);
}

static void scenario_release(void)
{
  struct ev_loop *l = test_new_loop(0);
  ev_timer t;
  ev_prepare p;
  ev_set_loop_release_cb(l, my_release, my_acquire);
  ev_run(l, EVRUN_NOWAIT);
  ev_run(l, EVRUN_NOWAIT);
  TRACE("2. release/acquire after 2 NOWAIT runs: release=%d acquire=%d", rel_calls, acq_calls);
  tick3 = 0;
  ev_timer_init(&t, tick3_cb, 0.001, 0.001);
  ev_timer_start(l, &t);
  rel_calls = acq_calls = 0;
  ev_run(l, 0);
  TRACE("   3-tick timer run: release=%d acquire=%d", rel_calls, acq_calls);
  ev_prepare_init(&p, break_prepare_cb);
  ev_prepare_start(l, &p);
  rel_calls = acq_calls = 0;
  ev_run(l, 0);
  TRACE("   prepare breaks before the poll: release=%d acquire=%d", rel_calls, acq_calls);
  ev_prepare_stop(l, &p);
  TRACE("   properly paired: %s", YN(rel_bad == 0));
  ev_set_loop_release_cb(l, 0, 0);
  ev_loop_destroy(l);
}

/* ---- 3. userdata --------------------------------------------------------------------------- */
static void scenario_userdata(void)
{
  struct ev_loop *l = test_new_loop(0);
  static int x, y;
  TRACE("3. userdata initially NULL: default=%s new=%s", YN(ev_userdata(loop) == NULL), YN(ev_userdata(l) == NULL));
  ev_set_userdata(loop, &x);
  ev_set_userdata(l, &y);
  TRACE("   set: default==&x %s new==&y %s", YN(ev_userdata(loop) == &x), YN(ev_userdata(l) == &y));
  ev_run(l, EVRUN_NOWAIT);
  TRACE("   survives a run: %s", YN(ev_userdata(l) == &y));
  ev_set_userdata(loop, NULL);
  TRACE("   reset: %s", YN(ev_userdata(loop) == NULL));
  ev_loop_destroy(l);
}

/* ---- 4. collect intervals ----------------------------------------------------------------- */
static void stop_io_cb(struct ev_loop *l, ev_io *w, int revents)
{
  (void)revents;
  ev_io_stop(l, w);
}

static void scenario_collect(void)
{
  struct ev_loop *l = test_new_loop(0);
  ev_timer t;
  ev_io io;
  int p[2];
  double t0, dt;

  ev_set_timeout_collect_interval(l, 0.05);
  ev_timer_init(&t, nop_timer_cb, 0.001, 0.);
  ev_timer_start(l, &t);
  t0 = ev_time();
  ev_now_update(l);
  ev_run(l, 0);
  dt = ev_time() - t0;
  CHECK_DBL_GE(dt, 0.04);
  TRACE("4. timeout collect 50ms: a 1ms timer fired late (>=40ms): yes");
  ev_set_timeout_collect_interval(l, 0.);

  CHECK(pipe(p) == 0);
  CHECK(write(p[1], "x", 1) == 1);
  ev_set_io_collect_interval(l, 0.1);
  ev_timer_init(&t, nop_timer_cb, 5., 0.);
  ev_timer_start(l, &t);
  ev_io_init(&io, stop_io_cb, p[0], EV_READ);
  ev_io_start(l, &io);
  ev_run(l, EVRUN_NOWAIT);      /* a poll just happened ... */
  ev_io_start(l, &io);
  t0 = ev_time();
  ev_run(l, EVRUN_ONCE);        /* ... so this one naps first */
  dt = ev_time() - t0;
  CHECK_DBL_GE(dt, 0.04);   /* the nap is 100ms minus the time since the last poll */
  CHECK_DBL_LE(dt, 4.);
  TRACE("   io collect 100ms: a readable fd was seen only after a nap (>=40ms): yes");
  ev_set_io_collect_interval(l, 0.);
  ev_timer_stop(l, &t);
  close(p[0]);
  close(p[1]);
  ev_loop_destroy(l);
}

/* ---- 5. time --------------------------------------------------------------------------- */
static void time_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  double n0 = ev_now(l), n1;
  (void)w; (void)revents;
  ev_sleep(0.05);
  test_log_add(&lg, "in callback after ev_sleep(0.05): ev_now unchanged: %s", YN(ev_now(l) == n0));
  ev_now_update(l);
  n1 = ev_now(l);
  test_log_add(&lg, "; after ev_now_update advanced >=45ms: %s", YN(n1 - n0 >= 0.045));
}

static void scenario_time(void)
{
  ev_timer t;
  double a, b, c;
  a = ev_time();
  ev_sleep(0.);
  ev_sleep(-1.);
  b = ev_time();
  TRACE("5. ev_sleep(0) and ev_sleep(-1) return at once: %s; ev_time is non-decreasing: %s", YN(b - a < 0.5),
        YN(b >= a));
  ev_sleep(0.02);
  c = ev_time();
  TRACE("   ev_sleep(0.02) slept >= 19ms: %s", YN(c - b >= 0.019));
  ev_now_update(loop);
  TRACE("   after ev_now_update: |ev_now - ev_time| < 100ms: %s; ev_now plausible (> 2020): %s",
        YN(fabs(ev_now(loop) - ev_time()) < 0.1), YN(ev_now(loop) > 1577836800.));
  test_log_reset(&lg);
  ev_timer_init(&t, time_cb, 0., 0.);
  ev_timer_start(loop, &t);
  ev_run(loop, 0);
  TRACE("   %s", lg.buf);
}

/* ---- 6. suspend / resume ------------------------------------------------------------------ */
static void scenario_suspend(void)
{
  struct ev_loop *l = test_new_loop(0);
  ev_timer t;
  double n0, rem;
  ev_timer_init(&t, nop_timer_cb, 0.5, 0.);
  ev_now_update(l);
  ev_timer_start(l, &t);
  n0 = ev_now(l);
  ev_suspend(l);
  ev_sleep(0.2);
  ev_resume(l);
  rem = ev_timer_remaining(l, &t);
  /* shifted: ~0.5 is left; not shifted: ~0.3 */
  TRACE("6. 0.5s timer, 0.2s suspended: remaining within 90ms of 0.5 (shifted): %s; ev_now advanced >=0.19: %s",
        YN(fabs(rem - 0.5) < 0.09), YN(ev_now(l) - n0 >= 0.19));
  ev_timer_stop(l, &t);
  ev_suspend(l);
  ev_resume(l);
  TRACE("   suspend/resume with nothing active: ok; ev_run(NOWAIT) -> %d", ev_run(l, EVRUN_NOWAIT));
  ev_loop_destroy(l);
}

/* ---- 7. ev_verify on a busy loop ---------------------------------------------------------- */
static void nop_io_cb(struct ev_loop *l, ev_io *w, int r) { (void)l; (void)w; (void)r; }
static void nop_idle_cb(struct ev_loop *l, ev_idle *w, int r) { (void)l; (void)w; (void)r; }
static void nop_check_cb(struct ev_loop *l, ev_check *w, int r) { (void)l; (void)w; (void)r; }
static void nop_periodic_cb(struct ev_loop *l, ev_periodic *w, int r) { (void)l; (void)w; (void)r; }
static void nop_async_cb(struct ev_loop *l, ev_async *w, int r) { (void)l; (void)w; (void)r; }

static void scenario_verify(void)
{
  struct ev_loop *l = test_new_loop(0);
  enum { N = 50 };
  static ev_timer t[N];
  static ev_periodic pe[N];
  static ev_idle id[N];
  static ev_prepare pr[N];
  static ev_check ck[N];
  static ev_async as[N];
  static ev_io io[N];
  int p[2], i, r;
  CHECK(pipe(p) == 0);
  for (i = 0; i < N; i++) {
    ev_timer_init(&t[i], nop_timer_cb, 10. + (i * 7) % 13, 0.);
    ev_set_priority(&t[i], i % 5 - 2);
    ev_timer_start(l, &t[i]);
    ev_periodic_init(&pe[i], nop_periodic_cb, ev_now(l) + 100. + (i * 5) % 11, 0., 0);
    ev_periodic_start(l, &pe[i]);
    ev_idle_init(&id[i], nop_idle_cb);
    ev_set_priority(&id[i], i % 5 - 2);
    ev_idle_start(l, &id[i]);
    ev_prepare_init(&pr[i], nop_prepare_cb);
    ev_prepare_start(l, &pr[i]);
    ev_check_init(&ck[i], nop_check_cb);
    ev_check_start(l, &ck[i]);
    ev_async_init(&as[i], nop_async_cb);
    ev_async_start(l, &as[i]);
    ev_io_init(&io[i], nop_io_cb, p[i % 2], i % 2 ? EV_WRITE : EV_READ);
    ev_io_start(l, &io[i]);
  }
  for (i = 0; i < N; i += 2)
    ev_feed_event(l, &t[i], EV_TIMER);
  ev_verify(l);
  for (i = 0; i < N; i += 3) {
    ev_timer_stop(l, &t[i]);
    ev_periodic_stop(l, &pe[i]);
    ev_idle_stop(l, &id[i]);
  }
  ev_verify(l);
  r = ev_run(l, EVRUN_NOWAIT);
  ev_verify(l);
  TRACE("7. ev_verify on a loop with %d watchers (some pending, some stopped): ok; ev_run(NOWAIT) -> %d", 7 * N, r);
  for (i = 0; i < N; i++) {
    ev_timer_stop(l, &t[i]);
    ev_periodic_stop(l, &pe[i]);
    ev_idle_stop(l, &id[i]);
    ev_prepare_stop(l, &pr[i]);
    ev_check_stop(l, &ck[i]);
    ev_async_stop(l, &as[i]);
    ev_io_stop(l, &io[i]);
  }
  ev_verify(l);
  ev_loop_destroy(l);
  close(p[0]);
  close(p[1]);
}

/* ---- 8. versions ---------------------------------------------------------------------------- */
static void scenario_version(void)
{
  TRACE("8. ev_version %d.%d, header EV_VERSION %d.%d", ev_version_major(), ev_version_minor(),
        EV_VERSION_MAJOR, EV_VERSION_MINOR);
}

/* ---- 9. ev_once -------------------------------------------------------------------------- */
static void once_cb(int revents, void *arg)
{
  test_log_add(&lg, " %s:0x%x", (const char *)arg, (unsigned)revents);
}

/* a tracking allocator, used around ev_once(-1, -1): libev allocates and leaks there */
static void *tracked[16];
static int ntracked;
static void *plain_alloc(void *ptr, long size)
{
  if (size)
    return realloc(ptr, (size_t)size);
  free(ptr);
  return NULL;
}
static void *tracking_alloc(void *ptr, long size)
{
  void *r = plain_alloc(ptr, size);
  if (!ptr && size && ntracked < 16)
    tracked[ntracked++] = r;
  return r;
}

static void scenario_once(void)
{
  int p[2], q[2], r;
  CHECK(pipe(p) == 0);
  CHECK(pipe(q) == 0);

  test_log_reset(&lg);
  ev_once(loop, -1, 0, 0.001, once_cb, "timeout-only");
  r = ev_run(loop, 0);
  TRACE("9. ev_once timeout only:%s; ev_run -> %d", lg.buf, r);

  test_log_reset(&lg);
  CHECK(write(p[1], "x", 1) == 1);
  ev_once(loop, p[0], EV_READ, -1., once_cb, "fd-only");
  r = ev_run(loop, 0);
  TRACE("   fd only (readable):%s; ev_run -> %d", lg.buf, r);

  test_log_reset(&lg);
  ev_once(loop, q[1], EV_WRITE, -1., once_cb, "fd-only-write");
  ev_run(loop, 0);
  TRACE("   fd only (writable):%s", lg.buf);

  test_log_reset(&lg);
  ev_once(loop, p[0], EV_READ, 10., once_cb, "both-fd-ready");
  r = ev_run(loop, EVRUN_NOWAIT);
  TRACE("   both, fd readable, 10s timeout:%s; NOWAIT -> %d", lg.buf, r);

  test_log_reset(&lg);
  ev_once(loop, q[0], EV_READ, 0.5, once_cb, "both-timeout");
  r = ev_run(loop, EVRUN_NOWAIT);
  TRACE("   both, fd not readable, 500ms timeout: counted while waiting: NOWAIT -> %d", r);
  ev_run(loop, 0);
  TRACE("  %s", lg.buf);

  test_log_reset(&lg);
  ev_once(loop, p[0], EV_READ, 0., once_cb, "both-at-once");
  ev_run(loop, EVRUN_NOWAIT);
  TRACE("   both, fd readable, 0s timeout, one NOWAIT iteration:%s", lg.buf);

  test_log_reset(&lg);
  ntracked = 0;
  ev_set_allocator(tracking_alloc);
  ev_once(loop, -1, 0, -1., once_cb, "neither");
  ev_set_allocator(plain_alloc);
  r = ev_run(loop, EVRUN_NOWAIT);
  TRACE("   neither: NOWAIT -> %d, callback:%s", r, lg.buf[0] ? lg.buf : " (not called)");
  if (ntracked == 1)
    plain_alloc(tracked[0], 0);    /* reclaim the block libev leaks by design */

  close(p[0]); close(p[1]);
  close(q[0]); close(q[1]);
}

int main(void)
{
  WATCHDOG(25);
  loop = test_default_loop();
  scenario_invoke_hook();
  scenario_release();
  scenario_userdata();
  scenario_collect();
  scenario_time();
  scenario_suspend();
  scenario_verify();
  scenario_version();
  scenario_once();
  ev_loop_destroy(loop);
  TRACE("done");
  return 0;
}
