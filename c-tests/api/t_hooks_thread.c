/* evring-test: timeout=60 */
/* Release/acquire hooks with another thread changing watchers while the loop waits -- the
 * pattern libev's manual documents for threads: the loop's hooks unlock/lock a mutex around
 * the blocking wait; another thread takes the mutex, starts an io watcher on a high fd
 * number (which grows the loop's fd table), makes it readable, calls ev_async_send and
 * unlocks. The loop must deliver both the async and the io event, and must not touch its fd
 * table while the other thread may be changing it (evring did before the backends called
 * the hooks right around their system call: a use-after-free that the valgrind and asan lanes
 * see). Each round uses a new loop, so the table grows in every round. */
#include "test.h"

#include <pthread.h>
#include <sys/resource.h>

#define ROUNDS 40

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct ev_loop *L;
static ev_async as;
static ev_io big;
static int big_fd, wr_fd, got_async, got_io, releases, acquires;

static void rel(struct ev_loop *l)
{
  (void)l;
  releases++;
  CHECK(pthread_mutex_unlock(&mu) == 0);
}

static void acq(struct ev_loop *l)
{
  (void)l;
  CHECK(pthread_mutex_lock(&mu) == 0);
  acquires++;
}

static void maybe_done(struct ev_loop *l)
{
  if (got_async && got_io) ev_break(l, EVBREAK_ALL);
}

static void async_cb(struct ev_loop *l, ev_async *w, int revents)
{
  (void)w; (void)revents;
  got_async++;
  maybe_done(l);
}

static void io_cb(struct ev_loop *l, ev_io *w, int revents)
{
  char c;
  (void)revents;
  CHECK(test_read1(w->fd, &c) && c == 'b');
  got_io++;
  ev_io_stop(l, w);
  maybe_done(l);
}

static void *other(void *arg)
{
  int p[2];
  (void)arg;
  CHECK(pthread_mutex_lock(&mu) == 0); /* only possible while the loop waits */
  CHECK(pipe(p) == 0);
  CHECK(dup2(p[0], big_fd) == big_fd);
  close(p[0]);
  wr_fd = p[1];
  ev_io_init(&big, io_cb, big_fd, EV_READ);
  ev_io_start(L, &big); /* grows the loop's fd table */
  CHECK(write(wr_fd, "b", 1) == 1);
  ev_async_send(L, &as);
  CHECK(pthread_mutex_unlock(&mu) == 0);
  return NULL;
}

int main(void)
{
  struct rlimit rl;
  int r;
  WATCHDOG(55);
  /* evring's io_uring backend: every change through the ring, so the hooks around the ring
   * enters are exercised too, not only those around plain epoll_wait (libev ignores these) */
  {
    /* Not under valgrind: it keeps its big lock while a thread sits in io_uring_enter (it
     * does not treat that syscall as blocking), so the other thread could not run until the
     * wait times out. */
    const char *pre = getenv("LD_PRELOAD");
    if (!pre || !strstr(pre, "vgpreload")) {
      setenv("EVRING_URING_SMALL", "0", 0);
      setenv("EVRING_URING_RING_AFTER", "0", 0);
    }
  }
  CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
  if (rl.rlim_cur < 16384 && rl.rlim_max > rl.rlim_cur) {
    rl.rlim_cur = rl.rlim_max < 16384 ? rl.rlim_max : 16384;
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
  }
  /* far above every loop-owned fd (evring keeps them near 512) and above what the table's
   * first growth reserves, so that starting the watcher moves the table */
  big_fd = rl.rlim_cur > 9000 ? 8000 : (int)rl.rlim_cur - 8;
  /* (valgrind keeps the soft limit it was started with: under a 1024 limit this skips) */
  if (big_fd < 4000) SKIP("RLIMIT_NOFILE too small for a high fd number");
  for (r = 0; r < ROUNDS; r++) {
    pthread_t t;
    CHECK(pthread_mutex_lock(&mu) == 0);
    L = ev_loop_new(0);
    CHECK(L != NULL);
    ev_set_loop_release_cb(L, rel, acq);
    ev_async_init(&as, async_cb);
    ev_async_start(L, &as);
    got_async = got_io = releases = acquires = 0;
    CHECK(pthread_create(&t, NULL, other, NULL) == 0);
    ev_run(L, 0);
    CHECK(pthread_mutex_unlock(&mu) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK_EQ_INT(got_async, 1);
    CHECK_EQ_INT(got_io, 1);
    CHECK(releases >= 1 && releases == acquires);
    ev_async_stop(L, &as);
    ev_set_loop_release_cb(L, 0, 0);
    ev_loop_destroy(L);
    close(big_fd);
    close(wr_fd);
  }
  TRACE("%d rounds: the other thread's watcher (fd table grown while the loop waited) and its "
        "ev_async_send were both delivered; hooks paired", ROUNDS);
  return 0;
}
