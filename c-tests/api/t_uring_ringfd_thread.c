/* evring-test: backends=128 mode=self timeout=60 variants=reuse,inflight lanes=dynamic,static,asan */
/* evring-only: the application closes the number of a loop's io_uring ring while the loop is
 * run by a thread that did not create the ring. The creating thread entered through its
 * registered index; any other thread enters through the number (t_uring_ringfd covers the
 * creating thread). Found by review; both variants failed before the fix.
 *  reuse:    another loop, made by a third thread, gets its ring at the closed number. The
 *            first loop must not enter that ring (it did: it submitted its requests to the
 *            other loop's ring, waited on its completion queue at 100 % CPU and never ran its
 *            timer, and cancelled the other loop's wait): it must notice that the number is
 *            no longer its ring, build a new one, and keep running, as the other loop does.
 *  inflight: the number is closed while the loop waits in the ring. The cancel of that wait
 *            fails (EBADF) and the loop builds a new ring; the old ring lives on (the creating
 *            thread's registration holds it) with its EPOLL_WAIT armed. When a watched pipe
 *            becomes readable the kernel completes that request: it must not write into the
 *            loop's freed event buffer (it did: 12 bytes appeared in blocks the application
 *            allocated afterwards, filled with 0xAA and checked here).
 * Every iteration re-registers eight idle pipes, so each wait is a batch sent through the
 * ring (EVRING_URING_RING_AFTER=0: the ring exists from the start). Not under valgrind: it
 * holds its big lock across a blocking io_uring_enter, so the other threads never run. */
#include "test.h"

#define NR 8
#define NB 64

static struct ev_loop *A, *B;
static int ap[NR][2], bp[NR][2], dp[2], ringfd = -1, inflight;
static ev_io aw[NR], bw[NR], dw;
static volatile int stop_b, closed;
static long a_ticks, b_ticks, a_data, modified = -1;
static unsigned char *blk[NB];

static void idle_cb(struct ev_loop *l, ev_io *w, int revents)
{
  (void)l; (void)w; (void)revents;
  CHECK(!"an idle pipe was reported ready");
}

static void data_cb(struct ev_loop *l, ev_io *w, int revents)
{
  char c;
  (void)l;
  CHECK(revents == EV_READ);
  if (test_read1(w->fd, &c)) a_data++;
}

static void rereg(struct ev_loop *l, ev_io *w, int (*p)[2])
{
  int i;
  for (i = 0; i < NR; i++) {
    ev_io_stop(l, &w[i]);
    ev_io_set(&w[i], p[i][0], EV_READ);
    ev_io_start(l, &w[i]);
  }
}

static void a_prep(struct ev_loop *l, ev_prepare *p, int revents)
{
  (void)p; (void)revents;
  rereg(l, aw, ap);
}

static void b_prep(struct ev_loop *l, ev_prepare *p, int revents)
{
  (void)p; (void)revents;
  rereg(l, bw, bp);
}

static void check_heap(void)
{
  int i, j;
  for (i = 0; i < NB; i++) {
    blk[i] = malloc(64 * 12);
    CHECK(blk[i] != NULL);
    memset(blk[i], 0xAA, 64 * 12);
  }
  CHECK(write(dp[1], "x", 1) == 1); /* wakes the old ring's armed wait, if it is still there */
  for (i = 0; i < 200; i++) usleep(100);
  modified = 0;
  for (i = 0; i < NB; i++) {
    for (j = 0; j < 64 * 12; j++)
      if (blk[i][j] != 0xAA) modified++;
    free(blk[i]);
  }
}

static void a_tick(struct ev_loop *l, ev_timer *t, int revents)
{
  (void)t; (void)revents;
  a_ticks++;
  if (inflight && closed == 1 && a_ticks > 6) {
    closed = 2;
    check_heap();
  }
  if (a_ticks >= (inflight ? 12 : 30) && (!inflight || closed == 2) && a_data > 0)
    ev_break(l, EVBREAK_ALL);
}

static void b_tick(struct ev_loop *l, ev_timer *t, int revents)
{
  (void)t; (void)revents;
  b_ticks++;
  if (stop_b) ev_break(l, EVBREAK_ALL);
}

