/* evring-test: timeout=30 */
/* ev_sleep and the io collect sleep are cut short by a signal, as in libev ("until either it
 * is interrupted or the given time interval has passed"; libev calls nanosleep once). evring
 * restarted nanosleep after EINTR: ev_sleep(1.0) with a signal at 0.1 s returned after 1.0 s,
 * and with ev_set_io_collect_interval(0.5) a signal or child watcher whose event arrived
 * during the collect sleep ran 0.5 s late (differential hunt, session 7). ev_sleep(NaN)
 * returns at once in libev (its test is `delay > 0.`); evring slept for 31 years.
 * The margins are wide (an event 0.1 s into a 1 s or 0.5 s sleep counts as early below 0.35 s).
 */
#include "test.h"

#include <math.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>

static volatile sig_atomic_t handled;
static void on_alarm(int sig) { (void)sig; handled++; }

static void alarm_in(double s)
{
  struct itimerval it = {{0, 0}, {0, (suseconds_t)(s * 1e6)}};
  CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
}

static double t0, t_cb;
static void sig_cb(EV_P_ ev_signal *w, int revents)
{
  (void)w;
  t_cb = ev_time() - t0;
  TRACE("  signal callback revents 0x%x, %s", revents, t_cb < 0.35 ? "early" : "late");
  ev_break(EV_A_ EVBREAK_ONE);
}

static void child_cb(EV_P_ ev_child *w, int revents)
{
  t_cb = ev_time() - t0;
  TRACE("  child callback revents 0x%x status %d, %s", revents, WEXITSTATUS(w->rstatus),
        t_cb < 0.35 ? "early" : "late");
  ev_child_stop(EV_A_ w);
  ev_break(EV_A_ EVBREAK_ONE);
}

static void idle_io_cb(EV_P_ ev_io *w, int revents)
{
  (void)loop;
  (void)w;
  (void)revents;
}

int main(void)
{
  WATCHDOG_KILL(20); /* SIGALRM is the signal under test */

  TRACE("ev_sleep(1.0) with a signal after 0.1 s");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigemptyset(&sa.sa_mask);
  CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
  alarm_in(0.1);
  double a = ev_time();
  ev_sleep(1.0);
  double took = ev_time() - a;
  TRACE("  returned %s, handler ran %d", took < 0.6 ? "early" : "after the whole delay", (int)handled);

  TRACE("ev_sleep(NaN), ev_sleep(-1), ev_sleep(0)");
  a = ev_time();
  ev_sleep(NAN);
  ev_sleep(-1.);
  ev_sleep(0.);
  TRACE("  returned %s", ev_time() - a < 0.5 ? "at once" : "late");

  /* A loop that sleeps 0.5 s before each poll; an io watcher (never ready) so the collect
   * sleep applies. */
  struct ev_loop *loop = test_default_loop();
  ev_set_io_collect_interval(loop, 0.5);
  int p[2];
  CHECK(pipe(p) == 0);
  ev_io io;
  ev_io_init(&io, idle_io_cb, p[0], EV_READ);
  ev_io_start(loop, &io);

  TRACE("io collect interval 0.5 s, SIGALRM watcher, signal after 0.1 s");
  ev_signal sw;
  ev_signal_init(&sw, sig_cb, SIGALRM);
  ev_signal_start(loop, &sw);
  ev_run(loop, EVRUN_NOWAIT); /* settle: the next iteration starts with the collect sleep */
  t0 = ev_time();
  alarm_in(0.1);
  ev_run(loop, 0);
  ev_signal_stop(loop, &sw);

  TRACE("io collect interval 0.5 s, child exits after 0.1 s");
  ev_run(loop, EVRUN_NOWAIT);
  t0 = ev_time();
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    usleep(100000);
    _exit(3);
  }
  ev_child cw;
  ev_child_init(&cw, child_cb, pid, 0);
  ev_child_start(loop, &cw);
  ev_run(loop, 0);

  ev_io_stop(loop, &io);
  close(p[0]);
  close(p[1]);
  return 0;
}
