/* evring-test: mode=self backends=all timeout=40 */
/* evring-only: wake-ups flagged where no wakeup fd can carry them (Debian's libev aborts on
 * an assertion in both cases, so this cannot be differential). Found by review.
 *  1. ev_feed_signal() on an EVFLAG_SIGNALFD loop with a signal watcher but no async watcher:
 *     the loop has no wakeup object. The signal must be delivered by the next iteration and
 *     the loop must sleep afterwards (evring once lost the signal and spun forever).
 *  2. A thread runs the default loop (blocked in its wait); the main thread forks; in the
 *     child a signal (variant a: raise, b: ev_async_send) arrives before ev_loop_fork, and
 *     the child's writer must not touch the parent's eventfd. The child's ev_run must deliver
 *     it in its first iteration, not when a 10 s timer fires (evring once waited). */
#include "test.h"

#include <sys/wait.h>

static int sig_calls, async_calls, timer_calls;

static void sig_cb(struct ev_loop *l, ev_signal *w, int revents)
{
  (void)w;
  CHECK(revents == EV_SIGNAL);
  sig_calls++;
  ev_break(l, EVBREAK_ALL);
}

static void async_cb(struct ev_loop *l, ev_async *w, int revents)
{
  (void)w;
  CHECK(revents == EV_ASYNC);
  async_calls++;
  ev_break(l, EVBREAK_ALL);
}

static void timer_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)w; (void)revents;
  timer_calls++;
  ev_break(l, EVBREAK_ALL);
}

static void feed_signal_sigfd(void)
{
  struct ev_loop *l = test_new_loop(EVFLAG_SIGNALFD);
  ev_signal s;
  ev_timer t;
  unsigned before;
  ev_signal_init(&s, sig_cb, SIGUSR1);
  ev_signal_start(l, &s);
  ev_timer_init(&t, timer_cb, 10., 0.);
  ev_timer_start(l, &t);
  ev_run(l, EVRUN_NOWAIT);
  sig_calls = timer_calls = 0;
  ev_feed_signal(SIGUSR1);
  ev_run(l, 0);
  TRACE("1. ev_feed_signal on a signalfd loop: signal %d, timer %d", sig_calls, timer_calls);
  CHECK_EQ_INT(sig_calls, 1);
  CHECK_EQ_INT(timer_calls, 0);
  /* and the loop sleeps again: a 50 ms timer ends the next run after a few iterations */
  ev_timer_stop(l, &t);
  ev_timer_set(&t, 0.05, 0.);
  ev_timer_start(l, &t);
  before = ev_iteration(l);
  ev_run(l, 0);
  fprintf(stderr, "iterations until the 50 ms timer: %u\n", ev_iteration(l) - before);
  TRACE("   then the loop sleeps: %s", ev_iteration(l) - before < 100 ? "yes" : "no");
  CHECK(ev_iteration(l) - before < 100);
  ev_timer_stop(l, &t);
  ev_signal_stop(l, &s);
  ev_loop_destroy(l);
}

static struct ev_loop *dl;
static ev_async wake_a;
static ev_signal wake_s;

static void *run_thread(void *arg)
{
  (void)arg;
  ev_run(dl, 0);
  return NULL;
}

static void fork_while_waiting(int use_async)
{
  pthread_t th;
  pid_t pid;
  int st;
  dl = ev_default_loop(0);
  CHECK(dl != NULL);
  sig_calls = async_calls = 0;
  ev_signal_init(&wake_s, sig_cb, SIGUSR1);
  ev_signal_start(dl, &wake_s);
  ev_async_init(&wake_a, async_cb);
  ev_async_start(dl, &wake_a);
  CHECK(pthread_create(&th, NULL, run_thread, NULL) == 0);
  usleep(100000); /* the thread is in its wait */
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    ev_timer t;
    alarm(0);
    WATCHDOG(8);
    if (use_async) ev_async_send(dl, &wake_a);
    else CHECK(raise(SIGUSR1) == 0);
    ev_loop_fork(dl);
    ev_timer_init(&t, timer_cb, 10., 0.);
    ev_timer_start(dl, &t);
    timer_calls = 0;
    ev_run(dl, EVRUN_ONCE);
    if (timer_calls || sig_calls + async_calls != 1) {
      fprintf(stderr, "child: signal %d async %d timer %d\n", sig_calls, async_calls, timer_calls);
      _exit(1);
    }
    _exit(0);
  }
  CHECK(waitpid(pid, &st, 0) == pid);
  TRACE("2%c. %s in a forked child before ev_loop_fork: delivered in the first iteration: %s",
        use_async ? 'b' : 'a', use_async ? "ev_async_send" : "a signal",
        WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "yes" : "no");
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  ev_async_send(dl, &wake_a); /* ends the parent's thread */
  CHECK(pthread_join(th, NULL) == 0);
  CHECK_EQ_INT(async_calls, 1);
  ev_async_stop(dl, &wake_a);
  ev_signal_stop(dl, &wake_s);
}

int main(void)
{
  WATCHDOG(30);
  feed_signal_sigfd();
  fork_while_waiting(0);
  fork_while_waiting(1);
  ev_loop_destroy(ev_default_loop(0));
  return 0;
}
