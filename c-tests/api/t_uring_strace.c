/* evring-test: backends=128 mode=self timeout=60 lanes=dynamic */
/* evring-only: syscalls of a blocking loop iteration with K interest changes (strace).
 * A worker (this program re-executed under `strace -f`) runs two phases of N iterations; before
 * each iteration it changes K=8 watchers (pipe read ends, never ready), and the iteration
 * blocks until a 5 ms timer. Between getppid() markers we count the syscalls (libev's epoll:
 * N epoll_wait + N*K epoll_ctl in each phase).
 * Phase 1, re-registrations (ev_io_stop + ev_io_set to the same fd and mask + ev_io_start, the
 * pgagroal pattern):
 *   epollwait strategy (the default): N io_uring_enter, no epoll_ctl, an epoll_wait only in
 *     iterations whose timer was already due (non-blocking: changes batched, then
 *     epoll_wait), and at most one io_uring_register per iteration: the synchronous cancel
 *     of a wait that the timer ended (every iteration here ends by the timer; with events
 *     the wait completes in the enter);
 *   EVRING_URING_MODE=epollctl: N io_uring_enter + N epoll_wait, no epoll_ctl, no register;
 *   EVRING_URING_MODE=poll: exactly N io_uring_enter, no epoll_ctl, no epoll_wait.
 * Phase 2, mask changes (READ <-> WRITE): such a change can fail in ways that must be handled
 * before the wait (see "Which batches share the enter with the wait" in
 * src/backend/uring.rs), so every epoll strategy makes N io_uring_enter (the batch) + N
 * epoll_wait, no epoll_ctl, no register; poll: exactly N io_uring_enter (and a synchronous
 * cancel per changed fd: io_uring_register).
 * The epollwait strategy needs IORING_OP_EPOLL_WAIT (Linux 6.15); on older kernels evring
 * runs the epollctl strategy, and so does this check. Skipped without strace, or when
 * io_uring is unavailable/forced off. */
#include "test.h"

#include <sys/utsname.h>
#include <sys/wait.h>

#define K 8
#define N 50

static void nop_timer(struct ev_loop *l, ev_timer *t, int revents)
{
  (void)l; (void)t; (void)revents;
}

static void nop_io(struct ev_loop *l, ev_io *w, int revents)
{
  (void)l; (void)w; (void)revents;
  CHECK(!"never ready");
}

/* A loop made without the process's spare ring (here: in a forked child) makes its ring only
 * once batching would have saved EVRING_URING_RING_AFTER system calls (k - 1 per batch of k
 * changes); until then its batches are plain epoll_ctl calls. With the knob at 20 and K = 8:
 * the first iteration (K starts: 7) and one churn iteration (14) stay on epoll_ctl, the next
 * one (21) makes the ring and batches through it, as does every later one. */
#define AFTER "20"
static int lazy_child(void)
{
  struct ev_loop *l;
  ev_io w[K];
  int i, it, p[K][2];
  setenv("EVRING_URING_RING_AFTER", AFTER, 1);
  l = ev_loop_new(EVBACKEND_IOURING);
  CHECK(l && ev_backend(l) == EVBACKEND_IOURING);
  for (i = 0; i < K; i++) {
    CHECK(pipe(p[i]) == 0);
    ev_io_init(&w[i], nop_io, p[i][0], EV_READ);
    ev_io_start(l, &w[i]);
  }
  getppid(); /* marker 4: no ring yet */
  for (it = 0; it < 5; it++) {
    if (it == 2) getppid(); /* marker 5: the ring is made in this iteration */
    if (it > 0)
      for (i = 0; i < K; i++) {
        ev_io_stop(l, &w[i]);
        ev_io_set(&w[i], p[i][0], (it & 1) ? EV_WRITE : EV_READ);
        ev_io_start(l, &w[i]);
      }
    ev_run(l, EVRUN_NOWAIT);
  }
  getppid(); /* marker 6 */
  CHECK(ev_backend(l) == EVBACKEND_IOURING);
  ev_loop_destroy(l);
  return 0;
}

