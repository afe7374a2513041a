/* evring-test: mode=self variants=async,signalfd timeout=90 lanes=dynamic */
/* evring-only: what a wake-up of a sleeping loop costs in identity checks of the loop's own
 * fds (src/core/loopfds.rs). The loop keeps each kernel object at three numbers and checks
 * that a number still holds its object before it reads from or writes to it. The exact check
 * (`kcmp` + `fstat`, ~1.5 us) runs once a second, or when a tag is missing; every wake-up
 * checks the tags the objects got at creation (`fcntl(F_GETSIG)`, ~0.2 us). Before the
 * tags, an ev_async_send ping-pong
 * between two threads made 6 kcmp and 4 fstat per round trip and took 2x libev's time
 * (bench_wakeup -m async).
 *
 * A worker (this program re-executed under `strace -f`) runs N round trips between markers
 * (getppid), after a warm-up:
 *   async:    two threads, each running its own loop with an ev_async watcher; each callback
 *             sends to the other loop, which is asleep in its wait (every send writes the
 *             wakeup fd, every wake-up reads it);
 *   signalfd: an EVFLAG_SIGNALFD loop with an ev_signal(SIGUSR1); its callback asks a helper
 *             thread (through a pipe) to send the next SIGUSR1 while the loop sleeps (every
 *             wake-up is the signalfd firing).
 * Counted between the markers: kcmp and fstat. Allowed: the once-a-second exact checks (two
 * kcmp and one fstat per object and second, for at most two objects per loop), with a
 * margin; not one per wake-up.
 *
 * async on an epoll set (the epoll backend, io_uring's epoll strategies), with an eventfd:
 * the loop watches its wakeup eventfd edge-triggered and never reads it, so a wake-up costs
 * the loop nothing but its wait: also counted are read and fcntl. Allowed: no read at all
 * (margin: the once-a-second checks' none, plus 4), and one fcntl per ev_async_send that
 * writes (the writer's tag check) plus the margin. Before, every wake-up made three fcntl
 * (the tags of the object's three numbers) and one read: 2400 fcntl and 600 reads here, 14
 * system calls per round trip against libev's 6 (bench_wakeup -m async, 1.2x its time).
 * Skipped without strace. */
#include "test.h"

#include <stddef.h>
#include <sys/time.h>
#include <sys/wait.h>

#define WARM 20
#define N 300

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------ async ping-pong */

struct side {
  struct ev_loop *loop;
  ev_async w;
  struct side *peer;
  int ping;     /* the main thread's side counts the round trips */
  int left;     /* round trips still to make in this phase */
  int stop;     /* (pong side, atomic) end the loop at the next wake-up */
};

static void async_cb(struct ev_loop *l, ev_async *w, int revents)
{
  struct side *s = (struct side *)((char *)w - offsetof(struct side, w));
  CHECK(revents & EV_ASYNC);
  if (!s->ping) {
    if (__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
      ev_break(l, EVBREAK_ALL);
      return;
    }
  } else if (--s->left <= 0) {
    ev_break(l, EVBREAK_ALL); /* the pong side waits for the next phase */
    return;
  }
  ev_async_send(s->peer->loop, &s->peer->w);
}

static void *pong_thread(void *arg)
{
  struct side *s = arg;
  ev_run(s->loop, 0);
  return NULL;
}

static void ping_phase(struct side *a, int rounds)
{
  a->left = rounds;
  ev_async_send(a->peer->loop, &a->peer->w);
  ev_run(a->loop, 0);
  CHECK_EQ_INT(a->left, 0);
}

static unsigned worker_backend;

static double worker_async(void)
{
  static struct side a, b;
  pthread_t t;
  double t0, t1;
  a.loop = test_default_loop();
  b.loop = test_new_loop(0);
  worker_backend = ev_backend(a.loop) | ev_backend(b.loop);
  a.peer = &b;
  b.peer = &a;
  a.ping = 1;
  ev_async_init(&a.w, async_cb);
  ev_async_init(&b.w, async_cb);
  ev_async_start(a.loop, &a.w);
  ev_async_start(b.loop, &b.w);
  CHECK(pthread_create(&t, NULL, pong_thread, &b) == 0);
  ping_phase(&a, WARM);
  getppid(); /* marker 1 */
  t0 = now();
  ping_phase(&a, N);
  t1 = now();
  getppid(); /* marker 2 */
  __atomic_store_n(&b.stop, 1, __ATOMIC_RELEASE);
  ev_async_send(b.loop, &b.w);
  CHECK(pthread_join(t, NULL) == 0);
  ev_async_stop(a.loop, &a.w);
  ev_async_stop(b.loop, &b.w);
  ev_loop_destroy(b.loop);
  return t1 - t0;
}

/* ------------------------------------------------------------------ signalfd ping-pong */

static int req[2];
static int sig_left;

static void *kill_thread(void *arg)
{
  char c;
  (void)arg;
  while (read(req[0], &c, 1) == 1) {
    if (c == 'q') break;
    CHECK(kill(getpid(), SIGUSR1) == 0);
  }
  return NULL;
}

static void sig_cb(struct ev_loop *l, ev_signal *w, int revents)
{
  (void)w;
  CHECK(revents & EV_SIGNAL);
  if (--sig_left <= 0) {
    ev_break(l, EVBREAK_ALL);
    return;
  }
  CHECK(write(req[1], "k", 1) == 1);
}

