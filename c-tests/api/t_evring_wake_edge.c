/* evring-test: mode=self backends=4,128 timeout=60 */
/* evring-only: the edge-triggered wakeup eventfd (src/core/event_loop.rs, `obj_start`) keeps
 * working, and never passes its edge-triggering to an application file, when the application
 * puts its own file at one of the wakeup object's numbers.
 *
 * On an epoll set the loop watches its wakeup eventfd through ONE of the eventfd's three
 * numbers, registered with EPOLLET, and never reads it. Two hazards follow, each tried on each
 * of the three numbers in turn (the test does not know which one is watched), in a new loop:
 *   share:   the application dup2()s a socket onto the number and starts its own EV_READ
 *            watcher on it in the same loop. Its watcher must stay level-triggered: two bytes
 *            written at once give two callbacks that read one byte each (an inherited EPOLLET
 *            reports the second byte never: "stranded"). ev_async_send from another thread
 *            must still wake the loop. In the "quiet" form the async comes first, while the
 *            socket is idle: the eventfd's registration at that number is then stale for the
 *            backend, which drops its edge (review: the loop slept until its guard); "quiet,
 *            at once" sends it during the very wait that follows the watcher's start (io_uring
 *            then drops the stale edge of a just re-added fd without a rebuild). In the
 *            "dense" form the loop also watches an application fd above its own numbers, so
 *            that they are in the fd table's dense part (a different ev_io_start path).
 *   rebuild: the application dup2()s a socket onto the number and closes every number of the
 *            loop's epoll instance. The loop rebuilds its epoll set, which registers by
 *            number: without checking its wakeup object's numbers first it would register the
 *            application's socket instead of the eventfd, and an ev_async_send to the loop,
 *            asleep without timers, would never wake it ("async lost").
 *   touch:   while the loop sleeps (between its release and acquire hooks, the application's
 *            lock held by another thread), that thread starts and at once stops an io watcher
 *            on the number, then sends the async. The eventfd's edge arrives for a number with
 *            a pending change, which the loop skips (as libev skips such fds); the change
 *            itself leaves the registration as it was (the probe finds it: nothing re-arms the
 *            edge). Without the wake-up watcher being told of the skipped edge, the async is
 *            lost until the loop next wakes for something else ("async lost").
 * In share and rebuild, the application's socket stays open and unread by the loop until the
 * test closes it.
 * The guards in the library, and what fails without them (each verified): the level-triggered
 * form for a shared number (share; share (dense), where it was first checked only for the
 * sparse part); the rescan of the wake-up flags after dropped readiness, or the periodic
 * check's rebuild waking the loop (share (quiet): both missing in the first version); on
 * io_uring, the rescan after a stale event of a just re-added fd, or the check of the
 * numbers that a yield makes due at once (share (quiet, at once): fails without both, either suffices);
 * the check of the numbers before a rebuild (rebuild); the EV_CUSTOM feed of a skipped edge
 * (`fd_event_skipped`: touch, on both backends). */
#include "test.h"
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>

static unsigned backend_flags;
static int dense_fd = -1, dense_pipe[2];
static ev_io dense_w;
static int app_fd, app_reads, got_async;
static ev_async async_w;

struct fdset { int fd[64]; int n; const char *what; };

static int collect(int fd, const char *target, void *arg)
{
  struct fdset *s = arg;
  if (strcmp(target, s->what) == 0 && s->n < 64) s->fd[s->n++] = fd;
  return 0;
}

static struct fdset fds_of(const char *what)
{
  struct fdset s;
  s.n = 0;
  s.what = what;
  test_each_fd(collect, &s);
  return s;
}

static int in_set(const struct fdset *s, int fd)
{
  int i;
  for (i = 0; i < s->n; i++)
    if (s->fd[i] == fd) return 1;
  return 0;
}

/* The fds of kind `what` in `after` but not in `before`. */
static struct fdset new_fds(const struct fdset *before, const struct fdset *after)
{
  struct fdset s;
  int i;
  s.n = 0;
  s.what = after->what;
  for (i = 0; i < after->n; i++)
    if (!in_set(before, after->fd[i])) s.fd[s.n++] = after->fd[i];
  return s;
}

static void async_cb(struct ev_loop *l, ev_async *w, int revents)
{
  (void)w;
  CHECK(revents & EV_ASYNC);
  got_async++;
  ev_break(l, EVBREAK_ONE);
}

