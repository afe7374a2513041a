/* evring-test: mode=self backends=all timeout=30 */
/* evring-only (tracker issue 7 §1): a forked child that runs an inherited loop WITHOUT calling
 * ev_loop_fork still gets its ev_async_send and its signals, and never writes into its
 * parent's wakeup object: evring's writers refuse objects made in another process, and the
 * child's loop makes its own before it first waits.
 *
 * libev's manual requires ev_loop_fork here; without it libev's child and parent share the
 * wakeup fd (and on epoll the interest set), so the parent can steal the child's wake-ups.
 * This is a robustness check of evring, not a differential test. */
#include "test.h"
#include <sys/wait.h>

static struct ev_loop *loop;
static ev_async async_w;
static ev_signal sig_w;
static ev_timer guard_w;
static int got_async, got_sig, guard_fired;

static void async_cb(struct ev_loop *l, ev_async *w, int revents)
{
  (void)w; (void)revents;
  got_async++;
  if (got_sig) ev_break(l, EVBREAK_ALL);
}

static void sig_cb(struct ev_loop *l, ev_signal *w, int revents)
{
  (void)w; (void)revents;
  got_sig++;
  if (got_async) ev_break(l, EVBREAK_ALL);
}

static void guard_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)w; (void)revents;
  guard_fired = 1;
  ev_break(l, EVBREAK_ALL);
}

static void *sender(void *arg)
{
  (void)arg;
  usleep(50 * 1000);   /* the loop sleeps in the backend by now */
  ev_async_send(loop, &async_w);
  kill(getpid(), SIGUSR1);
  return NULL;
}

/* run until async and signal arrived (or the guard fired) with both sent from a thread */
static void round_trip(void)
{
  pthread_t th;
  got_async = got_sig = guard_fired = 0;
  ev_timer_set(&guard_w, 3., 0.);
  ev_timer_start(loop, &guard_w);
  CHECK(pthread_create(&th, NULL, sender, NULL) == 0);
  ev_run(loop, 0);
  pthread_join(th, NULL);
  ev_timer_stop(loop, &guard_w);
}

int main(void)
{
  pid_t pid;
  int status;

  WATCHDOG_KILL(25);
  loop = test_default_loop();
  ev_async_init(&async_w, async_cb);
  ev_async_start(loop, &async_w);
  ev_signal_init(&sig_w, sig_cb, SIGUSR1);
  ev_signal_start(loop, &sig_w);
  ev_timer_init(&guard_w, guard_cb, 3., 0.);
  round_trip();
  TRACE("parent before fork: async %d signal %d guard %d", got_async, got_sig, guard_fired);
  CHECK(!guard_fired);

  fflush(stdout);
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    /* no ev_loop_fork */
    WATCHDOG_KILL(10);
    round_trip();
    TRACE("child without ev_loop_fork: async %d signal %d guard %d", got_async, got_sig,
          guard_fired);
    fflush(stdout);
    _exit(guard_fired ? 1 : 0);
  }
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  /* the parent's loop still works */
  round_trip();
  TRACE("parent after the child: async %d signal %d guard %d", got_async, got_sig, guard_fired);
  CHECK(!guard_fired);
  TRACE("done");
  return 0;
}