static void sig_phase(struct ev_loop *l, int rounds)
{
  sig_left = rounds;
  CHECK(write(req[1], "k", 1) == 1);
  ev_run(l, 0);
  CHECK_EQ_INT(sig_left, 0);
}

static double worker_signalfd(void)
{
  struct ev_loop *l;
  ev_signal w;
  pthread_t t;
  sigset_t set;
  double t0, t1;
  /* every thread blocks SIGUSR1: only the loop's signalfd takes it */
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  CHECK(pthread_sigmask(SIG_BLOCK, &set, NULL) == 0);
  CHECK(pipe(req) == 0);
  /* LIBEV_FLAGS would replace EVFLAG_SIGNALFD: take only the backend from it */
  l = ev_default_loop(EVFLAG_NOENV | EVFLAG_SIGNALFD |
                      (getenv("LIBEV_FLAGS") ? (unsigned)atoi(getenv("LIBEV_FLAGS")) : 0u));
  if (!l) SKIP("no default loop for LIBEV_FLAGS=%s", getenv("LIBEV_FLAGS"));
  ev_signal_init(&w, sig_cb, SIGUSR1);
  ev_signal_start(l, &w);
  CHECK(pthread_create(&t, NULL, kill_thread, NULL) == 0);
  sig_phase(l, WARM);
  getppid(); /* marker 1 */
  t0 = now();
  sig_phase(l, N);
  t1 = now();
  getppid(); /* marker 2 */
  CHECK(write(req[1], "q", 1) == 1);
  CHECK(pthread_join(t, NULL) == 0);
  ev_signal_stop(l, &w);
  return t1 - t0;
}

static int worker(const char *variant, const char *timefile)
{
  double secs = strcmp(variant, "async") == 0 ? worker_async() : worker_signalfd();
  FILE *f = fopen(timefile, "w");
  CHECK(f != NULL);
  fprintf(f, "%.6f %u\n", secs, worker_backend);
  CHECK(fclose(f) == 0);
  return 0;
}

int main(int argc, char **argv)
{
  char out[] = "t_evring_wake_syscalls.XXXXXX", tf[] = "t_evring_wake_syscalls.tXXXXXX";
  char line[512];
  const char *variant = argc > 1 ? argv[1] : "async";
  int fd, markers = 0, kcmps = 0, fstats = 0, reads = 0, fcntls = 0, limit;
  unsigned backend = 0;
  const char *mode = getenv("EVRING_URING_MODE"), *evpipe = getenv("EVRING_EVPIPE");
  double secs = -1;
  FILE *f;

  if (argc > 3 && !strcmp(argv[1], "worker")) {
    WATCHDOG(80);
    return worker(argv[2], argv[3]);
  }
  WATCHDOG(85);
  CHECK(!strcmp(variant, "async") || !strcmp(variant, "signalfd"));
  fd = mkstemp(tf);
  CHECK(fd >= 0);
  close(fd);
  test_strace_self("trace=kcmp,fstat,newfstatat,getppid,read,fcntl", out, variant, tf);
  f = fopen(tf, "r");
  CHECK(f != NULL);
  CHECK(fscanf(f, "%lf %u", &secs, &backend) == 2);
  fclose(f);
  unlink(tf);
  f = fopen(out, "r");
  CHECK(f != NULL);
  while (fgets(line, sizeof line, f)) {
    if (strstr(line, "getppid(")) { markers++; continue; }
    if (markers != 1) continue;
    if (strstr(line, "kcmp(")) kcmps++;
    else if (strstr(line, "fstat(")) fstats++;
    else if (strstr(line, " read(")) reads++;
    else if (strstr(line, " fcntl(")) fcntls++;
  }
  fclose(f);
  unlink(out);
  CHECK_EQ_INT(markers, 2);
  /* exact checks: two loops (async) or one loop with two checked objects (signalfd), each
   * object at most once a second plus once after a missing tag: 2 kcmp + 1 fstat each */
  limit = 8 + (int)(8 * (secs + 1));
  fprintf(stderr, "%s: %d round trips in %.3f s under strace: %d kcmp, %d fstat (limit %d)\n",
          variant, N, secs, kcmps, fstats, limit);
  CHECK(kcmps <= limit);
  CHECK(fstats <= limit);
  CHECK(limit < N / 2); /* the limit still tells one check per wake-up from none */
  fprintf(stderr, "%s: backend 0x%x: %d read, %d fcntl\n", variant, backend, reads, fcntls);
  if (!strcmp(variant, "async") && (backend & ~(unsigned)(EVBACKEND_EPOLL | EVBACKEND_IOURING)) == 0
      && !(mode && !strcmp(mode, "poll")) && !(evpipe && !strcmp(evpipe, "pipe"))) {
    /* two sends per round trip, each one tag check; no read, no check at the wake-up */
    CHECK(reads <= 4);
    CHECK(fcntls <= 2 * N + limit);
    TRACE("%s: an edge-triggered wakeup eventfd: no read and no check at a wake-up", variant);
  }
  TRACE("%s: wake-ups without per-wake-up identity checks", variant);
  return 0;
}
