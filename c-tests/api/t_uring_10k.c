/* evring-test: backends=128 mode=self timeout=90 lanes=dynamic,static */
/* evring-only: 10,000 fds ready at once (io_uring CQ overflow / big epoll batches).
 * 5,000 socketpairs, both ends watched for EV_READ (10,000 watchers); one byte is written into
 * every end, so all 10,000 fds are readable at the same time -- more than the ring's CQ (4096)
 * in the poll strategy, more than one epoll buffer in the others. Each callback reads its one
 * byte (blocking sockets, FIONREAD guard). Three rounds; every fd must get exactly one event
 * per round, and a NOWAIT iteration afterwards delivers nothing. RLIMIT_NOFILE is raised
 * within the hard limit; with a hard limit too low the test is skipped. */
#include "test.h"

#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define NPAIRS 5000
#define NFD (2 * NPAIRS)

static ev_io w[NFD];
static int fds[NFD], cnt[NFD], total, spurious;

static void cb(struct ev_loop *l, ev_io *io, int revents)
{
  int avail = 0;
  char c;
  (void)l; (void)revents;
  CHECK(ioctl(io->fd, FIONREAD, &avail) == 0);
  if (avail <= 0) { spurious++; return; }
  CHECK(read(io->fd, &c, 1) == 1);
  cnt[io - w]++;
  total++;
}

int main(void)
{
  struct ev_loop *l;
  struct rlimit rl;
  int i, round;
  WATCHDOG(85);
  CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < NFD + 64)
    SKIP("RLIMIT_NOFILE hard limit %lu < %d", (unsigned long)rl.rlim_max, NFD + 64);
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur < NFD + 64) {
    rl.rlim_cur = NFD + 64;
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
  }
  l = test_default_loop();
  if (!getenv("EVRING_URING_FAIL")) CHECK_EQ_INT(ev_backend(l), EVBACKEND_IOURING);
  for (i = 0; i < NPAIRS; i++) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    fds[2 * i] = sv[0];
    fds[2 * i + 1] = sv[1];
  }
  for (i = 0; i < NFD; i++) {
    ev_io_init(&w[i], cb, fds[i], EV_READ);
    ev_io_start(l, &w[i]);
  }
  ev_run(l, EVRUN_NOWAIT);
  for (round = 1; round <= 3; round++) {
    for (i = 0; i < NFD; i++) CHECK(write(fds[i ^ 1], "z", 1) == 1);
    while (total < round * NFD) ev_run(l, EVRUN_ONCE);
    ev_run(l, EVRUN_NOWAIT);
    CHECK_EQ_INT(total, round * NFD);
    CHECK_EQ_INT(spurious, 0);
    for (i = 0; i < NFD; i++) CHECK_EQ_INT(cnt[i], round);
  }
  TRACE("10000 fds ready at once, 3 rounds: one event each per round, spurious=0");
  return 0;
}
