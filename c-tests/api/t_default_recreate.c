/* evring-test: timeout=30 */
/* The default loop destroyed while signal and child watchers are still active, then made
 * again with ev_default_loop (differential hunt, session 7). libev's default loop is static
 * memory and its signal and child tables are process-wide: the new default loop simply goes on
 * with the old watchers (the manual: such state "will not be freed by this function"). evring
 * dropped them: the old signal watcher never fired again, starting and stopping a second
 * watcher for the same signal restored SIG_DFL (the next signal killed the process), and an
 * active child watcher never saw its child's exit. Each case runs in a forked child so that a
 * signal's default action shows as such. */
#include "test.h"

#include <signal.h>
#include <sys/wait.h>

static void sig_cb(EV_P_ ev_signal *w, int revents)
{
  (void)loop;
  TRACE("  signal callback %s revents 0x%x", (const char *)w->data, revents);
}

static void child_cb(EV_P_ ev_child *w, int revents)
{
  (void)loop;
  TRACE("  child callback revents 0x%x exit %d", revents, WEXITSTATUS(w->rstatus));
  ev_child_stop(EV_A_ w);
}

static const char *disposition(int signum)
{
  struct sigaction sa;
  sigaction(signum, NULL, &sa);
  return sa.sa_handler == SIG_DFL ? "default" : sa.sa_handler == SIG_IGN ? "ignore" : "handler";
}

static void run_case(int which)
{
  struct ev_loop *d = ev_default_loop(0);
  ev_signal a, b;
  ev_signal_init(&a, sig_cb, SIGUSR1);
  a.data = "A";
  ev_signal_init(&b, sig_cb, SIGUSR1);
  b.data = "B";
  ev_child c;
  switch (which) {
  case 0: /* the old watcher still fires after the loop is made again */
    ev_signal_start(d, &a);
    ev_loop_destroy(d);
    d = ev_default_loop(0);
    TRACE("  A active %d, disposition %s", ev_is_active(&a), disposition(SIGUSR1));
    raise(SIGUSR1);
    ev_run(d, EVRUN_NOWAIT);
    ev_signal_stop(d, &a);
    TRACE("  after stopping A: disposition %s", disposition(SIGUSR1));
    ev_run(d, 0); /* nothing is active any more: returns at once */
    TRACE("  ev_run returned");
    break;
  case 1: /* a second watcher started and stopped does not restore SIG_DFL */
    ev_signal_start(d, &a);
    ev_loop_destroy(d);
    d = ev_default_loop(0);
    ev_signal_start(d, &b);
    ev_signal_stop(d, &b);
    TRACE("  after B started and stopped: disposition %s", disposition(SIGUSR1));
    raise(SIGUSR1);
    ev_run(d, EVRUN_NOWAIT);
    break;
  case 2: { /* an active child watcher sees its child's exit */
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
      usleep(100000);
      _exit(2);
    }
    ev_child_init(&c, child_cb, pid, 0);
    ev_child_start(d, &c);
    ev_loop_destroy(d);
    d = ev_default_loop(0);
    TRACE("  child watcher active %d", ev_is_active(&c));
    while (ev_is_active(&c))
      ev_run(d, EVRUN_ONCE);
    break;
  }
  case 3: /* an ev_unref'ed signal watcher (the usual SIGINT pattern) keeps nothing alive */
    ev_signal_start(d, &a);
    ev_unref(d);
    ev_loop_destroy(d);
    d = ev_default_loop(0);
    ev_run(d, 0); /* libev's count survived the destroy: 0, returns at once */
    TRACE("  ev_run returned");
    ev_ref(d);
    ev_signal_stop(d, &a);
    break;
  }
  TRACE("  done");
}

int main(void)
{
  WATCHDOG(20);
  static const char *const names[] = {
    "signal watcher left active, loop made again",
    "second watcher for the same signal started and stopped",
    "child watcher left active, loop made again",
    "ev_unref'ed signal watcher left active, loop made again",
  };
  for (int i = 0; i < 4; i++) {
    TRACE("%s", names[i]);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
      alarm(5);
      run_case(i);
      fflush(stdout);
      _exit(0);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    if (WIFEXITED(st))
      TRACE("  process exit %d", WEXITSTATUS(st));
    else
      TRACE("  process killed by %s", WTERMSIG(st) == SIGUSR1 ? "SIGUSR1" : "another signal");
  }
  return 0;
}
