/* evring-test: backends=128 mode=self timeout=60 lanes=dynamic,static */
/* evring-only: another process keeps making a watched pipe readable and draining it at once
 * (a shared fd consumed elsewhere: a prefork accept herd). Each write wakes the io_uring
 * backend's armed EPOLL_WAIT request, whose retry then finds nothing; after 128 such retries
 * the kernel runs it once more in io-wq and completes it with -EAGAIN. That is an early
 * wake-up, nothing more: the loop must stay on io_uring (evring once took it for a broken
 * ring and moved the loop to the epoll backend for good; found by review). The drainer runs
 * at SCHED_FIFO on the loop's CPU, so it always consumes the byte before the loop's retry
 * (skipped if real-time scheduling is not allowed). Every iteration re-registers eight idle
 * pipes, so each wait is one sent through the ring. */
#include "test.h"

#include <sched.h>
#include <fcntl.h>
#include <sys/wait.h>

#define NR 8

static int ip[NR][2], sp[2];
static ev_io iw[NR], sw;
static long iters;
static unsigned first_change;

static void idle_cb(struct ev_loop *l, ev_io *w, int revents)
{
  (void)l; (void)w; (void)revents;
  CHECK(!"an idle pipe was reported ready");
}

static void shared_cb(struct ev_loop *l, ev_io *w, int revents)
{
  char c;
  (void)l; (void)revents;
  (void)!read(w->fd, &c, 1); /* nonblocking: the drainer usually took it first */
}

static void prep_cb(struct ev_loop *l, ev_prepare *p, int revents)
{
  int i;
  (void)p; (void)revents;
  iters++;
  if (!first_change && ev_backend(l) != EVBACKEND_IOURING) first_change = ev_backend(l);
  for (i = 0; i < NR; i++) {
    ev_io_stop(l, &iw[i]);
    ev_io_set(&iw[i], ip[i][0], EV_READ);
    ev_io_start(l, &iw[i]);
  }
}

static void tick_cb(struct ev_loop *l, ev_timer *t, int revents)
{
  (void)l; (void)t; (void)revents;
}

static void end_cb(struct ev_loop *l, ev_timer *t, int revents)
{
  (void)t; (void)revents;
  ev_break(l, EVBREAK_ALL);
}

int main(void)
{
  struct ev_loop *l;
  ev_prepare pr;
  ev_timer te, tick;
  cpu_set_t cs;
  pid_t c;
  int i, st, ready[2];
  char x;
  WATCHDOG(40);
  if (getenv("EVRING_URING_FAIL")) SKIP("io_uring forced off");
  setenv("EVRING_URING_RING_AFTER", "0", 1);
  l = ev_loop_new(EVBACKEND_IOURING);
  CHECK(l != NULL);
  if (ev_backend(l) != EVBACKEND_IOURING) SKIP("io_uring not in use");
  for (i = 0; i < NR; i++) {
    CHECK(pipe(ip[i]) == 0);
    ev_io_init(&iw[i], idle_cb, ip[i][0], EV_READ);
    ev_io_start(l, &iw[i]);
  }
  CHECK(pipe(sp) == 0);
  CHECK(fcntl(sp[0], F_SETFL, O_NONBLOCK) == 0);
  ev_io_init(&sw, shared_cb, sp[0], EV_READ);
  ev_io_start(l, &sw);
  ev_prepare_init(&pr, prep_cb);
  ev_prepare_start(l, &pr);
  ev_timer_init(&te, end_cb, 1.5, 0.);
  ev_timer_start(l, &te);
  ev_timer_init(&tick, tick_cb, 0.1, 0.1); /* iterations whose batch is only re-registrations */
  ev_timer_start(l, &tick);
  ev_run(l, EVRUN_NOWAIT); /* the first registrations (not a batch that rides with the wait) */
  CPU_ZERO(&cs);
  CPU_SET(0, &cs);
  if (sched_setaffinity(0, sizeof cs, &cs) != 0) SKIP("cannot pin to CPU 0");
  CHECK(pipe(ready) == 0);
  c = fork();
  CHECK(c >= 0);
  if (c == 0) {
    struct sched_param prio;
    struct timespec d = {0, 20000};
    prio.sched_priority = 10;
    x = sched_setscheduler(0, SCHED_FIFO, &prio) == 0 ? 'y' : 'n';
    CHECK(write(ready[1], &x, 1) == 1);
    if (x == 'n') _exit(0);
    alarm(30);
    for (;;) {
      x = 'x';
      if (write(sp[1], &x, 1) != 1) _exit(0);
      (void)!read(sp[0], &x, 1);
      nanosleep(&d, NULL);
    }
  }
  CHECK(read(ready[0], &x, 1) == 1);
  if (x != 'y') {
    CHECK(waitpid(c, &st, 0) == c);
    SKIP("SCHED_FIFO not allowed");
  }
  ev_run(l, 0);
  kill(c, SIGKILL);
  CHECK(waitpid(c, &st, 0) == c);
  fprintf(stderr, "iterations: %ld, backend changed to 0x%x\n", iters, first_change);
  TRACE("backend after the herd: %s", ev_backend(l) == EVBACKEND_IOURING ? "io_uring" : "another");
  CHECK_EQ_INT(first_change, 0);
  CHECK_EQ_INT(ev_backend(l), EVBACKEND_IOURING);
  ev_loop_destroy(l);
  TRACE("end");
  return 0;
}
