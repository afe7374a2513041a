/* evring-test: backends=128 mode=self timeout=60 */
/* evring-only: the application closes the loop's io_uring fd, or dup2()s its own file onto
 * that number (found through /proc/self/fd: "anon_inode:[io_uring]"), from a callback.
 * For each strategy (EVRING_URING_MODE=poll, epollctl, epollwait):
 *  - the ring fd lives at a protected high number;
 *  - after the close, then after a dup2 of a regular file, then of a pipe, the loop goes on
 *    delivering io (exactly one event per byte, blocking one-byte reads, pgagroal style; two
 *    watchers change interest every round so the changes go through the ring), timer and
 *    async events -- on the thread that made the loop and on another thread (which has no
 *    registered ring index and enters through the fd number, so the loop rebuilds);
 *  - after ev_loop_destroy the dup2'd file is still open at that number and intact. */
#include "test.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#define NP 4

static struct ev_loop *loop;
static ev_io rd[NP];
static ev_timer tick;
static ev_async as;
static int p[NP][2];
static int events, spurious, ticks, asyncs;
static int ringfd = -1;
static void (*action)(void);

static void io_cb(struct ev_loop *l, ev_io *w, int revents)
{
  char c;
  (void)l; (void)revents;
  if (!test_read1(w->fd, &c)) { spurious++; return; }
  CHECK(c == 'x');
  events++;
}

static void tick_cb(struct ev_loop *l, ev_timer *t, int revents)
{
  (void)l; (void)t; (void)revents;
  ticks++;
  if (action) {
    void (*a)(void) = action;
    action = NULL;
    a(); /* the damage happens inside a callback, between two waits */
  }
}

static void async_cb(struct ev_loop *l, ev_async *a, int revents)
{
  (void)l; (void)a; (void)revents;
  asyncs++;
}

struct ring_search { const unsigned char *before; int found, n; };

static int add_new_ring(int fd, const char *target, void *arg)
{
  struct ring_search *r = arg;
  if (strcmp(target, "anon_inode:[io_uring]") != 0) return 0;
  if (fd < 4096 && r->before && (r->before[fd / 8] & (1 << (fd % 8)))) return 0;
  r->found = fd;
  r->n++;
  return 0;
}

/* The one io_uring fd that is not in `before` (a bitmap of 4096 numbers). */
static int find_ring(const unsigned char *before)
{
  struct ring_search r = { before, -1, 0 };
  test_each_fd(add_new_ring, &r);
  CHECK_EQ_INT(r.n, 1);
  return r.found;
}

static int mark_fd(int fd, const char *target, void *bits)
{
  (void)target;
  if (fd < 4096) ((unsigned char *)bits)[fd / 8] |= (unsigned char)(1 << (fd % 8));
  return 0;
}

/* The open fds, as a bitmap of 4096 numbers (without the walk's own directory fd). */
static void snapshot(unsigned char *bits)
{
  memset(bits, 0, 512);
  test_each_fd(mark_fd, bits);
}

static int protected_floor(void)
{
  struct rlimit rl;
  CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1024) return 512;
  if (rl.rlim_cur >= 128) return (int)(rl.rlim_cur / 2);
  return 0;
}

/* One round: every pipe gets a byte, two watchers are stopped and restarted with a changed
 * interest set (so at least two changes per iteration), one async is sent; run until all
 * is delivered. */
static void round_trip(int r)
{
  int i, want = events + NP, want_async = asyncs + 1;
  int a = r % NP, b = (r + 1) % NP;
  ev_io_stop(loop, &rd[a]);
  ev_io_stop(loop, &rd[b]);
  /* ev_io_set forces a re-registration (libev's EV__IOFDSET): two changes per round */
  ev_io_set(&rd[a], p[a][0], EV_READ);
  ev_io_set(&rd[b], p[b][0], EV_READ);
  ev_io_start(loop, &rd[a]);
  ev_io_start(loop, &rd[b]);
  for (i = 0; i < NP; i++) CHECK(write(p[i][1], "x", 1) == 1);
  ev_async_send(loop, &as);
  while (events < want || asyncs < want_async) ev_run(loop, EVRUN_ONCE);
  ev_run(loop, EVRUN_NOWAIT);
  CHECK_EQ_INT(events, want);
  CHECK_EQ_INT(spurious, 0);
}

static void rounds(int n)
{
  int r, t0 = ticks;
  for (r = 0; r < n; r++) round_trip(r);
  /* the timer keeps firing (it ends an otherwise idle iteration) */
  while (ticks < t0 + 2) ev_run(loop, EVRUN_ONCE);
}

static void *thread_rounds(void *arg)
{
  rounds((int)(long)arg);
  return NULL;
}

static void rounds_elsewhere(int n)
{
  pthread_t t;
  CHECK(pthread_create(&t, NULL, thread_rounds, (void *)(long)n) == 0);
  CHECK(pthread_join(t, NULL) == 0);
}

