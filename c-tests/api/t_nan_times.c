/* evring-test: timeout=30 */
/* NaN time values (differential hunt, session 7). libev tests "expired" as `at < now`, so a NaN
 * deadline never expires, and its assertions are written `repeat >= 0.` / `repeat > 0.` /
 * `at >= now`, so they refuse NaN as well. evring used the opposite comparisons: a NaN
 * deadline expired at every iteration and ev_run spun for ever, growing its memory by about
 * 0.5 GB/s, where libev carried on or aborted with its message.
 * Each scenario runs in a forked child (some end in libev's assertion, i.e. abort()); the
 * parent prints how the child ended. Timings are coarse (tens of ms) and only order events. */
#include "test.h"

#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

static int fired;

static void guard_cb(EV_P_ ev_timer *w, int revents)
{
  (void)w;
  (void)revents;
  TRACE("  guard fired (other callbacks so far: %d)", fired);
  ev_break(EV_A_ EVBREAK_ALL);
}

static void timer_cb(EV_P_ ev_timer *w, int revents)
{
  (void)loop;
  (void)revents;
  fired++;
  TRACE("  timer cb %d", fired);
  if (w->data)
    w->repeat = NAN; /* libev: "repeat may be changed at any time" */
}

static void periodic_cb(EV_P_ ev_periodic *w, int revents)
{
  (void)loop;
  (void)revents;
  fired++;
  TRACE("  periodic cb %d", fired);
  if (w->data)
    w->interval = NAN;
}

static int resched_calls;
static ev_tstamp resched_cb(ev_periodic *w, ev_tstamp now)
{
  (void)w;
  return ++resched_calls == 1 ? now + 0.01 : NAN;
}

static void scenario(const char *name)
{
  struct ev_loop *loop = test_new_loop(0);
  ev_timer guard, t;
  ev_periodic p;
  ev_timer_init(&guard, guard_cb, 0.3, 0.);
  ev_timer_start(loop, &guard);
  fired = 0;
  if (!strcmp(name, "periodic-interval-nan-in-cb")) {
    ev_periodic_init(&p, periodic_cb, 0., 0.05, 0);
    p.data = &p;
    ev_periodic_start(loop, &p);
  } else if (!strcmp(name, "periodic-offset-nan")) {
    ev_periodic_init(&p, periodic_cb, NAN, 0.05, 0);
    p.data = 0;
    ev_periodic_start(loop, &p);
  } else if (!strcmp(name, "timer-after-nan")) {
    ev_timer_init(&t, timer_cb, NAN, 0.);
    t.data = 0;
    /* Started before the guard: a NaN node sifts up past any parent (`parent <= NaN` is
     * false), so a NaN timer started after the guard sits above it at the heap's top and
     * blocks every timer below it -- libev hangs then, and so does evring (the same heap). */
    ev_timer_stop(loop, &guard);
    ev_timer_start(loop, &t);
    ev_timer_start(loop, &guard);
    TRACE("  active %d, remaining is NaN %d", ev_is_active(&t), isnan(ev_timer_remaining(loop, &t)));
  } else if (!strcmp(name, "timer-again-repeat-nan")) {
    ev_timer_init(&t, timer_cb, 0.01, 0.05);
    t.data = 0;
    ev_timer_start(loop, &t);
    t.repeat = NAN;
    ev_timer_again(loop, &t); /* active: at = now + NaN, never expires */
    TRACE("  active %d", ev_is_active(&t));
  } else if (!strcmp(name, "timer-start-repeat-nan")) {
    ev_timer_init(&t, timer_cb, 0.01, NAN);
    t.data = 0;
    ev_timer_start(loop, &t); /* libev: assertion */
  } else if (!strcmp(name, "timer-repeat-nan-in-cb")) {
    ev_timer_init(&t, timer_cb, 0.01, 0.01);
    t.data = &t;
    ev_timer_start(loop, &t); /* libev: assertion when the timer is rescheduled */
  } else if (!strcmp(name, "periodic-resched-nan")) {
    ev_periodic_init(&p, periodic_cb, 0., 0., resched_cb);
    p.data = 0;
    ev_periodic_start(loop, &p); /* libev: assertion at the second reschedule */
  }
  ev_run(loop, 0);
  TRACE("  ev_run returned, callbacks %d", fired);
  ev_loop_destroy(loop);
}

int main(void)
{
  WATCHDOG(20);
  static const char *const names[] = {
    "periodic-interval-nan-in-cb", "periodic-offset-nan", "timer-after-nan",
    "timer-again-repeat-nan", "timer-start-repeat-nan", "timer-repeat-nan-in-cb",
    "periodic-resched-nan",
  };
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    TRACE("%s", names[i]);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
      struct rlimit no_core = {0, 0};
      setrlimit(RLIMIT_CORE, &no_core);
      alarm(5); /* a spinning loop ends as SIGALRM, not as the whole test's watchdog */
      scenario(names[i]);
      fflush(stdout);
      _exit(0);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    if (WIFEXITED(st))
      TRACE("  child exit %d", WEXITSTATUS(st));
    else
      TRACE("  child killed by %s", WTERMSIG(st) == SIGABRT   ? "SIGABRT"
                                     : WTERMSIG(st) == SIGALRM ? "SIGALRM (spinning)"
                                                               : "another signal");
  }
  return 0;
}
