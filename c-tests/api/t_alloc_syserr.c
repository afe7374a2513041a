/* evring-test: timeout=30 lanes=dynamic,static,asan */
/* ev_set_allocator and ev_set_syserr_cb (libev-abi.md §4.20, §6 trap 23).
 * Allocator: only coarse checks (it is used for loop creation, ev_once, and every allocation
 * is released again by ev_loop_destroy / after the once callback). syserr: the callback is
 * accepted, and a failing backend call is routed to it (epoll_wait on a clobbered epoll fd;
 * poll() with more fds than RLIMIT_NOFILE) instead of aborting, after which the loop goes on.
 * Those loops are created with EVFLAG_NOENV so the trace does not depend on LIBEV_FLAGS.
 * Not in the valgrind lane: valgrind virtualises RLIMIT_NOFILE, so the poll() failure cannot be
 * provoked under it. */
#include "test.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>

/* ---- a counting realloc-style allocator ---------------------------------------------------------- */

static long a_allocs, a_frees, a_reallocs, a_null_frees, a_calls;

static void *counting_alloc(void *ptr, long size)
{
  a_calls++;
  if (size == 0) {
    if (ptr) a_frees++;
    else a_null_frees++;
    free(ptr);
    return NULL;
  }
  if (ptr) a_reallocs++;
  else a_allocs++;
  return realloc(ptr, (size_t)size);
}

static long live(void)
{
  return a_allocs - a_frees;
}

static void noop_io(struct ev_loop *l, ev_io *w, int r) { (void)l; (void)w; (void)r; }
static void noop_timer(struct ev_loop *l, ev_timer *w, int r) { (void)l; (void)w; (void)r; }
static void noop_async(struct ev_loop *l, ev_async *w, int r) { (void)l; (void)w; (void)r; }

static int once_calls, once_revents;
static void once_cb(int revents, void *arg)
{
  (void)arg;
  once_calls++;
  once_revents = revents;
}

static void s_allocator(void)
{
  struct ev_loop *loop;
  long base, calls;
  int p[2], i, fds[64][2];
  char c;
  ev_io ios[64];
  ev_timer timers[100];
  ev_async as;

  TRACE("1. counting allocator");
  base = live();
  calls = a_calls;
  loop = test_new_loop(0);
  TRACE("  ev_loop_new used the allocator: %d", a_calls > calls && live() > base);
  /* grow internal arrays: many fds, timers, an async watcher */
  for (i = 0; i < 64; i++) {
    CHECK(pipe(fds[i]) == 0);
    ev_io_init(&ios[i], noop_io, fds[i][1], EV_WRITE);
    ev_io_start(loop, &ios[i]);
  }
  for (i = 0; i < 100; i++) {
    ev_timer_init(&timers[i], noop_timer, 100. + i, 0.);
    ev_timer_start(loop, &timers[i]);
  }
  ev_async_init(&as, noop_async);
  ev_async_start(loop, &as);
  calls = a_calls;
  ev_run(loop, EVRUN_NOWAIT);
  ev_run(loop, EVRUN_NOWAIT);
  TRACE("  watchers started, iterations run: allocator used overall: %d", a_allocs + a_reallocs > 1);
  for (i = 0; i < 64; i++) ev_io_stop(loop, &ios[i]);
  for (i = 0; i < 100; i++) ev_timer_stop(loop, &timers[i]);
  ev_async_stop(loop, &as);
  ev_loop_destroy(loop);
  TRACE("  after ev_loop_destroy: every block freed=%d", live() == base);
  for (i = 0; i < 64; i++) { close(fds[i][0]); close(fds[i][1]); }

  /* ev_once allocates its hidden watcher pair and frees it before calling back */
  loop = test_new_loop(0);
  CHECK(pipe(p) == 0);
  /* warm up: let the loop grow its internal arrays for this pattern first */
  for (i = 0; i < 2; i++) {
    once_calls = 0;
    ev_once(loop, -1, 0, 0.001, once_cb, NULL);
    while (!once_calls) ev_run(loop, EVRUN_ONCE);
    once_calls = 0;
    CHECK_EQ_INT(write(p[1], "x", 1), 1);
    ev_once(loop, p[0], EV_READ, 10., once_cb, NULL);
    while (!once_calls) ev_run(loop, EVRUN_ONCE);
    CHECK_EQ_INT(read(p[0], &c, 1), 1);
  }
  once_calls = 0;
  base = live();
  ev_once(loop, -1, 0, 0.001, once_cb, NULL);
  TRACE("  ev_once(timeout) allocated: %d", live() > base);
  for (i = 0; i < 100 && !once_calls; i++) ev_run(loop, EVRUN_ONCE);
  TRACE("  once callback revents=0x%x, block freed=%d", (unsigned)once_revents, live() == base);
  once_calls = 0;
  CHECK_EQ_INT(write(p[1], "x", 1), 1);
  ev_once(loop, p[0], EV_READ, 10., once_cb, NULL);
  for (i = 0; i < 100 && !once_calls; i++) ev_run(loop, EVRUN_ONCE);
  TRACE("  once(io) callback revents=0x%x, block freed=%d", (unsigned)once_revents, live() == base);
  ev_loop_destroy(loop);
  close(p[0]);
  close(p[1]);

  /* the default loop: its internal arrays come from the allocator too */
  base = live();
  loop = test_default_loop();
  {
    ev_timer t;
    ev_timer_init(&t, noop_timer, 10., 0.);
    ev_timer_start(loop, &t);
    ev_run(loop, EVRUN_NOWAIT);
    ev_timer_stop(loop, &t);
  }
  TRACE("  default loop allocated: %d", live() > base);
  ev_loop_destroy(loop);
  TRACE("  default loop destroyed: every block freed=%d", live() == base);
  TRACE("  frees <= allocations: %d", a_frees <= a_allocs);
}

