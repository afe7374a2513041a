/* evring-test: backends=128 mode=self timeout=60 lanes=dynamic,static,asan */
/* evring-only: io_uring set-up failures fall back to epoll silently.
 *
 * The private knob EVRING_URING_FAIL=enosys|eperm|enomem|einval|old makes evring's ring set-up
 * fail as on a kernel without io_uring (ENOSYS), under seccomp or kernel.io_uring_disabled
 * (EPERM), with RLIMIT_MEMLOCK accounting (ENOMEM), with no usable setup flags (EINVAL at
 * every rung of the flag ladder) or on a kernel older than 5.11 (no EXT_ARG). For each, a
 * fresh process (the probe is cached per process) must:
 *  - not list 0x80 in ev_supported_backends()/ev_recommended_backends();
 *  - run ev_default_loop(0) with LIBEV_FLAGS=128 on epoll (ev_backend()==4), and
 *    ev_loop_new(EVBACKEND_IOURING|EVFLAG_NOENV) too, and deliver io and timer events.
 * Without the knob (and when the kernel allows io_uring), the same child reports 0x80.
 * LIBEV_FLAGS=4 always gives epoll. */
#include "test.h"

#include <sys/wait.h>

static int got_io, got_timer;

static void io_cb(struct ev_loop *l, ev_io *w, int revents)
{
  char c;
  (void)revents;
  CHECK(read(w->fd, &c, 1) == 1);
  got_io++;
  ev_io_stop(l, w);
}

static void timer_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)l; (void)w; (void)revents;
  got_timer++;
}

static void exercise(struct ev_loop *l)
{
  int p[2];
  ev_io io;
  ev_timer t;
  CHECK(pipe(p) == 0);
  ev_io_init(&io, io_cb, p[0], EV_READ);
  ev_io_start(l, &io);
  ev_timer_init(&t, timer_cb, 0.01, 0.);
  ev_timer_start(l, &t);
  CHECK(write(p[1], "x", 1) == 1);
  got_io = got_timer = 0;
  ev_run(l, 0);
  CHECK_EQ_INT(got_io, 1);
  CHECK_EQ_INT(got_timer, 1);
  close(p[0]);
  close(p[1]);
}

static int child(void)
{
  struct ev_loop *d = ev_default_loop(0), *n;
  CHECK(d != NULL);
  exercise(d);
  n = ev_loop_new(EVBACKEND_IOURING | EVFLAG_NOENV);
  CHECK(n != NULL);
  exercise(n);
  printf("%u %u %u %u\n", ev_backend(d), ev_backend(n), ev_supported_backends() & 0x80u,
         ev_recommended_backends() & 0x80u);
  ev_loop_destroy(n);
  return 0;
}

/* Run ourselves with the given environment; parse the child's line. */
static void run_child(const char *self, const char *fail, const char *flags, unsigned out[4])
{
  int p[2], st;
  pid_t pid;
  char buf[128];
  ssize_t n, len = 0;
  CHECK(pipe(p) == 0);
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    dup2(p[1], 1);
    close(p[0]);
    close(p[1]);
    if (fail) setenv("EVRING_URING_FAIL", fail, 1); else unsetenv("EVRING_URING_FAIL");
    setenv("LIBEV_FLAGS", flags, 1);
    execl(self, self, "child", (char *)NULL);
    _exit(127);
  }
  close(p[1]);
  while ((n = read(p[0], buf + len, sizeof buf - 1 - len)) > 0) len += n;
  buf[len] = 0;
  close(p[0]);
  CHECK(waitpid(pid, &st, 0) == pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK(sscanf(buf, "%u %u %u %u", &out[0], &out[1], &out[2], &out[3]) == 4);
}

int main(int argc, char **argv)
{
  static const char *fails[] = { "enosys", "eperm", "enomem", "einval", "old" };
  char self[4096];
  ssize_t n;
  unsigned r[4];
  size_t i;

  if (argc > 1 && !strcmp(argv[1], "child")) return child();
  WATCHDOG(50);
  n = readlink("/proc/self/exe", self, sizeof self - 1);
  CHECK(n > 0);
  self[n] = 0;

  for (i = 0; i < sizeof fails / sizeof fails[0]; i++) {
    run_child(self, fails[i], "128", r);
    CHECK_EQ_INT(r[0], EVBACKEND_EPOLL);
    CHECK_EQ_INT(r[1], EVBACKEND_EPOLL);
    CHECK_EQ_INT(r[2], 0);
    CHECK_EQ_INT(r[3], 0);
    TRACE("EVRING_URING_FAIL=%s: epoll, io_uring not supported", fails[i]);
  }
  run_child(self, NULL, "4", r);
  CHECK_EQ_INT(r[0], EVBACKEND_EPOLL);
  TRACE("LIBEV_FLAGS=4: epoll");
  if (!getenv("EVRING_URING_FAIL")) {
    run_child(self, NULL, "128", r);
    if (r[2] == 0) SKIP("io_uring not usable on this kernel");
    CHECK_EQ_INT(r[0], EVBACKEND_IOURING);
    CHECK_EQ_INT(r[1], EVBACKEND_IOURING);
    CHECK_EQ_INT(r[3], EVBACKEND_IOURING);
    run_child(self, NULL, "0", r);
    CHECK_EQ_INT(r[0], EVBACKEND_IOURING); /* EVFLAG_AUTO picks it */
    TRACE("no knob: io_uring, also for EVFLAG_AUTO");
  }
  return 0;
}
