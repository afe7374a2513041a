/* evring-test: mode=diff backends=1,2,4 timeout=30 */
/* How many io callbacks one loop iteration runs when many fds are ready at once: 1200 pipes
 * with a byte each, ev_run(EVRUN_ONCE) until all are read. With epoll the wait returns at
 * most as many events as its buffer holds, and a full buffer grows for the next wait, so the
 * per-iteration counts follow the buffer's growth (libev: 64, 130, 262, 680, ...; evring
 * once doubled it: 64, 128, 256, 512; found by a differential hunt). (io_uring is left out:
 * Debian's libev has its own io_uring backend, with other batches.) */
#include "test.h"

#include <sys/resource.h>

#define N 1200

static int pp[N][2];
static ev_io w[N];
static int got;

static void cb(struct ev_loop *l, ev_io *x, int revents)
{
  char c;
  CHECK(revents == EV_READ);
  CHECK(read(x->fd, &c, 1) == 1);
  got++;
  ev_io_stop(l, x);
}

int main(void)
{
  struct ev_loop *l;
  struct rlimit r;
  int i, it;
  WATCHDOG(20);
  CHECK(getrlimit(RLIMIT_NOFILE, &r) == 0);
  if (r.rlim_cur < 2 * N + 64) {
    r.rlim_cur = r.rlim_max < 2 * N + 64 ? r.rlim_max : 2 * N + 64;
    CHECK(setrlimit(RLIMIT_NOFILE, &r) == 0);
    if (r.rlim_cur < 2 * N + 64) SKIP("RLIMIT_NOFILE too small");
  }
  l = ev_loop_new(EVFLAG_AUTO);
  CHECK(l != NULL);
  for (i = 0; i < N; i++) {
    CHECK(pipe(pp[i]) == 0);
    CHECK(write(pp[i][1], "z", 1) == 1);
    ev_io_init(&w[i], cb, pp[i][0], EV_READ);
    ev_io_start(l, &w[i]);
  }
  for (it = 0; got < N && it < 50; it++) {
    int before = got;
    ev_run(l, EVRUN_ONCE);
    TRACE("iteration %d: %d callbacks", it + 1, got - before);
  }
  CHECK_EQ_INT(got, N);
  for (i = 0; i < N; i++) {
    close(pp[i][0]);
    close(pp[i][1]);
  }
  ev_loop_destroy(l);
  return 0;
}