static void *run_b(void *x)
{
  int i;
  ev_prepare p;
  ev_timer t;
  (void)x;
  B = ev_loop_new(EVBACKEND_IOURING);
  CHECK(B != NULL);
  for (i = 0; i < NR; i++) {
    CHECK(pipe(bp[i]) == 0);
    ev_io_init(&bw[i], idle_cb, bp[i][0], EV_READ);
    ev_io_start(B, &bw[i]);
  }
  ev_prepare_init(&p, b_prep);
  ev_prepare_start(B, &p);
  ev_timer_init(&t, b_tick, 0.01, 0.01);
  ev_timer_start(B, &t);
  ev_run(B, EVRUN_NOWAIT);
  closed = 1; /* B's ring exists */
  ev_run(B, 0);
  return NULL;
}

static void *closer(void *x)
{
  (void)x;
  usleep(120000); /* the loop thread is in its wait (50 ms timer, a batch every iteration) */
  CHECK(close(ringfd) == 0);
  closed = 1;
  return NULL;
}

static void *run_a(void *x)
{
  ev_timer t;
  pthread_t c;
  (void)x;
  /* inflight: 50 ms, so that the close finds the loop in its wait */
  ev_timer_init(&t, a_tick, inflight ? 0.05 : 0.01, inflight ? 0.05 : 0.01);
  ev_timer_start(A, &t);
  if (inflight) CHECK(pthread_create(&c, NULL, closer, NULL) == 0);
  ev_run(A, 0);
  if (inflight) CHECK(pthread_join(c, NULL) == 0);
  ev_timer_stop(A, &t);
  return NULL;
}

int main(int argc, char **argv)
{
  int i;
  ev_prepare p;
  pthread_t ta, tb;
  WATCHDOG(40);
  inflight = argc > 1 && !strcmp(argv[1], "inflight");
  if (getenv("EVRING_URING_FAIL")) SKIP("io_uring forced off");
  setenv("EVRING_URING_RING_AFTER", "0", 1);
  A = ev_loop_new(EVBACKEND_IOURING);
  CHECK(A != NULL);
  if (ev_backend(A) != EVBACKEND_IOURING) SKIP("io_uring not in use");
  for (i = 0; i < NR; i++) {
    CHECK(pipe(ap[i]) == 0);
    ev_io_init(&aw[i], idle_cb, ap[i][0], EV_READ);
    ev_io_start(A, &aw[i]);
  }
  CHECK(pipe(dp) == 0);
  ev_io_init(&dw, data_cb, dp[0], EV_READ);
  ev_io_start(A, &dw);
  ev_prepare_init(&p, a_prep);
  ev_prepare_start(A, &p);
  ev_run(A, EVRUN_NOWAIT);
  ringfd = test_find_fd("anon_inode:[io_uring]");
  if (ringfd < 0) SKIP("no io_uring ring fd found");

  if (!inflight) {
    CHECK(close(ringfd) == 0);
    CHECK(pthread_create(&tb, NULL, run_b, NULL) == 0);
    while (!closed) usleep(1000);
    if (test_find_fd("anon_inode:[io_uring]") != ringfd) {
      stop_b = 1;
      CHECK(pthread_join(tb, NULL) == 0);
      SKIP("the other loop's ring did not get the closed number");
    }
    CHECK(write(dp[1], "x", 1) == 1);
  }
  CHECK(pthread_create(&ta, NULL, run_a, NULL) == 0);
  CHECK(pthread_join(ta, NULL) == 0);
  TRACE("loop A: backend io_uring %s, timer ticks, data read %s",
        ev_backend(A) == EVBACKEND_IOURING ? "yes" : "no", a_data > 0 ? "yes" : "no");
  if (inflight) {
    TRACE("heap bytes changed after the rebuild: %ld", modified);
    CHECK_EQ_INT(modified, 0);
  } else {
    stop_b = 1;
    CHECK(pthread_join(tb, NULL) == 0);
    TRACE("loop B: backend io_uring %s, ran its timer %s", ev_backend(B) == EVBACKEND_IOURING ? "yes" : "no",
          b_ticks > 0 ? "yes" : "no");
    ev_loop_destroy(B);
  }
  ev_loop_destroy(A);
  TRACE("end");
  return 0;
}
