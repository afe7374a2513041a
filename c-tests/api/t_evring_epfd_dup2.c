/* evring-test: mode=self backends=all timeout=30 */
/* evring-only: the application dup2()s one of its own eventfds onto the loop's epoll fd
 * number, then destroys the loop (before the loop could notice). ev_loop_destroy must leave
 * the application's file open: every eventfd, timerfd, signalfd and epoll fd shares one
 * anonymous inode, so fstat cannot tell them apart (evring's io_uring backend closed it;
 * found by review). Debian's libev closes it too. Backends without an epoll fd: nothing to
 * attack, the test only checks that destroy works. */
#include "test.h"

#include <fcntl.h>
#include <sys/eventfd.h>

int main(void)
{
  struct ev_loop *l;
  int p[2], app, ep, open_after;
  WATCHDOG(20);
  l = test_new_loop(0);
  CHECK(pipe(p) == 0);
  ev_run(l, EVRUN_NOWAIT);
  ep = test_find_fd("anon_inode:[eventpoll]");
  app = eventfd(0, EFD_CLOEXEC);
  CHECK(app >= 0);
  if (ep >= 0) CHECK(dup2(app, ep) == ep);
  ev_loop_destroy(l);
  open_after = ep < 0 || fcntl(ep, F_GETFD) >= 0;
  TRACE("the application's eventfd on the loop's epoll fd number is still open after "
        "ev_loop_destroy: %s", open_after ? "yes" : "no");
  CHECK(open_after);
  if (ep >= 0) close(ep);
  close(app);
  close(p[0]);
  close(p[1]);
  return 0;
}
