/* bench_rss.c -- memory of one worker loop, pgagroal's worker shape: ev_loop_new(EVFLAG_AUTO),
 * an ev_signal(SIGQUIT), two io watchers (client, server), one timer, one ev_run(EVRUN_NOWAIT).
 * Prints VmHWM (peak RSS) and VmRSS before and after, in KiB. Usage: bench_rss [-l LOOPS] */
#include "common.h"
#include <signal.h>
#include <sys/socket.h>

static void io_cb(EV_P_ ev_io *w, int revents) { (void)w; (void)revents; }
static void sig_cb(EV_P_ ev_signal *w, int revents) { (void)w; (void)revents; }
static void t_cb(EV_P_ ev_timer *w, int revents) { (void)w; (void)revents; }

int main(int argc, char **argv)
{
  int loops = 1, c;
  while ((c = getopt(argc, argv, "l:")) != -1)
    if (c == 'l')
      loops = atoi(optarg);
  int sv[2], sv2[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv2) == -1)
    return 1;
  print_header("rss", NULL);
  long hwm0 = vm_hwm_kib(), rss0 = vm_rss_kib();
  for (int l = 0; l < loops; l++) {
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    if (!loop)
      return 1;
    if (l == 0)
      printf("# backend=0x%x\n", ev_backend(loop));
    ev_signal *q = malloc(sizeof *q);
    ev_io *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    ev_timer *t = malloc(sizeof *t);
    ev_signal_init(q, sig_cb, SIGQUIT);
    ev_signal_start(loop, q);
    ev_io_init(a, io_cb, sv[0], EV_READ);
    ev_io_start(loop, a);
    ev_io_init(b, io_cb, sv2[0], EV_READ);
    ev_io_start(loop, b);
    ev_timer_init(t, t_cb, 60., 0.);
    ev_timer_start(loop, t);
    ev_run(loop, EVRUN_NOWAIT);
    if (loops > 1 && l < loops - 1) {
      /* keep the loop: measures per-loop cost when several exist */
    }
  }
  long hwm1 = vm_hwm_kib(), rss1 = vm_rss_kib();
  printf("R bench=rss loops=%d metric=hwm_total_kib value=%ld\n", loops, hwm1);
  printf("R bench=rss loops=%d metric=hwm_delta_kib value=%ld\n", loops, hwm1 - hwm0);
  printf("R bench=rss loops=%d metric=rss_delta_kib value=%ld\n", loops, rss1 - rss0);
  return 0;
}
