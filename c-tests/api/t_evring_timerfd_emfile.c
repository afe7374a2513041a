/* evring-test: mode=self backends=all timeout=30 */
/* evring-only: the loop's wall-clock timerfd loses one of its three numbers (the application
 * dup2()s /dev/null onto it) while no new fd can be made (RLIMIT_NOFILE at the lowest free
 * number: EMFILE). The loop's check finds the lost number and tries to rebuild the timerfd;
 * that fails. The numbers that still hold the old timerfd must then be closed (evring once
 * left them open until exit: found by review), the application's file at the lost number
 * must stay open, and the loop must keep running its periodic (on the monotonic timeout).
 * Debian's libev has one number per object and no such check, so this is not differential. */
#include "test.h"

#include <fcntl.h>
#include <sys/resource.h>

static int fired;

static void periodic_cb(struct ev_loop *l, ev_periodic *w, int revents)
{
  (void)l; (void)w;
  CHECK(revents == EV_PERIODIC);
  fired++;
}

static void stop_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)w; (void)revents;
  ev_break(l, EVBREAK_ALL);
}

struct timerfds { int n; int fd[8]; };

static int collect_timerfd(int fd, const char *target, void *arg)
{
  struct timerfds *t = (struct timerfds *)arg;
  if (strcmp(target, "anon_inode:[timerfd]") == 0 && t->n < 8) t->fd[t->n++] = fd;
  return 0;
}

static struct timerfds timerfds(void)
{
  struct timerfds t;
  t.n = 0;
  test_each_fd(collect_timerfd, &t);
  return t;
}

int main(void)
{
  struct ev_loop *l;
  ev_periodic p;
  ev_timer stop;
  struct timerfds before, after;
  struct rlimit old, low;
  int devnull, lowest, victim;

  WATCHDOG(20);
  l = ev_default_loop(0);
  CHECK(l != NULL);
  ev_periodic_init(&p, periodic_cb, 0., 0.02, 0);
  ev_periodic_start(l, &p);
  ev_run(l, EVRUN_NOWAIT);
  before = timerfds();
  if (before.n != 3) SKIP("expected the three numbers of evring's timerfd, found %d", before.n);
  TRACE("timerfd numbers before: %d", before.n);

  /* Lose one number: the application's file takes it. */
  victim = before.fd[1];
  devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  CHECK(devnull >= 0);
  CHECK(dup2(devnull, victim) == victim);
  CHECK(close(devnull) == 0);

  /* No new fd from now on. */
  lowest = dup(0);
  CHECK(lowest >= 0);
  CHECK(close(lowest) == 0);
  CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
  low = old;
  low.rlim_cur = (rlim_t)lowest;
  CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
  CHECK(dup(0) == -1 && errno == EMFILE);

  /* 1.5 s of loop activity: the numbers are checked at least once a second. */
  ev_timer_init(&stop, stop_cb, 1.5, 0.);
  ev_timer_start(l, &stop);
  fired = 0;
  ev_run(l, 0);
  CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
  TRACE("periodic fired while the timerfd could not be rebuilt: %s", fired >= 5 ? "yes" : "no");

  after = timerfds();
  TRACE("timerfd numbers left open after the failed rebuild: %d", after.n);
  CHECK_EQ_INT(after.n, 0);
  {
    char path[64], target[256];
    ssize_t len;
    snprintf(path, sizeof path, "/proc/self/fd/%d", victim);
    len = readlink(path, target, sizeof target - 1);
    CHECK(len > 0);
    target[len] = '\0';
    TRACE("the application's file at the lost number: %s", target);
    CHECK(strcmp(target, "/dev/null") == 0);
  }

  /* The loop goes on: the periodic keeps firing, and a new periodic start may make a timerfd
   * again now that fds can be made. */
  fired = 0;
  ev_timer_set(&stop, 0.2, 0.);
  ev_timer_start(l, &stop);
  ev_run(l, 0);
  TRACE("periodic fired afterwards: %s", fired >= 3 ? "yes" : "no");
  ev_periodic_stop(l, &p);
  ev_loop_destroy(l);
  TRACE("done");
  return 0;
}
