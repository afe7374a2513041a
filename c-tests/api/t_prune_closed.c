/* evring-test: mode=diff timeout=30 variants=close,dup */
/* A stopped watcher's registration is kept lazily (libev's rule); the next wait reports the fd
 * for events nobody wants, so the loop narrows the registration. In that iteration's callback
 * the application closes the fd (variant `close`), or dup()s it and closes the original number
 * (`dup`: the kernel keeps the registration, the file lives on). The narrowing then fails, and
 * the loop must still sleep: over a 300 ms timer it makes a handful of iterations, not a busy
 * loop (evring's io_uring backend once made ~250,000 here: found by review). */
#include "test.h"

#include <sys/socket.h>

static int s[2], extra = -1, iters;
static int dup_variant;
static ev_io w;
static ev_timer t;
static ev_prepare pr;

static void wcb(struct ev_loop *l, ev_io *io, int revents)
{
  CHECK(revents & EV_WRITE);
  ev_io_stop(l, io); /* lazily: the registration for WRITE stays */
  if (dup_variant) extra = dup(s[0]);
  close(s[0]);
}

static void tcb(struct ev_loop *l, ev_timer *tt, int revents)
{
  (void)tt; (void)revents;
  ev_break(l, EVBREAK_ALL);
}

static void pcb(struct ev_loop *l, ev_prepare *p, int revents)
{
  (void)l; (void)p; (void)revents;
  iters++;
}

int main(int argc, char **argv)
{
  struct ev_loop *l;
  WATCHDOG(20);
  dup_variant = argc > 1 && !strcmp(argv[1], "dup");
  l = test_default_loop();
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
  ev_io_init(&w, wcb, s[0], EV_WRITE);
  ev_io_start(l, &w);
  ev_timer_init(&t, tcb, 0.3, 0.);
  ev_timer_start(l, &t);
  ev_prepare_init(&pr, pcb);
  ev_prepare_start(l, &pr);
  ev_run(l, 0);
  fprintf(stderr, "%d iterations\n", iters);
  /* libev: 3; a busy loop makes tens of thousands (the bound leaves room for slow machines) */
  TRACE("%s: the loop slept (fewer than 100 iterations): %s", dup_variant ? "dup" : "close",
        iters < 100 ? "yes" : "no");
  ev_prepare_stop(l, &pr);
  if (extra >= 0) close(extra);
  close(s[1]);
  ev_loop_destroy(l);
  return 0;
}
