/* evring-test: backends=128 mode=self timeout=60 */
/* evring-only: the io_uring backend's late ring (README, "When the ring is made").
 * A loop that cannot take the process's spare ring (the first loop took it) works on its
 * epoll set and sends its batches as plain epoll_ctl until batching would have saved
 * EVRING_URING_RING_AFTER system calls (here 8), then makes its ring.
 *  1. Events flow before, while and after the ring is made: K blocking sockets, one byte at a
 *     time, every callback reads exactly one byte (a missed event hangs until the watchdog,
 *     a spurious one is counted); ev_backend() stays EVBACKEND_IOURING; no io_uring fd exists
 *     until the batches have earned it, then exactly one.
 *     A child forked then (ev_loop_fork) gets its events on a loop of its own (its first
 *     rebuild has no spare ring: no ring until its batches earn one again), and the parent's
 *     loop keeps working afterwards.
 *  2. The same when the ring cannot be made at that point (EVRING_URING_FAIL=enomem, set
 *     after the process's availability probe passed): the loop moves to the epoll backend at
 *     once, ev_backend() says EVBACKEND_EPOLL, and no event is lost. */
#include "test.h"

#include <dirent.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define K 4

static int got[K], spurious;

static void cb(struct ev_loop *l, ev_io *w, int revents)
{
  char c;
  (void)l; (void)revents;
  if (!test_read1(w->fd, &c)) { spurious++; return; }
  got[(int)(c - '0')]++;
}

/* How many io_uring instances this process has open. */
static int rings(void)
{
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  int n = 0;
  char path[300], link[128];
  CHECK(d != NULL);
  while ((e = readdir(d)) != NULL) {
    ssize_t r;
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
    r = readlink(path, link, sizeof link - 1);
    if (r <= 0) continue;
    link[r] = 0;
    if (strcmp(link, "anon_inode:[io_uring]") == 0) n++;
  }
  closedir(d);
  return n;
}

/* One byte into every socket; each watcher gets exactly its one event, nothing spurious. */
static void one_byte_each(struct ev_loop *l, int s[K][2])
{
  int i;
  for (i = 0; i < K; i++) {
    char c = (char)('0' + i);
    CHECK(write(s[i][1], &c, 1) == 1);
  }
  for (i = 0; i < K; i++)
    while (got[i] < 1) ev_run(l, EVRUN_ONCE);
  ev_run(l, EVRUN_NOWAIT);
  for (i = 0; i < K; i++) CHECK_EQ_INT(got[i], 1);
  CHECK_EQ_INT(spurious, 0);
}

static void scenario(int fail)
{
  struct ev_loop *l;
  ev_io w[K];
  int s[K][2], i, it, before, made_at = -1;
  if (fail) setenv("EVRING_URING_FAIL", "enomem", 1);
  before = rings();
  l = ev_loop_new(EVBACKEND_IOURING);
  CHECK(l != NULL);
  CHECK_EQ_INT(ev_backend(l), EVBACKEND_IOURING);
  if (rings() != before)
    SKIP("this kernel runs the epollctl strategy (no IORING_OP_EPOLL_WAIT): its ring comes "
         "with the loop");
  memset(got, 0, sizeof got);
  spurious = 0;
  for (i = 0; i < K; i++) {
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s[i]) == 0);
    ev_io_init(&w[i], cb, s[i][0], EV_READ);
    ev_io_start(l, &w[i]);
  }
  for (it = 0; it < 40; it++) {
    int t = it % K;
    char c = (char)('0' + t);
    /* K changes per iteration: ev_io_set forces a re-registration of the same fd and mask */
    for (i = 0; i < K; i++) {
      ev_io_stop(l, &w[i]);
      ev_io_set(&w[i], s[i][0], EV_READ);
      ev_io_start(l, &w[i]);
    }
    CHECK(write(s[t][1], &c, 1) == 1);
    while (got[t] < it / K + 1) ev_run(l, EVRUN_ONCE);
    if (made_at < 0 && !fail && rings() > before) made_at = it;
  }
  ev_run(l, EVRUN_NOWAIT);
  for (i = 0; i < K; i++) CHECK_EQ_INT(got[i], 40 / K);
  CHECK_EQ_INT(spurious, 0);
  {
    /* fork: the child rebuilds (ev_loop_fork) and gets one byte per socket */
    int st;
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
      alarm(20); /* the parent's watchdog does not reach a hung child */
      ev_loop_fork(l);
      memset(got, 0, sizeof got);
      for (i = 0; i < K; i++) {
        ev_io_stop(l, &w[i]);
        ev_io_start(l, &w[i]);
      }
      one_byte_each(l, s);
      _exit(0);
    }
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* the parent's loop still serves every socket */
    memset(got, 0, sizeof got);
    one_byte_each(l, s);
  }
  if (fail) {
    CHECK_EQ_INT(ev_backend(l), EVBACKEND_EPOLL);
    CHECK_EQ_INT(rings(), before);
    TRACE("ring could not be made: the loop moved to epoll, every event delivered");
  } else {
    CHECK_EQ_INT(ev_backend(l), EVBACKEND_IOURING);
    CHECK_EQ_INT(rings(), before + 1);
    /* iteration 0 saves K - 1 = 3 (credit 3), iteration 1 brings 6, iteration 2 reaches 9 >= 8 */
    CHECK_EQ_INT(made_at, 2);
    TRACE("ring made in iteration %d (credit 8); every event delivered before and after", made_at);
  }
  for (i = 0; i < K; i++) {
    ev_io_stop(l, &w[i]);
    close(s[i][0]);
    close(s[i][1]);
  }
  ev_loop_destroy(l);
  CHECK_EQ_INT(rings(), before);
  unsetenv("EVRING_URING_FAIL");
}

int main(void)
{
  struct ev_loop *first;
  WATCHDOG(55);
  if (getenv("EVRING_URING_FAIL")) SKIP("io_uring failure simulated");
  if (!(ev_supported_backends() & EVBACKEND_IOURING)) SKIP("io_uring unavailable");
  /* the first loop takes the probe's spare ring */
  first = ev_loop_new(EVBACKEND_IOURING);
  CHECK(first != NULL);
  setenv("EVRING_URING_MODE", "epollwait", 1);
  setenv("EVRING_URING_RING_AFTER", "8", 1);
  scenario(0);
  scenario(1);
  ev_loop_destroy(first);
  return 0;
}
