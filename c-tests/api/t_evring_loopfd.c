/* evring-test: mode=self backends=4 timeout=30 */
/* evring-only (tracker issue 7, part 1): the loop's own fds live at high numbers, and a loop
 * whose epoll fd is closed by the application — or whose number now names another file —
 * rebuilds its epoll set and keeps delivering io, timer, signal and async events. evring
 * keeps each of its kernel objects at several numbers (see src/core/loopfds.rs); this test
 * clobbers all numbers of the epoll instance at once (t_evring_loopfd_all does one at a
 * time, for every loop fd and backend).
 * Debian's libev aborts here ("(libev) epoll_wait: Bad file descriptor"), so this test runs
 * against evring only. */
#include "test.h"
#include <fcntl.h>
#include <pthread.h>

static int fds[2];
static int got_io, got_timer, got_signal, got_async;
static ev_async async_w;
static struct ev_loop *loop;

struct found { const char *what; int *out, max, n; };

static int add_if_match(int fd, const char *target, void *arg)
{
  struct found *f = arg;
  if (strstr(target, f->what) && f->n < f->max) f->out[f->n++] = fd;
  return 0;
}

/* Find the fd numbers whose /proc link contains `what`; returns how many. */
static int find_fds(const char *what, int *out, int max)
{
  struct found f = { what, out, max, 0 };
  test_each_fd(add_if_match, &f);
  return f.n;
}

static void io_cb(struct ev_loop *l, ev_io *w, int revents)
{
  char c;
  (void)l;
  CHECK(revents & EV_READ);
  CHECK(read(w->fd, &c, 1) == 1);
  got_io++;
}

static void timer_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)l; (void)w; (void)revents;
  got_timer++;
  CHECK(write(fds[1], "x", 1) == 1);
}

static void signal_cb(struct ev_loop *l, ev_signal *w, int revents)
{
  (void)l; (void)w; (void)revents;
  got_signal++;
}

static void async_cb(struct ev_loop *l, ev_async *w, int revents)
{
  (void)w; (void)revents;
  got_async++;
  if (got_io >= 6 && got_signal >= 2 && got_async >= 1) ev_break(l, EVBREAK_ALL);
}

static void *sender(void *arg)
{
  (void)arg;
  usleep(200 * 1000);
  ev_async_send(loop, &async_w);
  return NULL;
}

int main(void)
{
  int epfds[8], n, junk[2], i;
  ev_io io;
  ev_timer t;
  ev_signal sig;
  pthread_t th;

  WATCHDOG(20);
  loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV);
  if (!loop) SKIP("no epoll loop");
  CHECK(pipe(fds) == 0);
  ev_io_init(&io, io_cb, fds[0], EV_READ);
  ev_io_start(loop, &io);
  ev_timer_init(&t, timer_cb, 0.01, 0.02);
  ev_timer_start(loop, &t);
  ev_signal_init(&sig, signal_cb, SIGUSR1);
  ev_signal_start(loop, &sig);
  ev_async_init(&async_w, async_cb);
  ev_async_start(loop, &async_w);
  ev_run(loop, EVRUN_NOWAIT);

  n = find_fds("anon_inode:[eventpoll]", epfds, 8);
  CHECK(n >= 1);
  for (i = 0; i < n; i++) CHECK(epfds[i] >= 64);
  TRACE("epoll fd is above the low fd range: %s", "yes");
  {
    int efds[8], m = find_fds("anon_inode:[eventfd]", efds, 8);
    CHECK(m >= 1);
    TRACE("wakeup eventfd is above the low fd range: %s", efds[0] >= 64 ? "yes" : "no");
  }

  /* 1: the application closes the loop's epoll fd (every number of it). */
  for (i = 0; i < n; i++) CHECK(close(epfds[i]) == 0);
  while (got_io < 3) ev_run(loop, EVRUN_ONCE);
  raise(SIGUSR1);
  ev_run(loop, EVRUN_NOWAIT);
  TRACE("after close of the epoll fd: io and timers go on: yes, signal delivered: %s", got_signal == 1 ? "yes" : "no");

  /* 2: ... and then another file takes its number. */
  n = find_fds("anon_inode:[eventpoll]", epfds, 8);
  CHECK(n >= 1);
  CHECK(pipe(junk) == 0);
  for (i = 0; i < n; i++) CHECK(dup2(junk[0], epfds[i]) == epfds[i]);
  raise(SIGUSR1);
  CHECK(pthread_create(&th, NULL, sender, NULL) == 0);
  ev_run(loop, 0);
  pthread_join(th, NULL);
  TRACE("after the number was reused: io %s, signals %d, async %s", got_io >= 6 ? "ok" : "lost", got_signal, got_async >= 1 ? "ok" : "lost");
  {
    /* The numbers now held by the application's pipe were not closed by the loop. */
    int open_ = 1;
    for (i = 0; i < n; i++) open_ &= fcntl(epfds[i], F_GETFD) >= 0;
    TRACE("application's file at the old number still open: %s", open_ ? "yes" : "no");
  }
  CHECK(got_signal == 2);
  ev_loop_destroy(loop);
  for (i = 0; i < n; i++) CHECK(fcntl(epfds[i], F_GETFD) >= 0);   /* not closed by destroy */
  TRACE("done");
  return 0;
}
