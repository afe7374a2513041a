/* Interest-churn benchmark: every loop iteration changes the interest of K watchers.
 *   -k K   watchers changed per iteration (default 10)
 *   -i I   iterations per run (default 2000)   -r R runs (default 5, median printed)
 *   -s     change by ev_io_stop + ev_io_set(same fd, same mask) + ev_io_start (forced
 *          re-registration) instead of flipping the mask READ <-> WRITE
 *   -b B   backend flags for ev_loop_new
 *   -P     ping-pong: every iteration BLOCKS until a forked echo process answers one byte,
 *          while the K watchers (pipe read ends, never ready) flip EV_READ <-> EV_READ|EV_WRITE
 *          (the wait is armed in the kernel before the answer comes: the blocking path)
 * Flip mode: K socketpair ends alternate between EV_WRITE (ready at once) and EV_READ
 * (quiet); one extra persistent EV_WRITE watcher keeps every iteration from blocking.
 * Prints "ns_per_iteration backend=0x..". */
#define _GNU_SOURCE
#include <ev.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>

static int fires;
static void cb(struct ev_loop *l, ev_io *w, int revents)
{
  (void)l; (void)w; (void)revents;
  fires++;
}

static int echoed;
static void echo_cb(struct ev_loop *l, ev_io *w, int revents)
{
  char c;
  (void)l; (void)revents;
  if (read(w->fd, &c, 1) == 1) echoed = 1;
}

static int cmpd(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
  int c, k = 10, iters = 2000, runs = 5, stopstart = 0, pingpong = 0, i, it, r;
  int pp[2];
  pid_t child = -1;
  int parent_cpu;
  ev_io echo;
  unsigned backend = 0;
  struct ev_loop *loop;
  ev_io *w, always;
  int (*sv)[2], a[2];
  double res[64];
  while ((c = getopt(argc, argv, "k:i:r:sb:P")) != -1) {
    switch (c) {
    case 'k': k = atoi(optarg); break;
    case 'i': iters = atoi(optarg); break;
    case 'r': runs = atoi(optarg); break;
    case 's': stopstart = 1; break;
    case 'P': pingpong = 1; break;
    case 'b': backend = (unsigned)strtoul(optarg, NULL, 0); break;
    default: return 1;
    }
  }
  if (runs < 1 || runs > 64) runs = 5;
  loop = ev_loop_new(backend);
  if (!loop) return 1;
  w = calloc((size_t)k, sizeof *w);
  sv = calloc((size_t)k, sizeof *sv);
  for (i = 0; i < k; i++) {
    if (pingpong ? pipe(sv[i]) : socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i])) return 1;
    ev_io_init(&w[i], cb, sv[i][0], stopstart || pingpong ? EV_READ : EV_WRITE);
    ev_io_start(loop, &w[i]);
  }
  if (pingpong) {
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pp) != 0) return 1;
    parent_cpu = sched_getcpu();
    child = fork();
    if (child < 0) return 1;
    if (child == 0) {
      char ch;
      cpu_set_t all;
      /* the echo runs on another CPU when there is one (the parent may be pinned), so
       * that the parent's wait really blocks until the answer arrives */
      CPU_ZERO(&all);
      for (i = 0; i < CPU_SETSIZE; i++)
        if (i != parent_cpu) CPU_SET(i, &all);
      sched_setaffinity(0, sizeof all, &all);
      close(pp[0]);
      while (read(pp[1], &ch, 1) == 1)
        if (write(pp[1], &ch, 1) != 1) break;
      _exit(0);
    }
    close(pp[1]);
    ev_io_init(&echo, echo_cb, pp[0], EV_READ);
    ev_io_start(loop, &echo);
  } else {
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, a) != 0) return 1;
    ev_io_init(&always, cb, a[0], EV_WRITE);
    ev_io_start(loop, &always);
  }
  ev_run(loop, EVRUN_NOWAIT);
  for (r = 0; r < runs; r++) {
    double t0 = ev_time();
    for (it = 0; it < iters; it++) {
      if (pingpong && write(pp[0], "p", 1) != 1) return 1;
      for (i = 0; i < k; i++) {
        ev_io_stop(loop, &w[i]);
        if (stopstart) ev_io_set(&w[i], sv[i][0], EV_READ);
        else if (pingpong) ev_io_set(&w[i], sv[i][0], (it & 1) ? EV_READ | EV_WRITE : EV_READ);
        else ev_io_set(&w[i], sv[i][0], (it & 1) ? EV_WRITE : EV_READ);
        ev_io_start(loop, &w[i]);
      }
      ev_run(loop, EVRUN_ONCE);
      if (pingpong) {
        while (!echoed) ev_run(loop, EVRUN_ONCE);
        echoed = 0;
      }
    }
    res[r] = (ev_time() - t0) * 1e9 / iters;
  }
  qsort(res, (size_t)runs, sizeof(double), cmpd);
  printf("%.0f backend=0x%x\n", res[runs / 2], ev_backend(loop));
  if (pingpong) {
    close(pp[0]);
    waitpid(child, NULL, 0);
  }
  return 0;
}
