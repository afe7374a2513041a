/* evring-test: mode=diff backends=1,2,4 timeout=20 */
/* Watchers on regular files (epoll refuses them with EPERM: libev keeps them on an "always
 * ready" list) run in libev's order: four of them, five EVRUN_NOWAIT iterations, one watcher
 * stopped after the first and restarted after the third. evring once walked its list from the
 * front and ran them in reverse (found by review with a differential probe). io_uring is left
 * out: libev's own io_uring backend handles regular files differently. */
#include "test.h"

#include <fcntl.h>

static ev_io w[4];
static test_log order;

static void cb(struct ev_loop *l, ev_io *x, int revents)
{
  (void)l;
  CHECK(revents == EV_READ);
  test_log_add(&order, "%d", (int)(x - w));
}

static void step(struct ev_loop *l)
{
  test_log_reset(&order);
  ev_run(l, EVRUN_NOWAIT);
  TRACE("iteration: %s", order.buf);
}

int main(void)
{
  char path[] = "t_eperm_order.XXXXXX";
  struct ev_loop *l;
  int f, fds[4], i;
  WATCHDOG(15);
  l = test_default_loop();
  f = mkstemp(path);
  CHECK(f >= 0);
  CHECK(write(f, "data", 4) == 4);
  for (i = 0; i < 4; i++) {
    fds[i] = open(path, O_RDONLY);
    CHECK(fds[i] >= 0);
    ev_io_init(&w[i], cb, fds[i], EV_READ);
    ev_io_start(l, &w[i]);
  }
  unlink(path);
  close(f);
  step(l);
  ev_io_stop(l, &w[1]);
  step(l);
  step(l);
  ev_io_start(l, &w[1]);
  step(l);
  step(l);
  for (i = 0; i < 4; i++) {
    ev_io_stop(l, &w[i]);
    close(fds[i]);
  }
  ev_loop_destroy(l);
  return 0;
}
