/* The classic libevent/libev bench.c, ported to the native libev 4 API (see the libev bench
 * page, "2011-01-11, Version 6"; picoev's example/bench.c keeps that version).
 *   -n N  socketpairs (default 100)   -a A  active tokens (default 1)
 *   -w W  extra writes (default N)    -t    reset a per-fd idle timer on every event
 *   -b B  backend flags for ev_loop_new (default 0 = LIBEV_FLAGS / auto)
 *   -r R  runs (default 5); prints the median run: "total_us event_us iterations"
 * Build once against <ev.h>; run against either libev.so.4 by LD_LIBRARY_PATH. */
#include <ev.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>

static int num_pipes = 100, num_active = 1, num_writes = -1, timers, count, writes, fired;
static int *pipes;
static ev_io *evio;
static ev_timer *evto;
static struct ev_loop *loop;

static void timeout_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)l; (void)w; (void)revents;
  fprintf(stderr, "timeout fired: benchmark too slow\n");
  abort();
}

static void read_cb(struct ev_loop *l, ev_io *w, int revents)
{
  int idx = (int)(intptr_t)w->data, widx = idx + 1;
  unsigned char ch;
  (void)revents;
  if (timers) {
    evto[idx].repeat = 10. + drand48();
    ev_timer_again(l, &evto[idx]);
  }
  count += (int)read(w->fd, &ch, 1);
  if (writes) {
    if (widx >= num_pipes) widx -= num_pipes;
    if (write(pipes[2 * widx + 1], "e", 1) != 1) abort();
    writes--;
    fired++;
  }
}

static void run_once(double *total, double *events, unsigned *iters)
{
  int i, space;
  double ta, ts, te;
  unsigned it0;
  ta = ev_time();
  for (i = 0; i < num_pipes; i++) {
    if (ev_is_active(&evio[i])) ev_io_stop(loop, &evio[i]);
    ev_io_set(&evio[i], pipes[2 * i], EV_READ);
    ev_io_start(loop, &evio[i]);
    if (timers) {
      evto[i].repeat = 10. + drand48();
      ev_timer_again(loop, &evto[i]);
    }
  }
  ev_run(loop, EVRUN_NOWAIT);
  fired = 0;
  space = num_pipes / num_active * 2;
  for (i = 0; i < num_active; i++, fired++)
    if (write(pipes[i * space + 1], "e", 1) != 1) abort();
  count = 0;
  writes = num_writes;
  it0 = ev_iteration(loop);
  ts = ev_time();
  do ev_run(loop, EVRUN_NOWAIT); while (count != fired);
  te = ev_time();
  *total = (te - ta) * 1e6;
  *events = (te - ts) * 1e6;
  *iters = ev_iteration(loop) - it0;
}

static int cmpd(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
  int c, i, runs = 5;
  unsigned backend = 0, iters = 0;
  struct rlimit rl;
  double tot[64], ev[64], tsort[64];
  while ((c = getopt(argc, argv, "n:a:w:tb:r:")) != -1) {
    switch (c) {
    case 'n': num_pipes = atoi(optarg); break;
    case 'a': num_active = atoi(optarg); break;
    case 'w': num_writes = atoi(optarg); break;
    case 't': timers = 1; break;
    case 'b': backend = (unsigned)strtoul(optarg, NULL, 0); break;
    case 'r': runs = atoi(optarg); break;
    default: fprintf(stderr, "bad option\n"); return 1;
    }
  }
  if (runs < 1 || runs > 64) runs = 5;
  if (num_writes < 0) num_writes = num_pipes;
  rl.rlim_cur = rl.rlim_max = (rlim_t)num_pipes * 2 + 50;
  if (setrlimit(RLIMIT_NOFILE, &rl) == -1) { perror("setrlimit"); }
  loop = ev_loop_new(backend);
  if (!loop) { fprintf(stderr, "no loop\n"); return 1; }
  evio = calloc((size_t)num_pipes, sizeof *evio);
  evto = calloc((size_t)num_pipes, sizeof *evto);
  pipes = calloc((size_t)num_pipes * 2, sizeof *pipes);
  for (i = 0; i < num_pipes; i++) {
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, &pipes[2 * i]) == -1) { perror("socketpair"); return 1; }
    ev_init(&evio[i], read_cb);
    evio[i].data = (void *)(intptr_t)i;
    ev_init(&evto[i], timeout_cb);
  }
  for (i = 0; i < runs; i++) run_once(&tot[i], &ev[i], &iters);
  memcpy(tsort, ev, sizeof(double) * (size_t)runs);
  qsort(tsort, (size_t)runs, sizeof(double), cmpd);
  qsort(tot, (size_t)runs, sizeof(double), cmpd);
  printf("%.1f %.1f %u backend=0x%x\n", tot[runs / 2], tsort[runs / 2], iters, ev_backend(loop));
  return 0;
}
