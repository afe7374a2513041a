/* bench_loop.c -- per-iteration overhead of the loop itself.
 *   -m empty : an active ev_idle watcher (callback does nothing); ITERS x ev_run(EVRUN_NOWAIT).
 *   -m entry : pgagroal's shape: an io watcher on a socketpair end that is always readable (one
 *              byte written, never read); its callback calls ev_break(EVBREAK_ONE) every time;
 *              ITERS x ev_run(loop, 0) -- one (non-zero-timeout) poll + one callback per entry.
 * Usage: bench_loop -m empty|entry [-i ITERS] [-r RUNS] [-W WARMUPS] */
#include "common.h"
#include <sys/socket.h>

static long calls;
static void idle_cb(EV_P_ ev_idle *w, int revents) { (void)w; (void)revents; calls++; }
static void io_cb(EV_P_ ev_io *w, int revents) { (void)w; (void)revents; calls++; ev_break(EV_A_ EVBREAK_ONE); }

int main(int argc, char **argv)
{
  const char *mode = "empty";
  int iters = 200000, runs = 5, warm = 1, c;
  while ((c = getopt(argc, argv, "m:i:r:W:")) != -1)
    switch (c) {
    case 'm': mode = optarg; break;
    case 'i': iters = atoi(optarg); break;
    case 'r': runs = atoi(optarg); break;
    case 'W': warm = atoi(optarg); break;
    default: fprintf(stderr, "usage: bench_loop -m empty|entry [-i ITERS] [-r RUNS] [-W WARMUPS]\n"); return 2;
    }
  struct ev_loop *loop = ev_default_loop(0);
  print_header("loop", loop);
  ev_idle idle;
  ev_io io;
  int sv[2];
  int entry = !strcmp(mode, "entry");
  if (entry) {
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1 || write(sv[1], "x", 1) != 1) {
      perror("socketpair");
      return 1;
    }
    ev_io_init(&io, io_cb, sv[0], EV_READ);
    ev_io_start(loop, &io);
  } else if (!strcmp(mode, "empty")) {
    ev_idle_init(&idle, idle_cb);
    ev_idle_start(loop, &idle);
  } else {
    fprintf(stderr, "bench_loop: unknown mode %s\n", mode);
    return 2;
  }
  double *t = calloc(runs, sizeof *t);
  for (int r = -warm; r < runs; r++) {
    calls = 0;
    double t0 = now_s();
    CG_BEGIN();
    if (entry)
      for (int i = 0; i < iters; i++)
        ev_run(loop, 0);
    else
      for (int i = 0; i < iters; i++)
        ev_run(loop, EVRUN_NOWAIT);
    CG_END(entry ? "loop-entry" : "loop-empty");
    double t1 = now_s();
    if (calls != iters) {
      fprintf(stderr, "bench_loop: %ld callbacks for %d iterations\n", calls, iters);
      return 1;
    }
    if (r >= 0)
      t[r] = t1 - t0;
  }
  printf("R bench=loop mode=%s metric=ns_per_iteration value=%.2f\n", mode, median(t, runs) * 1e9 / iters);
  printf("R bench=loop mode=%s metric=iterations value=%d\n", mode, iters);
  return 0;
}