static void app_cb(struct ev_loop *l, ev_io *w, int revents)
{
  char c;
  (void)l;
  CHECK(revents & EV_READ);
  CHECK_EQ_INT(w->fd, app_fd);
  /* one read per callback, as pgagroal does; a spurious event would find nothing */
  CHECK(test_read1(app_fd, &c) == 1);
  app_reads++;
}

static void *sender(void *arg)
{
  test_sleep_ms(100); /* the loop is asleep by then */
  ev_async_send((struct ev_loop *)arg, &async_w);
  return NULL;
}

static int guard_fired;

static void guard_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)w;
  (void)revents;
  guard_fired = 1;
  ev_break(l, EVBREAK_ONE);
}

/* touch: the application's lock, which the loop gives up only while it waits. */
static pthread_mutex_t app_lock = PTHREAD_MUTEX_INITIALIZER;
static int touch_fd, touched;

static void app_release(struct ev_loop *l)
{
  (void)l;
  CHECK(pthread_mutex_unlock(&app_lock) == 0);
}

static void app_acquire(struct ev_loop *l)
{
  (void)l;
  CHECK(pthread_mutex_lock(&app_lock) == 0);
}

static void never_cb(struct ev_loop *l, ev_io *w, int revents)
{
  (void)l;
  (void)w;
  (void)revents;
  CHECK(!"the touching watcher was stopped before the loop woke");
}

/* sender, touch form: under the application's lock (free only while the loop waits), start
 * and stop a watcher on touch_fd before the send. */
static void *toucher(void *arg)
{
  struct ev_loop *l = arg;
  ev_io w;
  test_sleep_ms(100); /* the loop is asleep by then; the lock is free only while it waits */
  CHECK(pthread_mutex_lock(&app_lock) == 0);
  ev_io_init(&w, never_cb, touch_fd, EV_READ);
  ev_io_start(l, &w);
  ev_io_stop(l, &w);
  ev_async_send(l, &async_w);
  touched = 1;
  CHECK(pthread_mutex_unlock(&app_lock) == 0);
  return NULL;
}

/* ev_async_send from another thread while the loop sleeps (no timer but a 3 s guard); with
 * `touch`, the sender first touches touch_fd under the application's lock (toucher). */
static void expect_async(struct ev_loop *l, const char *what, int k, int touch)
{
  pthread_t t;
  ev_timer guard;
  got_async = guard_fired = touched = 0;
  ev_timer_init(&guard, guard_cb, 3.0, 0.);
  ev_timer_start(l, &guard);
  if (touch) {
    ev_set_loop_release_cb(l, app_release, app_acquire);
    CHECK(pthread_mutex_lock(&app_lock) == 0);
  }
  CHECK(pthread_create(&t, NULL, touch ? toucher : sender, l) == 0);
  ev_run(l, 0);
  if (touch) CHECK(pthread_mutex_unlock(&app_lock) == 0);
  CHECK(pthread_join(t, NULL) == 0);
  if (touch) {
    ev_set_loop_release_cb(l, 0, 0);
    CHECK(touched);
  }
  ev_timer_stop(l, &guard);
  /* (When the wake-up is lost, the loop's once-a-second check repairs the object at the
   * guard's wake-up and the async is delivered with the guard: too late.) */
  if (!got_async || guard_fired) {
    fprintf(stderr, "%s, number %d: async lost (the guard fired)\n", what, k);
    CHECK(got_async && !guard_fired);
  }
}

/* A new loop with an async watcher, and its wakeup eventfd's numbers. */
static struct ev_loop *make_loop(struct fdset *efds, struct fdset *epfds)
{
  struct fdset e0 = fds_of("anon_inode:[eventfd]"), p0 = fds_of("anon_inode:[eventpoll]"), e1, p1;
  struct ev_loop *l = test_new_loop(backend_flags);
  ev_async_init(&async_w, async_cb);
  ev_async_start(l, &async_w);
  if (dense_fd >= 0) {
    ev_io_init(&dense_w, app_cb, dense_fd, EV_READ); /* never readable */
    ev_io_start(l, &dense_w);
  }
  ev_run(l, EVRUN_NOWAIT);
  e1 = fds_of("anon_inode:[eventfd]");
  p1 = fds_of("anon_inode:[eventpoll]");
  *efds = new_fds(&e0, &e1);
  *epfds = new_fds(&p0, &p1);
  return l;
}

enum how { SHARE, SHARE_QUIET, SHARE_QUIET_AT_ONCE, REBUILD, TOUCH };

