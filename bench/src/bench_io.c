/* bench_io.c -- port of libevent's test/bench.c in libev's "native API" variant
 * (http://libev.schmorp.de/bench.html; see docs/io_uring.md section 4.3).
 * N socketpairs, A of them active (tokens hop along a ring until W extra writes happened),
 * optionally an idle-timeout timer per fd that is reset (ev_timer_again) on every event.
 * Setup (stop/set/start every watcher + timer, one EVRUN_NOWAIT) and event phase are timed apart.
 * Usage: bench_io -n N -a A [-w W (default N)] [-t] [-r RUNS] [-W WARMUPS] */
#include "common.h"
#include <sys/socket.h>

static int num_pipes = 100, num_active = 1, num_writes = -1, timers;
static int *pipes;
static ev_io *evio;
static ev_timer *evto;
static struct ev_loop *loop;
static long count, writes, fired;

static void timeout_cb(EV_P_ ev_timer *w, int revents)
{
  (void)w; (void)revents;
  fprintf(stderr, "bench_io: idle timeout fired (must not happen)\n");
  abort();
}

static void read_cb(EV_P_ ev_io *w, int revents)
{
  int idx = (int)(intptr_t)w->data, widx = idx + 1;
  unsigned char ch;
  (void)revents;
  if (timers) {
    evto[idx].repeat = 10. + drand48();
    ev_timer_again(EV_A_ &evto[idx]);
  }
  count += read(w->fd, &ch, 1);
  if (writes) {
    if (widx >= num_pipes)
      widx -= num_pipes;
    if (write(pipes[2 * widx + 1], "e", 1) != 1)
      abort();
    writes--;
    fired++;
  }
}

static void run_once(double *setup, double *events)
{
  double ta = now_s();
  CG_BEGIN();
  for (int i = 0; i < num_pipes; i++) {
    if (ev_is_active(&evio[i]))
      ev_io_stop(loop, &evio[i]);
    ev_io_set(&evio[i], pipes[2 * i], EV_READ);
    ev_io_start(loop, &evio[i]);
    if (timers) {
      evto[i].repeat = 10. + drand48();
      ev_timer_again(loop, &evto[i]);
    }
  }
  ev_run(loop, EVRUN_NOWAIT);
  CG_END("io-setup");
  fired = 0;
  int space = num_pipes / num_active * 2;
  for (int i = 0; i < num_active; i++, fired++)
    if (write(pipes[i * space + 1], "e", 1) != 1)
      abort();
  count = 0;
  writes = num_writes;
  double ts = now_s();
  CG_BEGIN();
  do
    ev_run(loop, EVRUN_NOWAIT);
  while (count != fired);
  CG_END("io-events");
  double te = now_s();
  *setup = ts - ta;
  *events = te - ts;
}

int main(int argc, char **argv)
{
  int runs = 5, warm = 1, c;
  while ((c = getopt(argc, argv, "n:a:w:tr:W:")) != -1)
    switch (c) {
    case 'n': num_pipes = atoi(optarg); break;
    case 'a': num_active = atoi(optarg); break;
    case 'w': num_writes = atoi(optarg); break;
    case 't': timers = 1; break;
    case 'r': runs = atoi(optarg); break;
    case 'W': warm = atoi(optarg); break;
    default: fprintf(stderr, "usage: bench_io -n N -a A [-w W] [-t] [-r RUNS] [-W WARMUPS]\n"); return 2;
    }
  if (num_writes < 0)
    num_writes = num_pipes;
  if (num_active > num_pipes || runs < 1) {
    fprintf(stderr, "bench_io: bad parameters\n");
    return 2;
  }
  raise_nofile((rlim_t)num_pipes * 2 + 50);
  srand48(42);
  loop = ev_default_loop(0);
  if (!loop) {
    fprintf(stderr, "bench_io: no loop\n");
    return 1;
  }
  print_header("io", loop);
  pipes = calloc(num_pipes * 2, sizeof *pipes);
  evio = calloc(num_pipes, sizeof *evio);
  evto = calloc(num_pipes, sizeof *evto);
  for (int i = 0; i < num_pipes; i++) {
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, &pipes[2 * i]) == -1) {
      perror("socketpair");
      return 1;
    }
    ev_init(&evio[i], read_cb);
    evio[i].data = (void *)(intptr_t)i;
    ev_init(&evto[i], timeout_cb);
  }
  double *su = calloc(runs, sizeof *su), *ev = calloc(runs, sizeof *ev), s, e;
  for (int i = 0; i < warm; i++)
    run_once(&s, &e);
  for (int i = 0; i < runs; i++)
    run_once(&su[i], &ev[i]);
  long nev = num_active + num_writes;
  char p[128];
  snprintf(p, sizeof p, "n=%d a=%d w=%d t=%d", num_pipes, num_active, num_writes, timers);
  printf("R bench=io %s metric=setup_ns_per_fd value=%.2f\n", p, median(su, runs) * 1e9 / num_pipes);
  printf("R bench=io %s metric=event_ns_per_event value=%.2f\n", p, median(ev, runs) * 1e9 / nev);
  printf("R bench=io %s metric=events value=%ld\n", p, nev);
  return 0;
}