/* Run the loop until the timer callback has performed `a`. */
static void inflict(void (*a)(void))
{
  action = a;
  while (action) ev_run(loop, EVRUN_ONCE);
}

static int victim_file = -1, victim_pipe[2] = {-1, -1};
static struct stat victim_st;

static void do_close(void) { CHECK(close(ringfd) == 0); }

static void do_dup2_file(void)
{
  char name[] = "ringfd-XXXXXX";
  int fd = mkstemp(name);
  CHECK(fd >= 0);
  CHECK(unlink(name) == 0);
  CHECK(write(fd, "intact", 6) == 6);
  CHECK(dup2(fd, ringfd) == ringfd);
  CHECK(close(fd) == 0);
  victim_file = ringfd;
  CHECK(fstat(victim_file, &victim_st) == 0);
}

static void do_dup2_pipe(void)
{
  CHECK(pipe(victim_pipe) == 0);
  CHECK(dup2(victim_pipe[1], ringfd) == ringfd);
  CHECK(close(victim_pipe[1]) == 0);
  victim_pipe[1] = ringfd;
}

static void check_victim_file(void)
{
  struct stat st;
  char buf[16];
  CHECK(fstat(victim_file, &st) == 0);
  CHECK(st.st_ino == victim_st.st_ino && st.st_dev == victim_st.st_dev);
  CHECK(pread(victim_file, buf, sizeof buf, 0) == 6);
  CHECK(memcmp(buf, "intact", 6) == 0);
  CHECK(close(victim_file) == 0);
}

static void check_victim_pipe(void)
{
  char c;
  CHECK(write(victim_pipe[1], "p", 1) == 1);
  CHECK(read(victim_pipe[0], &c, 1) == 1 && c == 'p');
  CHECK(close(victim_pipe[0]) == 0);
  CHECK(close(victim_pipe[1]) == 0);
}

enum { CLOSE, FILE_, PIPE_ };

static void scenario(const char *mode, int kind, int elsewhere)
{
  unsigned char before[512];
  int i, floor;
  setenv("EVRING_URING_MODE", mode, 1);
  snapshot(before);
  loop = ev_loop_new(EVBACKEND_IOURING);
  CHECK(loop != NULL);
  CHECK_EQ_INT(ev_backend(loop), EVBACKEND_IOURING);
  ringfd = find_ring(before);
  floor = protected_floor();
  if (floor > 0) CHECK(ringfd >= floor);
  events = spurious = ticks = asyncs = 0;
  for (i = 0; i < NP; i++) {
    CHECK(pipe(p[i]) == 0);
    ev_io_init(&rd[i], io_cb, p[i][0], EV_READ);
    ev_io_start(loop, &rd[i]);
  }
  ev_timer_init(&tick, tick_cb, 0.002, 0.002);
  ev_timer_start(loop, &tick);
  ev_async_init(&as, async_cb);
  ev_async_start(loop, &as);
  rounds(5);
  inflict(kind == CLOSE ? do_close : kind == FILE_ ? do_dup2_file : do_dup2_pipe);
  rounds(20);
  if (elsewhere) {
    rounds_elsewhere(20);
    rounds(5);
  }
  ev_timer_stop(loop, &tick);
  ev_async_stop(loop, &as);
  for (i = 0; i < NP; i++) {
    ev_io_stop(loop, &rd[i]);
    close(p[i][0]);
    close(p[i][1]);
  }
  ev_loop_destroy(loop);
  if (kind == FILE_) check_victim_file();
  if (kind == PIPE_) check_victim_pipe();
  if (kind == CLOSE) CHECK(fcntl(ringfd, F_GETFD) == -1 && errno == EBADF);
  TRACE("%s %s%s: events, timers and asyncs flow; no stale or spurious event", mode,
        kind == CLOSE ? "close" : kind == FILE_ ? "dup2 file" : "dup2 pipe",
        elsewhere ? " (+ other thread)" : "");
}

int main(void)
{
  static const char *modes[] = {"poll", "epollctl", "epollwait"};
  unsigned m;
  int kind;
  WATCHDOG_KILL(55);
  if (getenv("EVRING_URING_FAIL")) SKIP("io_uring failure simulated: no ring fd");
  /* every loop makes its ring with the loop (by default a loop without the process's spare
   * ring makes it once batching pays: see t_uring_strace) */
  setenv("EVRING_URING_RING_AFTER", "0", 1);
  if (!(ev_supported_backends() & EVBACKEND_IOURING)) SKIP("io_uring unavailable");
  /* the availability probe's ring is kept for the first loop: use it up first */
  {
    struct ev_loop *l = ev_loop_new(EVBACKEND_IOURING);
    CHECK(l != NULL);
    ev_loop_destroy(l);
  }
  for (m = 0; m < sizeof modes / sizeof modes[0]; m++)
    for (kind = CLOSE; kind <= PIPE_; kind++) {
      scenario(modes[m], kind, 0);
      scenario(modes[m], kind, 1);
    }
  return 0;
}
