/* bench_wakeup.c -- the cost of waking a sleeping loop: ev_async_send between two threads, and a
 * signal caught by an ev_signal watcher.
 *
 *   -m async   two threads, each running its own loop (ev_loop_new) with one ev_async watcher;
 *              the callback of one sends to the other (a ping-pong): every send finds the other
 *              loop asleep in its wait, so every send writes the wakeup fd and every wake-up
 *              reads it. Reported per round trip (two wake-ups).
 *   -m signal  one thread: a forked helper process sends SIGUSR1 to the loop's process for every
 *              SIGUSR2 it gets back from the watcher's callback; the loop sleeps between
 *              signals. Reported per round trip (one loop wake-up by a signal handler, one
 *              kill() each way).
 *
 * Both use only the native libev API and are built once against the system ev.h; run.py runs
 * them against both libraries. Usage: bench_wakeup -m async|signal [-i ROUNDTRIPS] [-r RUNS]
 * [-W WARMUPS] */
#include "common.h"
#include <pthread.h>
#include <stddef.h>
#include <signal.h>
#include <sys/wait.h>

static int rounds = 20000;

/* ------------------------------------------------------------------ async ping-pong */

struct side {
  struct ev_loop *loop;
  ev_async w;
  struct side *peer;
  int left; /* ping side: round trips still to make */
  int ping;
  int stop; /* pong side: set (atomically) by the ping side before its last send */
};

static void async_cb(EV_P_ ev_async *w, int revents)
{
  (void)revents;
  struct side *s = (struct side *)((char *)w - offsetof(struct side, w));
  if (!s->ping && __atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
    ev_break(EV_A_ EVBREAK_ALL);
    return;
  }
  if (s->ping && --s->left <= 0) {
    __atomic_store_n(&s->peer->stop, 1, __ATOMIC_RELEASE);
    ev_async_send(s->peer->loop, &s->peer->w);
    ev_break(EV_A_ EVBREAK_ALL);
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

static double run_async(void)
{
  struct side a = {0}, b = {0};
  a.loop = ev_loop_new(EVFLAG_AUTO);
  b.loop = ev_loop_new(EVFLAG_AUTO);
  if (!a.loop || !b.loop) {
    fprintf(stderr, "bench_wakeup: ev_loop_new failed\n");
    exit(1);
  }
  a.peer = &b;
  b.peer = &a;
  a.ping = 1;
  a.left = rounds;
  ev_async_init(&a.w, async_cb);
  ev_async_init(&b.w, async_cb);
  ev_async_start(a.loop, &a.w);
  ev_async_start(b.loop, &b.w);
  pthread_t t;
  if (pthread_create(&t, NULL, pong_thread, &b) != 0) {
    perror("pthread_create");
    exit(1);
  }
  usleep(20000); /* let the pong thread reach its wait */
  CALLGRIND_ZERO_STATS;
  double t0 = now_s();
  ev_async_send(b.loop, &b.w);
  ev_run(a.loop, 0);
  double t1 = now_s();
  CALLGRIND_DUMP_STATS_AT("async");
  pthread_join(t, NULL);
  ev_async_stop(a.loop, &a.w);
  ev_async_stop(b.loop, &b.w);
  ev_loop_destroy(a.loop);
  ev_loop_destroy(b.loop);
  return t1 - t0;
}

/* ------------------------------------------------------------------ signal ping-pong */

static pid_t helper;
static int sig_left;

static void sig_cb(EV_P_ ev_signal *w, int revents)
{
  (void)w;
  (void)revents;
  if (--sig_left <= 0) {
    ev_break(EV_A_ EVBREAK_ALL);
    return;
  }
  kill(helper, SIGUSR2);
}

static double run_signal(void)
{
  struct ev_loop *loop = ev_default_loop(0);
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR2);
  sigprocmask(SIG_BLOCK, &block, &old); /* the helper inherits it and takes SIGUSR2 by sigwait */
  pid_t parent = getpid();
  helper = fork();
  if (helper < 0) {
    perror("fork");
    exit(1);
  }
  if (helper == 0) {
    for (;;) {
      int sig;
      if (sigwait(&block, &sig) != 0)
        _exit(1);
      if (kill(parent, SIGUSR1) != 0)
        _exit(0); /* parent gone */
    }
  }
  sigprocmask(SIG_SETMASK, &old, NULL);
  ev_signal w;
  ev_signal_init(&w, sig_cb, SIGUSR1);
  ev_signal_start(loop, &w);
  ev_run(loop, EVRUN_NOWAIT);
  sig_left = rounds;
  CALLGRIND_ZERO_STATS;
  double t0 = now_s();
  kill(helper, SIGUSR2);
  ev_run(loop, 0);
  double t1 = now_s();
  CALLGRIND_DUMP_STATS_AT("signal");
  ev_signal_stop(loop, &w);
  kill(helper, SIGKILL);
  waitpid(helper, NULL, 0);
  return t1 - t0;
}

int main(int argc, char **argv)
{
  int runs = 5, warm = 1, c;
  const char *mode = "async";
  while ((c = getopt(argc, argv, "m:i:r:W:")) != -1)
    switch (c) {
    case 'm': mode = optarg; break;
    case 'i': rounds = atoi(optarg); break;
    case 'r': runs = atoi(optarg); break;
    case 'W': warm = atoi(optarg); break;
    default:
      fprintf(stderr, "usage: bench_wakeup -m async|signal [-i ROUNDTRIPS] [-r RUNS] [-W WARMUPS]\n");
      return 2;
    }
  int sig = strcmp(mode, "signal") == 0;
  if (!sig && strcmp(mode, "async") != 0) {
    fprintf(stderr, "bench_wakeup: unknown mode %s\n", mode);
    return 2;
  }
  if (rounds < 2)
    rounds = 2;
  struct ev_loop *probe = ev_loop_new(EVFLAG_AUTO);
  print_header("wakeup", probe);
  ev_loop_destroy(probe);
  double *t = calloc(runs, sizeof *t);
  for (int r = -warm; r < runs; r++) {
    double v = sig ? run_signal() : run_async();
    if (r >= 0)
      t[r] = v;
  }
  printf("R bench=wakeup mode=%s metric=ns_per_roundtrip value=%.2f\n", mode,
         median(t, runs) * 1e9 / rounds);
  return 0;
}
