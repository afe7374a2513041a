/* bench_churn.c -- interest churn: per loop iteration K io watchers are stopped, re-initialised
 * and started again on the same fd (pgagroal's transaction pipeline does ev_io_stop at the end of
 * each transaction and ev_io_init + ev_io_start of the same server fd at the next one), followed
 * by one ev_run(EVRUN_NOWAIT). The fds are idle socketpair ends (nothing to read).
 * Usage: bench_churn -k K [-i ITERS] [-r RUNS] [-W WARMUPS] */
#include "common.h"
#include <sys/socket.h>

static void cb(EV_P_ ev_io *w, int revents) { (void)w; (void)revents; }

int main(int argc, char **argv)
{
  int k = 10, iters = 0, runs = 5, warm = 1, c;
  while ((c = getopt(argc, argv, "k:i:r:W:")) != -1)
    switch (c) {
    case 'k': k = atoi(optarg); break;
    case 'i': iters = atoi(optarg); break;
    case 'r': runs = atoi(optarg); break;
    case 'W': warm = atoi(optarg); break;
    default: fprintf(stderr, "usage: bench_churn -k K [-i ITERS] [-r RUNS] [-W WARMUPS]\n"); return 2;
    }
  if (iters <= 0)
    iters = k >= 1000 ? 200 : 200000 / k;
  raise_nofile((rlim_t)k * 2 + 50);
  struct ev_loop *loop = ev_default_loop(0);
  print_header("churn", loop);
  int *fds = calloc(2 * k, sizeof *fds);
  ev_io *w = calloc(k, sizeof *w);
  for (int i = 0; i < k; i++) {
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, &fds[2 * i]) == -1) {
      perror("socketpair");
      return 1;
    }
    ev_io_init(&w[i], cb, fds[2 * i], EV_READ);
    ev_io_start(loop, &w[i]);
  }
  ev_run(loop, EVRUN_NOWAIT);
  double *t = calloc(runs, sizeof *t);
  for (int r = -warm; r < runs; r++) {
    double t0 = now_s();
    CG_BEGIN();
    for (int it = 0; it < iters; it++) {
      for (int i = 0; i < k; i++) {
        ev_io_stop(loop, &w[i]);
        ev_io_init(&w[i], cb, fds[2 * i], EV_READ);
        ev_io_start(loop, &w[i]);
      }
      ev_run(loop, EVRUN_NOWAIT);
    }
    CG_END("churn");
    double t1 = now_s();
    if (r >= 0)
      t[r] = t1 - t0;
  }
  printf("R bench=churn k=%d metric=ns_per_iteration value=%.2f\n", k, median(t, runs) * 1e9 / iters);
  printf("R bench=churn k=%d metric=iterations value=%d\n", k, iters);
  return 0;
}
