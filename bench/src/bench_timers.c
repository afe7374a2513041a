/* bench_timers.c -- N timers (10^5, 10^6): cost of ev_timer_start, ev_timer_again, ev_timer_stop
 * (ns per operation) and of dispatching expired timers (ns per fired timer).
 * start: after = 60 + drand48() s (random heap order); again: repeat = 60 + drand48();
 * stop: all, in index order. dispatch: start all with after = drand48() ms, sleep until they
 * have all expired (not timed), then one ev_run(EVRUN_NOWAIT) fires them all (timed).
 * Usage: bench_timers -n N [-r RUNS] [-W WARMUPS] */
#include "common.h"

static long fired_count;
static void cb(EV_P_ ev_timer *w, int revents) { (void)w; (void)revents; fired_count++; }

int main(int argc, char **argv)
{
  int n = 100000, runs = 3, warm = 1, c;
  while ((c = getopt(argc, argv, "n:r:W:")) != -1)
    switch (c) {
    case 'n': n = atoi(optarg); break;
    case 'r': runs = atoi(optarg); break;
    case 'W': warm = atoi(optarg); break;
    default: fprintf(stderr, "usage: bench_timers -n N [-r RUNS] [-W WARMUPS]\n"); return 2;
    }
  struct ev_loop *loop = ev_default_loop(0);
  print_header("timers", loop);
  ev_timer *t = calloc(n, sizeof *t);
  double *after = malloc(n * sizeof *after), *rep = malloc(n * sizeof *rep), *soon = malloc(n * sizeof *soon);
  srand48(7);
  for (int i = 0; i < n; i++) {
    after[i] = 60. + drand48();
    rep[i] = 60. + drand48();
    soon[i] = drand48() * 1e-3;
  }
  double *ts = calloc(runs, sizeof(double)), *ta = calloc(runs, sizeof(double)),
         *tp = calloc(runs, sizeof(double)), *td = calloc(runs, sizeof(double));
  for (int r = -warm; r < runs; r++) {
    ev_now_update(loop);
    double t0 = now_s();
    CG_BEGIN();
    for (int i = 0; i < n; i++) {
      ev_timer_init(&t[i], cb, after[i], 0.);
      ev_timer_start(loop, &t[i]);
    }
    CG_END("timer-start");
    double t1 = now_s();
    CG_BEGIN();
    for (int i = 0; i < n; i++) {
      t[i].repeat = rep[i];
      ev_timer_again(loop, &t[i]);
    }
    CG_END("timer-again");
    double t2 = now_s();
    CG_BEGIN();
    for (int i = 0; i < n; i++)
      ev_timer_stop(loop, &t[i]);
    CG_END("timer-stop");
    double t3 = now_s();
    ev_now_update(loop);
    for (int i = 0; i < n; i++) {
      ev_timer_init(&t[i], cb, soon[i], 0.);
      ev_timer_start(loop, &t[i]);
    }
    usleep(3000);
    fired_count = 0;
    double t4 = now_s();
    CG_BEGIN();
    ev_run(loop, EVRUN_NOWAIT);
    CG_END("timer-dispatch");
    double t5 = now_s();
    if (fired_count != n) {
      fprintf(stderr, "bench_timers: %ld of %d timers fired in one iteration\n", fired_count, n);
      while (fired_count < n)
        ev_run(loop, EVRUN_ONCE);
    }
    if (r >= 0) {
      ts[r] = t1 - t0; ta[r] = t2 - t1; tp[r] = t3 - t2; td[r] = t5 - t4;
    }
  }
  printf("R bench=timers n=%d metric=start_ns value=%.2f\n", n, median(ts, runs) * 1e9 / n);
  printf("R bench=timers n=%d metric=again_ns value=%.2f\n", n, median(ta, runs) * 1e9 / n);
  printf("R bench=timers n=%d metric=stop_ns value=%.2f\n", n, median(tp, runs) * 1e9 / n);
  printf("R bench=timers n=%d metric=dispatch_ns value=%.2f\n", n, median(td, runs) * 1e9 / n);
  return 0;
}
