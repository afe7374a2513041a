/* bench_rss.c -- memory of one pgagroal-shaped worker loop.
 * Phase "main": ev_default_loop + six signal watchers + an io watcher + one EVRUN_NOWAIT (what
 * pgagroal's main process has before it forks workers; also the first touch of the library's
 * code and data pages). Phase "worker": ev_loop_new(EVFLAG_AUTO) + ev_signal(SIGQUIT) + two io
 * watchers (client, server) + one timer + one EVRUN_NOWAIT, like pgagroal_worker().
 * Prints, per phase, the growth of VmHWM (peak RSS), VmRSS and RssAnon (private anonymous memory)
 * in KiB. Usage: bench_rss */
#include "common.h"
#include <signal.h>
#include <sys/socket.h>

static void io_cb(EV_P_ ev_io *w, int revents) { (void)w; (void)revents; }
static void sig_cb(EV_P_ ev_signal *w, int revents) { (void)w; (void)revents; }
static void t_cb(EV_P_ ev_timer *w, int revents) { (void)w; (void)revents; }

static long status_kib(const char *key)
{
  static char buf[8192];
  FILE *f = fopen("/proc/self/status", "r");
  size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
  if (f)
    fclose(f);
  buf[n] = 0;
  char *p = strstr(buf, key);
  return p ? atol(p + strlen(key) + 1) : -1;
}

struct snap { long hwm, rss, anon; };
static struct snap take(void)
{
  struct snap s = {status_kib("VmHWM:"), status_kib("VmRSS:"), status_kib("RssAnon:")};
  return s;
}
static void report(const char *phase, struct snap a, struct snap b)
{
  printf("R bench=rss metric=%s_hwm_delta_kib value=%ld\n", phase, b.hwm - a.hwm);
  printf("R bench=rss metric=%s_rss_delta_kib value=%ld\n", phase, b.rss - a.rss);
  printf("R bench=rss metric=%s_anon_delta_kib value=%ld\n", phase, b.anon - a.anon);
}

int main(void)
{
  int sv[2], sv2[2], sv3[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv2) == -1 ||
      socketpair(AF_UNIX, SOCK_STREAM, 0, sv3) == -1)
    return 1;
  print_header("rss", NULL);
  setvbuf(stdout, NULL, _IOFBF, 1 << 14); /* no stdio allocation between the snapshots */
  struct snap s0 = take();
  struct ev_loop *main_loop = ev_default_loop(0);
  static const int sigs[] = {SIGTERM, SIGINT, SIGALRM, SIGHUP, SIGTRAP, SIGABRT};
  static ev_signal sw[6];
  for (int i = 0; i < 6; i++) {
    ev_signal_init(&sw[i], sig_cb, sigs[i]);
    ev_signal_start(main_loop, &sw[i]);
  }
  static ev_io listener;
  ev_io_init(&listener, io_cb, sv3[0], EV_READ);
  ev_io_start(main_loop, &listener);
  ev_run(main_loop, EVRUN_NOWAIT);
  struct snap s1 = take();
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  if (!loop)
    return 1;
  static ev_signal q;
  static ev_io a, b;
  static ev_timer t;
  ev_signal_init(&q, sig_cb, SIGQUIT);
  ev_signal_start(loop, &q);
  ev_io_init(&a, io_cb, sv[0], EV_READ);
  ev_io_start(loop, &a);
  ev_io_init(&b, io_cb, sv2[0], EV_READ);
  ev_io_start(loop, &b);
  ev_timer_init(&t, t_cb, 60., 0.);
  ev_timer_start(loop, &t);
  ev_run(loop, EVRUN_NOWAIT);
  struct snap s2 = take();
  printf("# backend=0x%x\n", ev_backend(loop));
  report("main", s0, s1);
  report("worker", s1, s2);
  printf("R bench=rss metric=total_hwm_kib value=%ld\n", s2.hwm);
  return 0;
}
