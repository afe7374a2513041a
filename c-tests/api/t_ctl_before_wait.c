/* evring-test: mode=diff timeout=40 variants=plain,ring */
/* What the kernel says about an interest change must count in the same iteration: a watcher
 * on an fd that epoll refuses (a regular file: always ready) and a watcher whose fd keeps an
 * old registration with another mask (read watchers stopped, write watchers started on the
 * same sockets) are reported by the very next ev_run(EVRUN_ONCE), not after the 30 s timer.
 * Each case with one change and with a batch of four. Variant `ring`: evring sends every batch
 * through its io_uring ring from the first iteration (EVRING_URING_RING_AFTER=0,
 * EVRING_URING_SMALL=0; libev ignores them). Found by a differential hunt: evring's io_uring
 * backend applied the changes after it had picked the timeout and slept until the timer. */
#include "test.h"

#include <fcntl.h>
#include <sys/socket.h>

static int fired, timer_fired;

static void io_cb(struct ev_loop *l, ev_io *w, int revents)
{
  CHECK(revents & w->events);
  fired++;
  ev_io_stop(l, w);
}

static void timer_cb(struct ev_loop *l, ev_timer *t, int revents)
{
  (void)l; (void)t; (void)revents;
  timer_fired++;
}

/* n watchers: one on a regular file, the others on quiet pipe read ends */
static void regular_file(struct ev_loop *l, int n)
{
  char path[] = "t_ctl_before_wait.XXXXXX";
  int f = mkstemp(path), p[4][2], i;
  ev_io w[4];
  CHECK(f >= 0);
  unlink(path);
  CHECK(write(f, "data", 4) == 4);
  ev_io_init(&w[0], io_cb, f, EV_READ);
  ev_io_start(l, &w[0]);
  for (i = 1; i < n; i++) {
    CHECK(pipe(p[i]) == 0);
    ev_io_init(&w[i], io_cb, p[i][0], EV_READ);
    ev_io_start(l, &w[i]);
  }
  fired = timer_fired = 0;
  ev_run(l, EVRUN_ONCE);
  TRACE("regular file, %d change(s): file reported %d, timer %d", n, fired, timer_fired);
  for (i = 1; i < n; i++) {
    ev_io_stop(l, &w[i]);
    close(p[i][0]);
    close(p[i][1]);
  }
  ev_io_stop(l, &w[0]);
  close(f);
  ev_run(l, EVRUN_NOWAIT);
}

/* n sockets: read watchers registered, stopped (the registration stays, lazily), then write
 * watchers on the same fds: every socket is writable at once */
static void mask_switch(struct ev_loop *l, int n)
{
  int s[4][2], i;
  ev_io r[4], w[4];
  for (i = 0; i < n; i++) {
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s[i]) == 0);
    ev_io_init(&r[i], io_cb, s[i][0], EV_READ);
    ev_io_start(l, &r[i]);
  }
  ev_run(l, EVRUN_NOWAIT);
  for (i = 0; i < n; i++) ev_io_stop(l, &r[i]);
  ev_run(l, EVRUN_NOWAIT);
  for (i = 0; i < n; i++) {
    ev_io_init(&w[i], io_cb, s[i][0], EV_WRITE);
    ev_io_start(l, &w[i]);
  }
  fired = timer_fired = 0;
  ev_run(l, EVRUN_ONCE);
  TRACE("read -> write, %d change(s): writable reported %d, timer %d", n, fired, timer_fired);
  for (i = 0; i < n; i++) {
    ev_io_stop(l, &w[i]);
    close(s[i][0]);
    close(s[i][1]);
  }
  ev_run(l, EVRUN_NOWAIT);
}

int main(int argc, char **argv)
{
  struct ev_loop *l;
  ev_timer t;
  WATCHDOG(25);
  if (argc > 1 && !strcmp(argv[1], "ring")) {
    setenv("EVRING_URING_RING_AFTER", "0", 1);
    setenv("EVRING_URING_SMALL", "0", 1);
  }
  l = test_default_loop();
  ev_timer_init(&t, timer_cb, 30., 0.);
  ev_timer_start(l, &t);
  regular_file(l, 1);
  regular_file(l, 4);
  mask_switch(l, 1);
  mask_switch(l, 4);
  ev_timer_stop(l, &t);
  ev_loop_destroy(l);
  return 0;
}