/* ---- 2. syserr callback --------------------------------------------------------------------------- */

static int se_calls;
static char se_msg[128];
static int se_restore_from = -1, se_restore_to = -1;
static struct rlimit se_rlimit;
static int se_restore_rlimit;

static void syserr_cb(const char *msg)
{
  int saved = errno;
  se_calls++;
  snprintf(se_msg, sizeof se_msg, "%s (errno %s)", msg,
           saved == EINVAL ? "EINVAL" : saved == EBADF ? "EBADF" : "other");
  if (se_restore_from >= 0) {
    CHECK(dup2(se_restore_from, se_restore_to) == se_restore_to);
    close(se_restore_from);
    se_restore_from = -1;
  }
  if (se_restore_rlimit) {
    CHECK(setrlimit(RLIMIT_NOFILE, &se_rlimit) == 0);
    se_restore_rlimit = 0;
  }
}

static int timer_fired;
static void fire_cb(struct ev_loop *l, ev_timer *w, int r)
{
  (void)l; (void)w; (void)r;
  timer_fired++;
}

/* the epoll fd created by ev_loop_new: the new fd whose link reads anon_inode:[eventpoll] */
static int find_new_epoll_fd(const char *before)
{
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  int found = -1;
  CHECK(d != NULL);
  while ((e = readdir(d)) != NULL) {
    char path[64], link[128];
    ssize_t n;
    int fd = atoi(e->d_name);
    if (e->d_name[0] == '.' || fd >= 1024 || before[fd]) continue;
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    n = readlink(path, link, sizeof link - 1);
    if (n <= 0) continue;
    link[n] = 0;
    if (strstr(link, "eventpoll")) found = fd;
  }
  closedir(d);
  return found;
}

static void mark_fds(char *open_fds)
{
  int fd;
  for (fd = 0; fd < 1024; fd++) open_fds[fd] = fcntl(fd, F_GETFD) >= 0;
}

static void s_syserr(void)
{
  struct ev_loop *loop;
  ev_timer t;
  ev_io ios[8];
  int fds[8][2], p[2], i, epfd;
  static char before[1024];

  TRACE("2. syserr callback");
  ev_set_syserr_cb(syserr_cb);
  loop = test_new_loop(0);
  ev_timer_init(&t, fire_cb, 0.01, 0.);
  ev_timer_start(loop, &t);
  ev_run(loop, 0);
  TRACE("  normal run: timer fired=%d syserr calls=%d", timer_fired, se_calls);
  ev_loop_destroy(loop);

  /* epoll: clobber the epoll fd with a pipe; epoll_wait fails with EINVAL -> callback, which
   * restores the epoll fd; the loop carries on. Only a timer: no epoll_ctl is issued. */
  mark_fds(before);
  loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV);
  CHECK(loop != NULL);
  epfd = find_new_epoll_fd(before);
  CHECK(epfd >= 0);
  ev_run(loop, EVRUN_NOWAIT);
  CHECK(pipe(p) == 0);
  se_restore_from = dup(epfd);
  se_restore_to = epfd;
  CHECK(se_restore_from >= 0);
  CHECK(dup2(p[0], epfd) == epfd);
  timer_fired = 0;
  ev_timer_init(&t, fire_cb, 0.05, 0.);
  ev_timer_start(loop, &t);
  ev_run(loop, 0);
  TRACE("  epoll_wait failure: syserr calls=%d msg='%s' timer fired afterwards=%d", se_calls,
        se_msg, timer_fired);
  ev_loop_destroy(loop);
  close(p[0]);
  close(p[1]);

  /* poll: more fds in the set than RLIMIT_NOFILE allows -> EINVAL -> callback restores */
  loop = ev_loop_new(EVBACKEND_POLL | EVFLAG_NOENV);
  CHECK(loop != NULL);
  for (i = 0; i < 8; i++) {
    CHECK(pipe(fds[i]) == 0);
    ev_io_init(&ios[i], noop_io, fds[i][0], EV_READ);
    ev_io_start(loop, &ios[i]);
  }
  ev_run(loop, EVRUN_NOWAIT);
  se_calls = 0;
  se_msg[0] = 0;
  CHECK(getrlimit(RLIMIT_NOFILE, &se_rlimit) == 0);
  {
    struct rlimit low = se_rlimit;
    low.rlim_cur = 4;
    se_restore_rlimit = 1;
    CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
  }
  timer_fired = 0;
  ev_timer_init(&t, fire_cb, 0.05, 0.);
  ev_timer_start(loop, &t);
  while (!timer_fired) ev_run(loop, EVRUN_ONCE);
  TRACE("  poll failure: syserr calls=%d msg='%s' timer fired afterwards=%d", se_calls, se_msg,
        timer_fired);
  for (i = 0; i < 8; i++) {
    ev_io_stop(loop, &ios[i]);
    close(fds[i][0]);
    close(fds[i][1]);
  }
  ev_loop_destroy(loop);
  ev_set_syserr_cb(NULL);
}

int main(void)
{
  WATCHDOG(25);
  ev_set_allocator(counting_alloc);   /* before anything allocates */
  s_allocator();
  s_syserr();
  TRACE("done");
  return 0;
}