static void attack(int k, enum how how)
{
  const char *what = how == TOUCH                  ? "touch"
                     : how == REBUILD              ? "rebuild"
                     : how == SHARE                ? "share"
                     : how == SHARE_QUIET          ? "share (quiet)"
                                                   : "share (quiet, at once)";
  struct fdset efds, epfds;
  struct ev_loop *l = make_loop(&efds, &epfds);
  int sv[2], i, n;
  ev_io app_w;

  fprintf(stderr, "%s: backend 0x%x, %d eventfd numbers, %d epoll numbers\n", what,
          ev_backend(l), efds.n, epfds.n);
  CHECK_EQ_INT(efds.n, 3);
  if (how == TOUCH) {
    touch_fd = efds.fd[k];
    expect_async(l, what, k, 1);
    expect_async(l, what, k, 0); /* and a plain wake-up afterwards */
    ev_async_stop(l, &async_w);
    if (dense_fd >= 0) ev_io_stop(l, &dense_w);
    ev_loop_destroy(l);
    return;
  }
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  app_fd = efds.fd[k];
  CHECK(dup2(sv[0], app_fd) == app_fd);
  app_reads = 0;
  if (how == REBUILD) {
    CHECK(epfds.n >= 1);
    for (i = 0; i < epfds.n; i++) CHECK(close(epfds.fd[i]) == 0);
    expect_async(l, what, k, 0);
    expect_async(l, what, k, 0); /* and again, after whatever repair the first wake-up made */
  } else {
    ev_io_init(&app_w, app_cb, app_fd, EV_READ);
    ev_io_start(l, &app_w);
    if (how == SHARE_QUIET) {
      ev_run(l, EVRUN_NOWAIT); /* the watcher is registered; the socket is idle */
      expect_async(l, what, k, 0);
    } else if (how == SHARE_QUIET_AT_ONCE) {
      expect_async(l, what, k, 0); /* registered by the iteration that waits for the async */
    }
    CHECK(write(sv[1], "ab", 2) == 2);
    /* level-triggered: two iterations that do not wait; well within the first second of the
     * loop, after which the loop's periodic check of its numbers would repair an inherited
     * EPOLLET and hide it */
    for (n = 0; n < 4 && app_reads < 2; n++) test_step(l, 0.05);
    if (app_reads != 2) {
      fprintf(stderr, "%s, number %d: %d of 2 bytes read (stranded)\n", what, k, app_reads);
      CHECK_EQ_INT(app_reads, 2);
    }
    expect_async(l, what, k, 0);
    CHECK(write(sv[1], "c", 1) == 1);
    for (n = 0; n < 4 && app_reads < 3; n++) test_step(l, 0.05);
    CHECK_EQ_INT(app_reads, 3);
    ev_io_stop(l, &app_w);
  }
  ev_async_stop(l, &async_w);
  if (dense_fd >= 0) ev_io_stop(l, &dense_w);
  ev_loop_destroy(l);
  /* the application's file at the old number: still open, nothing read from it */
  CHECK(fcntl(app_fd, F_GETFD) != -1);
  CHECK(write(sv[1], "z", 1) == 1);
  {
    char c;
    CHECK(test_read1(app_fd, &c) == 1);
    CHECK(c == 'z');
  }
  close(app_fd);
  close(sv[0]);
  close(sv[1]);
}

int main(void)
{
  int k, dense;
  const char *f = getenv("LIBEV_FLAGS"), *evpipe = getenv("EVRING_EVPIPE");
  WATCHDOG(55);
  if (evpipe && !strcmp(evpipe, "pipe")) SKIP("the wakeup object is a pipe (EVRING_EVPIPE=pipe)");
  backend_flags = f ? (unsigned)atoi(f) : 0u;
  for (dense = 0; dense < 2; dense++) {
    if (dense) {
      CHECK(pipe(dense_pipe) == 0);
      dense_fd = 700;
      CHECK(dup2(dense_pipe[0], dense_fd) == dense_fd);
    }
    for (k = 0; k < 3; k++) attack(k, SHARE);
    for (k = 0; k < 3; k++) attack(k, SHARE_QUIET);
    for (k = 0; k < 3; k++) attack(k, SHARE_QUIET_AT_ONCE);
    TRACE("share%s: the application's watcher stays level-triggered, async wakes the loop",
          dense ? " (dense)" : "");
  }
  for (k = 0; k < 3; k++) attack(k, TOUCH);
  TRACE("touch: an edge skipped for a number with a pending change still wakes the loop");
  for (k = 0; k < 3; k++) attack(k, REBUILD);
  TRACE("rebuild: the rebuilt epoll set watches the wakeup object, not the application's file");
  close(dense_fd);
  close(dense_pipe[0]);
  close(dense_pipe[1]);
  return 0;
}
