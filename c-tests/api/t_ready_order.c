/* evring-test: mode=diff backends=1,2,4 timeout=20 */
/* The order of the callbacks of fds that are ready in the same iteration: three pipes made
 * readable in the order 2, 0, 1 (and 1, 2, 0), one EVRUN_NOWAIT. libev's select backend scans
 * its result from the highest fd down and its pending queue is last-in first-out, so there the
 * lowest fd runs first; poll and epoll report in their kernel's order. evring's select backend
 * once scanned upwards (found by a differential fuzzer). io_uring is left out: its order may
 * differ from libev's by design (README, "Differences"). */
#include "test.h"

static test_log order;
static int idx[1024];

static void cb(struct ev_loop *l, ev_io *w, int revents)
{
  char c;
  (void)l;
  CHECK(revents == EV_READ);
  CHECK(read(w->fd, &c, 1) == 1);
  test_log_add(&order, "%d", idx[w->fd]);
}

static void round_(struct ev_loop *l, const int *first)
{
  int p[3][2], i;
  ev_io w[3];
  for (i = 0; i < 3; i++) {
    CHECK(pipe(p[i]) == 0);
    CHECK(p[i][0] < 1024);
    idx[p[i][0]] = i;
    ev_io_init(&w[i], cb, p[i][0], EV_READ);
    ev_io_start(l, &w[i]);
  }
  ev_run(l, EVRUN_NOWAIT);
  for (i = 0; i < 3; i++) CHECK(write(p[first[i]][1], "x", 1) == 1);
  test_log_reset(&order);
  ev_run(l, EVRUN_NOWAIT);
  TRACE("written %d%d%d: callbacks %s", first[0], first[1], first[2], order.buf);
  for (i = 0; i < 3; i++) {
    ev_io_stop(l, &w[i]);
    close(p[i][0]);
    close(p[i][1]);
  }
}

int main(void)
{
  static const int a[3] = {2, 0, 1}, b[3] = {1, 2, 0};
  struct ev_loop *l;
  WATCHDOG(15);
  l = test_default_loop();
  round_(l, a);
  round_(l, b);
  ev_loop_destroy(l);
  return 0;
}
