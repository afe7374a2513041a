/* evring-test: timeout=30 mode=self */
/* A watcher whose fd, signal number or pid was changed while it was active (ev_io_set on an
 * active watcher, or a direct field write): libev's ev_TYPE_stop silently leaves it linked on
 * the old list, and once the application frees the watcher the loop reads freed memory
 * (differential hunt, session 7: valgrind showed the invalid read in evring too before the
 * abort that came later). evring now aborts at the stop with a message naming the misuse:
 * "not on its fd's list" when the new fd has watchers of its own, "illegal fd" when the
 * loop's fd table has no entry for it (evring's table has a gap below the loop's own high
 * numbers; before, the table always reached them, so every small fd had an entry).
 * Each case runs in a forked child; the parent reads its stderr. */
#include "test.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

static void io_cb(EV_P_ ev_io *w, int revents) { (void)loop; (void)w; (void)revents; }
static void sig_cb(EV_P_ ev_signal *w, int revents) { (void)loop; (void)w; (void)revents; }

static void misuse(int which)
{
  struct ev_loop *loop = test_default_loop();
  int p[2], q[2];
  CHECK(pipe(p) == 0 && pipe(q) == 0);
  if (which == 0 || which == 2) {
    ev_io w, other;
    ev_io_init(&w, io_cb, p[0], EV_READ);
    ev_io_start(loop, &w);
    if (which == 0) {
      /* The new fd has an entry in the loop's table (another watcher), just not this one. */
      ev_io_init(&other, io_cb, q[0], EV_READ);
      ev_io_start(loop, &other);
    }
    ev_run(loop, EVRUN_NOWAIT);
    /* misuse: the watcher is active (case 2: a number the table has never seen) */
    ev_io_set(&w, which == 0 ? q[0] : q[1] + 100, EV_READ);
    ev_io_stop(loop, &w);
  } else {
    ev_signal s;
    ev_signal_init(&s, sig_cb, SIGUSR1);
    ev_signal_start(loop, &s);
    s.signum = SIGUSR2; /* misuse: the watcher is active */
    ev_signal_stop(loop, &s);
  }
}

int main(void)
{
  WATCHDOG(20);
  static const char *const expect[] = {"not on its fd's list", "not on its signal's list",
                                        "illegal fd"};
  for (int i = 0; i < 3; i++) {
    int e[2];
    CHECK(pipe(e) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
      struct rlimit no_core = {0, 0};
      setrlimit(RLIMIT_CORE, &no_core);
      dup2(e[1], 2);
      misuse(i);
      _exit(0);
    }
    close(e[1]);
    char buf[512];
    size_t len = 0;
    ssize_t r;
    while (len < sizeof buf - 1 && (r = read(e[0], buf + len, sizeof buf - 1 - len)) > 0)
      len += (size_t)r;
    buf[len] = '\0';
    close(e[0]);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    TRACE("case %d: %s, message: %s", i, WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT ? "aborted" : "not aborted", buf);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    CHECK(strstr(buf, expect[i]) != NULL);
  }
  return 0;
}
