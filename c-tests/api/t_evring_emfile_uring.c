/* evring-test: timeout=30 lanes=dynamic,static,asan backends=128 mode=self */
/* t_emfile_loop for evring's io_uring backend (evring only: libev's own io_uring backend is
 * no oracle here, it needs more descriptors). With two free descriptors a default loop and a
 * new loop must work and wake up, as libev's epoll loops do: the loop gives back its ring,
 * which only batches changes, for its wakeup fd (differential hunt, session 7: both aborted
 * with "error creating signal/async pipe"). Each case runs in a forked child. */
#include "test.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

static int woke;
static void async_cb(EV_P_ ev_async *w, int revents)
{
  (void)w;
  woke = revents == EV_ASYNC;
  ev_break(EV_A_ EVBREAK_ALL);
}

static void run_case(int use_default)
{
  struct rlimit rl = {64, 64};
  CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
  static int fillers[64];
  int n = 0, fd;
  while ((fd = open("/dev/null", O_RDONLY)) >= 0)
    fillers[n++] = fd;
  for (int i = 0; i < 2 && n > 0; i++)
    close(fillers[--n]);
  struct ev_loop *loop = use_default ? ev_default_loop(0) : ev_loop_new(0);
  CHECK(loop != NULL);
  CHECK_EQ_INT(ev_backend(loop), EVBACKEND_IOURING);
  ev_async a;
  ev_async_init(&a, async_cb);
  ev_async_start(loop, &a);
  ev_async_send(loop, &a);
  ev_run(loop, 0);
  CHECK(woke);
}

int main(void)
{
  WATCHDOG(20);
  if (!(ev_supported_backends() & EVBACKEND_IOURING))
    SKIP("io_uring unavailable");
  for (int d = 1; d >= 0; d--) {
    TRACE("2 free descriptors, %s + ev_async", d ? "default loop" : "new loop");
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
      alarm(5);
      run_case(d);
      _exit(0);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  return 0;
}
