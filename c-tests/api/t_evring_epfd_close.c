/* evring-test: mode=self backends=all timeout=40 variants=plain,ring */
/* evring-only: the application closes the loop's epoll fd (pgagroal's workers close fd numbers
 * taken from their parent's tables; libev then fails), and only afterwards starts new io
 * watchers: 1 (a plain epoll_ctl) and 5 (a batch; variant `ring`: through evring's io_uring
 * ring from the first iteration). Their EPOLL_CTL fails with EBADF because the epoll fd is gone,
 * not because the watched fd is bad: the loop must rebuild its epoll set and deliver the data,
 * never EV_ERROR (evring's io_uring backend once failed the watchers, and a failed
 * EPOLL_WAIT sent the loop to the epoll backend for good). On poll/select there is no epoll fd:
 * the test only checks the data flows. Found by review. */
#include "test.h"

static int nerr, nread;

static void cb(struct ev_loop *l, ev_io *w, int revents)
{
  char c;
  if (revents & EV_ERROR) { nerr++; return; }
  if (read(w->fd, &c, 1) == 1) nread++;
  ev_io_stop(l, w);
}

static void attack(int nw)
{
  struct ev_loop *l = test_new_loop(0);
  unsigned backend = ev_backend(l);
  ev_io w0, ws[5];
  int p0[2], ps[5][2], i, ep, closed = 0;
  CHECK(pipe(p0) == 0);
  ev_io_init(&w0, cb, p0[0], EV_READ);
  ev_io_start(l, &w0);
  ev_run(l, EVRUN_NOWAIT);
  /* close every epoll fd number the loop holds (the epoll backend keeps three) */
  while ((ep = test_find_fd("anon_inode:[eventpoll]")) >= 0) {
    CHECK(close(ep) == 0);
    closed++;
  }
  fprintf(stderr, "backend 0x%x: closed %d epoll fd number(s)\n", backend, closed);
  nread = nerr = 0;
  for (i = 0; i < nw; i++) {
    CHECK(pipe(ps[i]) == 0);
    CHECK(write(ps[i][1], "x", 1) == 1);
    ev_io_init(&ws[i], cb, ps[i][0], EV_READ);
    ev_io_start(l, &ws[i]);
  }
  for (i = 0; i < 20 && nread + nerr < nw; i++) ev_run(l, EVRUN_ONCE);
  TRACE("%d watcher(s) started after the epoll fd was closed: read %d, EV_ERROR %d", nw, nread,
        nerr);
  CHECK_EQ_INT(nerr, 0);
  CHECK_EQ_INT(nread, nw);
  fprintf(stderr, "backend afterwards 0x%x\n", ev_backend(l));
  CHECK_EQ_INT(ev_backend(l), backend);
  for (i = 0; i < nw; i++) {
    close(ps[i][0]);
    close(ps[i][1]);
  }
  ev_io_stop(l, &w0);
  close(p0[0]);
  close(p0[1]);
  ev_loop_destroy(l);
}

int main(int argc, char **argv)
{
  WATCHDOG(30);
  if (argc > 1 && !strcmp(argv[1], "ring")) {
    setenv("EVRING_URING_RING_AFTER", "0", 1);
    setenv("EVRING_URING_SMALL", "0", 1);
  }
  attack(1);
  attack(5);
  return 0;
}
