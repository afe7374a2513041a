/* evring-test: backends=128 mode=self timeout=120 lanes=dynamic,static,asan */
/* evring-only: fork storm on a loop with io_uring (pgagroal's pattern, pgagroal.md §0).
 *
 * The parent serves NP blocking socketpairs on the default loop: each round it forks, writes
 * one byte into every pair and runs the loop until each byte was read by exactly one
 * callback (one read per callback; a spurious event would block in read(), a missed one would
 * hang the round -- both end as a watchdog failure; FIONREAD guards the read). Every round
 * also stops/starts some of its watchers (interest churn).
 * The child (200 rounds, variants rotate):
 *   0: no ev_loop_fork: ev_io_stop + ev_io_start + ev_io_stop of every inherited watcher,
 *      close the inherited fds, then run the inherited loop with its own pipe watcher;
 *   1: the same after ev_loop_fork;
 *   2: stops only, no ev_run, exit() (atexit handlers, no loop destroy);
 *   3: ev_loop_fork, stops, ev_loop_destroy(default loop), exit().
 * The child must never touch the parent's ring (ring mmaps are MADV_DONTFORK; a child that
 * submitted to the parent's ring would steal its completions). The parent must see all
 * NP*200 bytes with no spurious or missed event. */
#include "test.h"

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define NP 8
#define ROUNDS 200

static int sv[NP][2];
static ev_io w[NP];
static int got[NP], spurious, total;

static void srv_cb(struct ev_loop *l, ev_io *io, int revents)
{
  int i = (int)(io - w), avail = 0;
  char c;
  (void)l; (void)revents;
  CHECK(ioctl(io->fd, FIONREAD, &avail) == 0);
  if (avail <= 0) { spurious++; return; }
  CHECK(read(io->fd, &c, 1) == 1);
  got[i]++;
  total++;
}

static int reaped, child_status;
static void reap_cb(struct ev_loop *l, ev_child *c, int revents)
{
  (void)revents;
  child_status = c->rstatus;
  reaped = 1;
  ev_child_stop(l, c);
}

static int child_got;
static void child_cb(struct ev_loop *l, ev_io *io, int revents)
{
  char c;
  (void)revents;
  CHECK(read(io->fd, &c, 1) == 1);
  child_got++;
  ev_io_stop(l, io);
}

static void child(struct ev_loop *l, int variant)
{
  int i, p[2];
  ev_io own;
  if (variant == 1 || variant == 3) ev_loop_fork(l);
  for (i = 0; i < NP; i++) {
    ev_io_stop(l, &w[i]);
    if (variant < 2) { ev_io_start(l, &w[i]); ev_io_stop(l, &w[i]); }
    close(sv[i][0]);
    close(sv[i][1]);
  }
  if (variant == 3) { ev_loop_destroy(l); exit(0); }
  if (variant == 2) exit(0);
  CHECK(pipe(p) == 0);
  ev_io_init(&own, child_cb, p[0], EV_READ);
  ev_io_start(l, &own);
  CHECK(write(p[1], "k", 1) == 1);
  ev_run(l, 0);
  CHECK_EQ_INT(child_got, 1);
  exit(0);
}

int main(void)
{
  struct ev_loop *l;
  int i, r;
  ev_child cw;
  WATCHDOG(110);
  l = test_default_loop();
  if (!getenv("EVRING_URING_FAIL")) CHECK_EQ_INT(ev_backend(l), EVBACKEND_IOURING);
  for (i = 0; i < NP; i++) {
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]) == 0);
    ev_io_init(&w[i], srv_cb, sv[i][0], EV_READ);
    ev_io_start(l, &w[i]);
  }
  ev_run(l, EVRUN_NOWAIT);
  for (r = 0; r < ROUNDS; r++) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) child(l, r % 4);
    reaped = 0;
    ev_child_init(&cw, reap_cb, pid, 0);
    ev_child_start(l, &cw);
    /* interest churn in the parent */
    ev_io_stop(l, &w[r % NP]);
    ev_io_start(l, &w[r % NP]);
    for (i = 0; i < NP; i++) CHECK(write(sv[i][1], "p", 1) == 1);
    while (total < (r + 1) * NP || !reaped) ev_run(l, EVRUN_ONCE);
    CHECK(WIFEXITED(child_status) && WEXITSTATUS(child_status) == 0);
    /* nothing left over: a NOWAIT iteration delivers nothing */
    ev_run(l, EVRUN_NOWAIT);
    CHECK_EQ_INT(total, (r + 1) * NP);
  }
  for (i = 0; i < NP; i++) CHECK_EQ_INT(got[i], ROUNDS);
  CHECK_EQ_INT(spurious, 0);
  TRACE("%d fork rounds: parent got every byte once, spurious=%d", ROUNDS, spurious);
  return 0;
}