static int worker(void)
{
  struct ev_loop *l = ev_default_loop(0);
  ev_io w[K];
  ev_timer t;
  int i, it, p[K][2];
  CHECK(l && ev_backend(l) == EVBACKEND_IOURING);
  for (i = 0; i < K; i++) {
    CHECK(pipe(p[i]) == 0);
    ev_io_init(&w[i], nop_io, p[i][0], EV_READ);
    ev_io_start(l, &w[i]);
  }
  ev_timer_init(&t, nop_timer, 0.005, 0.005); /* 5 ms: under strace an iteration takes ~1 ms */
  ev_timer_start(l, &t);
  for (it = 0; it < 3; it++) ev_run(l, EVRUN_ONCE); /* settle */
  getppid(); /* marker 1: phase 1, re-registrations */
  for (it = 0; it < N; it++) {
    for (i = 0; i < K; i++) {
      ev_io_stop(l, &w[i]);
      ev_io_set(&w[i], p[i][0], EV_READ);
      ev_io_start(l, &w[i]);
    }
    /* The timer 5 ms from now, not from the last wake-up: on a loaded machine the time
     * between two ev_run calls (K changes under strace) can exceed the period, and the
     * `waits <= N / 2` check below counts iterations whose timer was already due (failed
     * once in a run with other heavy processes). */
    ev_now_update(l);
    ev_timer_stop(l, &t);
    ev_timer_set(&t, 0.005, 0.005);
    ev_timer_start(l, &t);
    ev_run(l, EVRUN_ONCE);
  }
  getppid(); /* marker 2: phase 2, mask changes */
  for (it = 0; it < N; it++) {
    for (i = 0; i < K; i++) {
      ev_io_stop(l, &w[i]);
      ev_io_set(&w[i], p[i][0], (it & 1) ? EV_READ : EV_WRITE);
      ev_io_start(l, &w[i]);
    }
    ev_run(l, EVRUN_ONCE);
  }
  getppid(); /* marker 3 */
  {
    int st;
    pid_t c = fork();
    CHECK(c >= 0);
    if (c == 0) _exit(lazy_child());
    CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  return 0;
}

static int kernel_at_least(int maj, int min)
{
  struct utsname u;
  int a = 0, b = 0;
  if (uname(&u) != 0 || sscanf(u.release, "%d.%d", &a, &b) != 2) return 0;
  return a > maj || (a == maj && b >= min);
}

int main(int argc, char **argv)
{
  char out[] = "t_uring_strace.XXXXXX", line[512];
  const char *mode = getenv("EVRING_URING_MODE");
  int markers = 0, enters = 0, ctls = 0, waits = 0, regs = 0, expect_waits, epw;
  int m_enters = 0, m_ctls = 0, m_waits = 0, m_regs = 0;
  int lz_setup[2] = {0, 0}, lz_enter[2] = {0, 0}, lz_ctl[2] = {0, 0};
  FILE *f;
  struct ev_loop *l;

  if (argc > 1 && !strcmp(argv[1], "worker")) return worker();
  WATCHDOG(55);
  if (getenv("EVRING_URING_FAIL")) SKIP("io_uring forced off");
  l = test_default_loop();
  if (ev_backend(l) != EVBACKEND_IOURING) SKIP("io_uring not in use");
  test_strace_self("trace=io_uring_setup,io_uring_enter,io_uring_register,epoll_ctl,epoll_wait,"
                   "epoll_pwait,epoll_pwait2,getppid",
                   out, NULL, NULL);
  f = fopen(out, "r");
  CHECK(f != NULL);
  while (fgets(line, sizeof line, f)) {
    if (strstr(line, "getppid(")) { markers++; continue; }
    if (markers == 4 || markers == 5) {
      int ph = markers - 4;
      if (strstr(line, "io_uring_setup(")) lz_setup[ph]++;
      else if (strstr(line, "io_uring_enter(")) lz_enter[ph]++;
      else if (strstr(line, "epoll_ctl(")) lz_ctl[ph]++;
      continue;
    }
    if (markers == 2) {
      if (strstr(line, "io_uring_enter(")) m_enters++;
      else if (strstr(line, "io_uring_register(")) m_regs++;
      else if (strstr(line, "epoll_ctl(")) m_ctls++;
      else if (strstr(line, "epoll_wait(") || strstr(line, "epoll_pwait")) m_waits++;
      continue;
    }
    if (markers != 1) continue;
    if (strstr(line, "io_uring_enter(")) enters++;
    else if (strstr(line, "io_uring_register(")) regs++;
    else if (strstr(line, "epoll_ctl(")) ctls++;
    else if (strstr(line, "epoll_wait(") || strstr(line, "epoll_pwait")) waits++;
  }
  fclose(f);
  unlink(out);
  CHECK_EQ_INT(markers, 6);
  if (mode && !*mode) mode = NULL; /* empty = the default, as evring reads it */
  epw = (!mode || !strcmp(mode, "epollwait")) && kernel_at_least(6, 15);
  if (mode && !strcmp(mode, "poll")) expect_waits = 0;
  else if (epw) expect_waits = -1;
  else expect_waits = N;
  fprintf(stderr, "enters=%d register=%d epoll_ctl=%d epoll_wait=%d (N=%d K=%d)\n", enters, regs,
          ctls, waits, N, K);
  CHECK_EQ_INT(enters, N);
  CHECK_EQ_INT(ctls, 0);
  if (expect_waits >= 0) CHECK_EQ_INT(waits, expect_waits);
  else CHECK(waits <= N / 2); /* epollwait: only iterations whose timer was already due */
  if (epw) CHECK(regs + waits <= N); /* a cancel only where the wait ran in the ring */
  else if (!mode || strcmp(mode, "poll")) CHECK_EQ_INT(regs, 0);
  TRACE("%d blocking iterations with %d re-registrations each: one io_uring_enter each, no epoll_ctl",
        N, K);
  fprintf(stderr, "mask changes: enters=%d register=%d epoll_ctl=%d epoll_wait=%d\n", m_enters,
          m_regs, m_ctls, m_waits);
  CHECK_EQ_INT(m_enters, N);
  CHECK_EQ_INT(m_ctls, 0);
  /* poll strategy: the last ev_io_stop of an fd cancels its armed poll synchronously (a
   * register each); the epoll strategies never register here */
  if (!mode || strcmp(mode, "poll")) CHECK_EQ_INT(m_regs, 0);
  CHECK_EQ_INT(m_waits, (mode && !strcmp(mode, "poll")) ? 0 : N);
  TRACE("%d blocking iterations with %d mask changes each: one io_uring_enter for the batch", N, K);
  fprintf(stderr, "lazy ring: before: setup=%d enter=%d epoll_ctl=%d; after: setup=%d enter=%d "
          "epoll_ctl=%d\n", lz_setup[0], lz_enter[0], lz_ctl[0], lz_setup[1], lz_enter[1], lz_ctl[1]);
  if (epw) {
    /* the default strategy makes its ring late (the others make it with the loop) */
    CHECK_EQ_INT(lz_setup[0], 0);
    CHECK_EQ_INT(lz_enter[0], 0);
    CHECK_EQ_INT(lz_ctl[0], 2 * K);
    CHECK_EQ_INT(lz_setup[1], 1);
    CHECK_EQ_INT(lz_enter[1], 3);
    CHECK_EQ_INT(lz_ctl[1], 0);
    TRACE("a loop without the spare ring makes its ring once batching would have saved "
          AFTER " syscalls; epoll_ctl before, one enter per batch after");
  }
  return 0;
}
