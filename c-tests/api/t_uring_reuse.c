/* evring-test: backends=128 mode=self timeout=60 */
/* evring-only: fd close and reuse while the loop has (had) interest in it; generation tags.
 *  1. 1000 times: a watcher on socket X is stopped, X closed, a new socket gets the same
 *     number, the watcher is re-set on it and started in the same iteration; the new socket
 *     gets exactly one event per byte, writes into the old peer never show up.
 *  2. dup2 over a watched fd while the old file stays open elsewhere (the kernel keeps the
 *     old (file, fd) registration on epoll): re-set + start; data on the OLD file must never
 *     be delivered; data on the new one must.
 *  3. ev_io_set on the same fd and file (forced re-registration; epoll ADD -> EEXIST in the
 *     batched path): events keep flowing, none lost, none duplicated.
 * Sockets are blocking and callbacks read exactly one byte (pgagroal style), guarded by
 * FIONREAD: a spurious event is counted, a missed one hangs until the watchdog. */
#include "test.h"

#include <sys/socket.h>

static int events, spurious;

static void cb(struct ev_loop *l, ev_io *w, int revents)
{
  char c;
  (void)l; (void)revents;
  if (!test_read1(w->fd, &c)) { spurious++; return; }
  CHECK(c == 'n');
  events++;
}

static void run_until(struct ev_loop *l, int n)
{
  while (events < n) ev_run(l, EVRUN_ONCE);
  ev_run(l, EVRUN_NOWAIT);
  CHECK_EQ_INT(events, n);
  CHECK_EQ_INT(spurious, 0);
}

int main(void)
{
  struct ev_loop *l;
  ev_io w, other;
  int s[2], t[2], keep, i, o[2];
  WATCHDOG(55);
  l = test_default_loop();
  if (!getenv("EVRING_URING_FAIL")) CHECK_EQ_INT(ev_backend(l), EVBACKEND_IOURING);
  /* a second, always idle watcher so that changes come in batches of two */
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, o) == 0);
  ev_io_init(&other, cb, o[0], EV_READ);
  ev_io_start(l, &other);

  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
  ev_io_init(&w, cb, s[0], EV_READ);
  ev_io_start(l, &w);
  CHECK(write(s[1], "n", 1) == 1);
  run_until(l, 1);
  for (i = 0; i < 1000; i++) {
    int fd = s[0], peer_old = s[1];
    ev_io_stop(l, &w);
    if (i & 1) { ev_io_stop(l, &other); ev_io_start(l, &other); }
    close(fd);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, t) == 0);
    if (t[0] != fd) { /* make it the same number */
      CHECK(dup2(t[0], fd) == fd);
      close(t[0]);
      t[0] = fd;
    }
    /* the old peer: writing fails now (peer closed) or is never seen */
    (void)send(peer_old, "o", 1, MSG_NOSIGNAL);
    close(peer_old);
    s[0] = t[0];
    s[1] = t[1];
    ev_io_set(&w, s[0], EV_READ);
    ev_io_start(l, &w);
    if (i % 3 == 0) ev_run(l, EVRUN_NOWAIT); /* sometimes register before the data */
    CHECK(write(s[1], "n", 1) == 1);
    run_until(l, 2 + i);
  }
  TRACE("1. 1000 close+reuse cycles: every byte once, spurious=0");

  /* 2. dup2 over a watched fd, old file still open via `keep` */
  keep = dup(s[0]);
  CHECK(keep >= 0);
  ev_io_stop(l, &w);
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, t) == 0);
  CHECK(dup2(t[0], s[0]) == s[0]);
  close(t[0]);
  ev_io_set(&w, s[0], EV_READ);
  ev_io_start(l, &w);
  ev_run(l, EVRUN_NOWAIT);
  CHECK(write(s[1], "X", 1) == 1); /* into the OLD file (readable through keep only) */
  ev_run(l, EVRUN_NOWAIT);
  ev_run(l, EVRUN_NOWAIT);
  CHECK_EQ_INT(events, 1001);
  CHECK_EQ_INT(spurious, 0);
  CHECK(write(t[1], "n", 1) == 1);
  run_until(l, 1002);
  TRACE("2. dup2 over a watched fd: old file's data never delivered");
  close(keep);
  close(s[1]);
  s[1] = t[1];

  /* 3. forced re-registration of the same fd and file, together with another change */
  for (i = 0; i < 200; i++) {
    ev_io_stop(l, &w);
    ev_io_set(&w, s[0], EV_READ);
    ev_io_start(l, &w);
    ev_io_stop(l, &other);
    ev_io_start(l, &other);
    CHECK(write(s[1], "n", 1) == 1);
    run_until(l, 1003 + i);
  }
  TRACE("3. 200 forced re-registrations: every byte once");
  return 0;
}
