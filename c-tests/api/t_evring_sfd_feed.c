/* evring-test: timeout=30 mode=self */
/* ev_feed_signal from another thread to an EVFLAG_SIGNALFD loop that has no async watchers,
 * while the loop waits. Such a loop has no wakeup fd, so nothing can end its wait; the feed
 * must be delivered when the wait ends for another reason (here a timer), and later feeds must
 * still work. evring (like libev) lost that feed and, its flag staying raised, every later
 * ev_feed_signal to the loop (differential hunt, session 7). evring-only: libev loses them. */
#include "test.h"

#include <pthread.h>
#include <signal.h>

static int count;
static void sig_cb(EV_P_ ev_signal *w, int revents)
{
  (void)loop;
  (void)w;
  (void)revents;
  count++;
}
static void timeout_cb(EV_P_ ev_timer *w, int revents)
{
  (void)w;
  (void)revents;
  ev_break(EV_A_ EVBREAK_ALL);
}
static void *feeder(void *arg)
{
  (void)arg;
  test_sleep_ms(100);
  ev_feed_signal(SIGUSR1);
  return NULL;
}

int main(void)
{
  WATCHDOG(20);
  const char *env = getenv("LIBEV_FLAGS");
  unsigned backend = env ? (unsigned)strtoul(env, NULL, 0) & EVBACKEND_MASK : 0;
  struct ev_loop *loop = test_new_loop(EVFLAG_SIGNALFD | EVFLAG_NOENV | backend);
  ev_signal s;
  ev_signal_init(&s, sig_cb, SIGUSR1);
  ev_signal_start(loop, &s);
  ev_timer t;
  ev_timer_init(&t, timeout_cb, 0.5, 0.);
  ev_timer_start(loop, &t);
  pthread_t th;
  CHECK(pthread_create(&th, NULL, feeder, NULL) == 0);
  ev_run(loop, 0);
  CHECK(pthread_join(th, NULL) == 0);
  ev_run(loop, EVRUN_NOWAIT);
  TRACE("fed while waiting: %d callback(s) once the wait ended", count);
  CHECK_EQ_INT(count, 1);
  ev_feed_signal(SIGUSR1);
  ev_run(loop, EVRUN_NOWAIT);
  ev_run(loop, EVRUN_NOWAIT);
  TRACE("fed while idle: %d", count);
  CHECK_EQ_INT(count, 2);
  ev_signal_stop(loop, &s);
  ev_loop_destroy(loop);
  return 0;
}
