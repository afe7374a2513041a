/* evring-test: timeout=30 lanes=dynamic,static,asan backends=1,2,4 */
/* Loops made when the process is nearly out of descriptors (RLIMIT_NOFILE reached but for K).
 * libev needs two free descriptors for a default loop that wakes up (epoll + eventfd) and one
 * per loop object. evring keeps each loop object at three protected numbers, and its io_uring
 * loop held the probe's ring: a default loop aborted with "error creating signal/async pipe"
 * where libev's worked, and ev_loop_new needed four (differential hunt, session 7). Now an
 * object takes the numbers it can get (down to one), and an io_uring ring that only batches
 * changes is given back for the wakeup fd. Each case runs in a forked child (a failure is an
 * abort, as in libev). Not in the valgrind lane: valgrind virtualises RLIMIT_NOFILE. Not on
 * io_uring: there the oracle would be libev's own io_uring backend, which needs more
 * descriptors (ring + timerfd); evring's io_uring loop is checked by t_evring_emfile_uring. */
#include "test.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

static void async_cb(EV_P_ ev_async *w, int revents)
{
  (void)w;
  TRACE("  async callback revents 0x%x", revents);
  ev_break(EV_A_ EVBREAK_ALL);
}

static void leave_free(int k)
{
  struct rlimit rl = {64, 64};
  CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
  static int fillers[64];
  int n = 0, fd;
  while ((fd = open("/dev/null", O_RDONLY)) >= 0)
    fillers[n++] = fd;
  for (int i = 0; i < k && n > 0; i++)
    close(fillers[--n]);
}

static void run_case(int k, int use_default)
{
  leave_free(k);
  /* The lane's backend, from LIBEV_FLAGS as libev reads it (ev_default_loop(0) does). */
  struct ev_loop *loop = use_default ? ev_default_loop(0) : ev_loop_new(0);
  TRACE("  %s: %s", use_default ? "ev_default_loop" : "ev_loop_new", loop ? "a loop" : "NULL");
  if (!loop)
    return;
  ev_async a;
  ev_async_init(&a, async_cb);
  ev_async_start(loop, &a);
  ev_async_send(loop, &a);
  ev_run(loop, 0);
}

int main(void)
{
  WATCHDOG(20);
  for (int k = 2; k <= 3; k++)
    for (int d = 1; d >= 0; d--) {
      TRACE("%d free descriptors, %s + ev_async", k, d ? "default loop" : "new loop");
      fflush(stdout);
      pid_t pid = fork();
      CHECK(pid >= 0);
      if (pid == 0) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        alarm(5);
        run_case(k, d);
        fflush(stdout);
        _exit(0);
      }
      int st;
      CHECK(waitpid(pid, &st, 0) == pid);
      if (WIFEXITED(st))
        TRACE("  process exit %d", WEXITSTATUS(st));
      else
        TRACE("  process killed by %s", WTERMSIG(st) == SIGABRT ? "SIGABRT" : "another signal");
    }
  return 0;
}
