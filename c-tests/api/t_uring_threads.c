/* evring-test: backends=128 mode=self timeout=60 */
/* evring-only: one loop driven from two threads one after the other (libev allows it).
 * Thread A starts watchers and runs the loop until a timer ends an iteration with nothing
 * readable (so io_uring poll requests armed by A are in flight when A exits; the kernel then
 * completes them with -ECANCELED, which must be re-armed, not lost), then exits. Thread B
 * makes the fds readable and runs the same loop: every watcher must fire once. 20 hand-overs. */
#include "test.h"

#define N 16

static struct ev_loop *loop;
static ev_io w[N];
static int p[N][2], got[N], total;

static void cb(struct ev_loop *l, ev_io *io, int revents)
{
  char c;
  (void)l; (void)revents;
  CHECK(read(io->fd, &c, 1) == 1);
  got[io - w]++;
  total++;
}

static void nop_timer(struct ev_loop *l, ev_timer *t, int revents)
{
  (void)l; (void)t; (void)revents;
}

static void *thread_a(void *arg)
{
  ev_timer t;
  (void)arg;
  ev_timer_init(&t, nop_timer, 0.005, 0.);
  ev_timer_start(loop, &t);
  ev_run(loop, EVRUN_ONCE); /* nothing readable: ends by the timer */
  ev_timer_stop(loop, &t);
  return NULL;
}

static void *thread_b(void *arg)
{
  int i, want = *(int *)arg;
  for (i = 0; i < N; i++) CHECK(write(p[i][1], "b", 1) == 1);
  while (total < want) ev_run(loop, EVRUN_ONCE);
  return NULL;
}

int main(void)
{
  pthread_t a, b;
  int i, round, want;
  WATCHDOG_KILL(55);
  loop = test_new_loop(0);
  if (!getenv("EVRING_URING_FAIL")) CHECK_EQ_INT(ev_backend(loop), EVBACKEND_IOURING);
  for (i = 0; i < N; i++) {
    CHECK(pipe(p[i]) == 0);
    ev_io_init(&w[i], cb, p[i][0], EV_READ);
    ev_io_start(loop, &w[i]);
  }
  for (round = 1; round <= 20; round++) {
    CHECK(pthread_create(&a, NULL, thread_a, NULL) == 0);
    CHECK(pthread_join(a, NULL) == 0);
    want = round * N;
    CHECK(pthread_create(&b, NULL, thread_b, &want) == 0);
    CHECK(pthread_join(b, NULL) == 0);
    CHECK_EQ_INT(total, want);
  }
  for (i = 0; i < N; i++) CHECK_EQ_INT(got[i], 20);
  TRACE("20 hand-overs between threads: every event delivered once");
  ev_loop_destroy(loop);
  return 0;
}
