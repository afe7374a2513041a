/* evring C test harness: shared by every behavioural test in c-tests/.
 *
 * Conventions (see c-tests/README.md):
 *  - A test prints a deterministic trace on stdout with TRACE(). The same binary is run against
 *    Debian's libev.so.4 (the oracle) and against evring's; the two stdouts must be identical.
 *    Never print times, pids, addresses or fd numbers that may differ between libraries.
 *  - Diagnostics go to stderr (not compared).
 *  - CHECK*() failures print the expression and values on stderr and exit 1.
 *  - Exit 77 means "skipped" (ctest SKIP_RETURN_CODE): e.g. the backend chosen through
 *    LIBEV_FLAGS is not available in the library under test.
 *  - Every test arms a watchdog (WATCHDOG) so a hang becomes a failure, not a stuck CI.
 */
#ifndef EVRING_TEST_H
#define EVRING_TEST_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <errno.h>
#include <time.h>
#include <pthread.h>
#include <dirent.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <ev.h>

#define TEST_SKIP_CODE 77

#define TRACE(...) do { printf(__VA_ARGS__); putchar('\n'); fflush(stdout); } while (0)

#define CHECK(cond) do { if (!(cond)) { \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    fflush(stdout); exit(1); } } while (0)

#define CHECK_EQ_INT(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
    if (a_ != b_) { fprintf(stderr, "%s:%d: CHECK_EQ_INT failed: %s == %s (%lld != %lld)\n", \
        __FILE__, __LINE__, #a, #b, a_, b_); fflush(stdout); exit(1); } } while (0)

#define SKIP(...) do { fprintf(stderr, "SKIP: "); fprintf(stderr, __VA_ARGS__); \
    fputc('\n', stderr); exit(TEST_SKIP_CODE); } while (0)

static void test_watchdog_fired_(int sig)
{
  static const char msg[] = "WATCHDOG: test took too long, aborting\n";
  (void)sig;
  if (write(2, msg, sizeof msg - 1) < 0) { /* nothing more we can do */ }
  _exit(124);
}

/* Arm a process watchdog: SIGALRM after `seconds` kills the test with exit 124. Tests that
 * use SIGALRM themselves call WATCHDOG_KILL instead. */
static inline void WATCHDOG(unsigned seconds)
{
  signal(SIGALRM, test_watchdog_fired_);
  alarm(seconds);
}

/* Watchdog that uses no signal: a detached thread (created with every signal blocked, so it
 * never steals process-directed signals from the loop under test) sleeps `seconds` and then
 * ends the process with exit 124. It does not fork, so it never shows up in waitpid(-1) or
 * ev_child. A fork()ed child does not inherit it (threads do not survive fork): a child must
 * exit by itself, or arm its own watchdog. Needs -pthread (the CMake project passes it). */
static void *test_watchdog_thread_(void *arg)
{
  struct timespec ts;
  ts.tv_sec = (time_t)(unsigned long)arg;
  ts.tv_nsec = 0;
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) { /* keep sleeping */ }
  test_watchdog_fired_(0);
  return NULL;
}

static inline void WATCHDOG_KILL(unsigned seconds)
{
  pthread_t tid;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  if (pthread_create(&tid, NULL, test_watchdog_thread_, (void *)(unsigned long)seconds) != 0) {
    fprintf(stderr, "WATCHDOG_KILL: pthread_create failed\n");
    exit(1);
  }
  pthread_detach(tid);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Timing checks: assert lower bounds strictly and upper bounds loosely, never print times. */
#define CHECK_DBL_GE(a, b) do { double a_ = (double)(a), b_ = (double)(b); \
    if (!(a_ >= b_)) { fprintf(stderr, "%s:%d: CHECK_DBL_GE failed: %s >= %s (%.6f < %.6f)\n", \
        __FILE__, __LINE__, #a, #b, a_, b_); fflush(stdout); exit(1); } } while (0)

#define CHECK_DBL_LE(a, b) do { double a_ = (double)(a), b_ = (double)(b); \
    if (!(a_ <= b_)) { fprintf(stderr, "%s:%d: CHECK_DBL_LE failed: %s <= %s (%.6f > %.6f)\n", \
        __FILE__, __LINE__, #a, #b, a_, b_); fflush(stdout); exit(1); } } while (0)

/* The default loop with the flags taken from LIBEV_FLAGS (as libev does); skip when the
 * requested backend is unavailable in the library under test. */
static inline struct ev_loop *test_default_loop(void)
{
  struct ev_loop *loop = ev_default_loop(0);
  if (!loop) SKIP("ev_default_loop returned NULL (backend from LIBEV_FLAGS=%s unavailable)",
                  getenv("LIBEV_FLAGS") ? getenv("LIBEV_FLAGS") : "(unset)");
  return loop;
}

static inline struct ev_loop *test_new_loop(unsigned flags)
{
  struct ev_loop *loop = ev_loop_new(flags);
  if (!loop) SKIP("ev_loop_new(0x%x) returned NULL", flags);
  return loop;
}

/* An append-only string for recording what happened in which order (e.g. "CBA"), printed later
 * with TRACE. Overflow is a test bug and fails the test. */
typedef struct { char buf[8192]; size_t len; } test_log;

static inline void test_log_reset(test_log *l) { l->len = 0; l->buf[0] = '\0'; }

__attribute__((format(printf, 2, 3)))
static inline void test_log_add(test_log *l, const char *fmt, ...)
{
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(l->buf + l->len, sizeof l->buf - l->len, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof l->buf - l->len) {
    fprintf(stderr, "test_log overflow\n");
    exit(1);
  }
  l->len += (size_t)n;
}

/* ---- helpers of the step-wise tests (one bounded iteration at a time, an event log) ---------- */

/* Set by test_guard_cb; test_step clears it. (A function-local static, so that tests that do not
 * use it get no unused-variable warning.) */
static inline int *test_guard_fired_ptr_(void)
{
  static int fired;
  return &fired;
}
#define test_guard_fired (*test_guard_fired_ptr_())

/* Callback of a guard timer: records that the guard fired (EVRUN_ONCE then returns). */
static inline void test_guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
  (void)loop; (void)w; (void)revents;
  test_guard_fired = 1;
}

/* One iteration (EVRUN_ONCE) that blocks at most `secs`: a guard timer bounds the wait. */
static inline void test_step(struct ev_loop *loop, double secs)
{
  ev_timer g;
  ev_timer_init(&g, test_guard_cb, secs, 0.);
  test_guard_fired = 0;
  ev_timer_start(loop, &g);
  ev_run(loop, EVRUN_ONCE);
  ev_timer_stop(loop, &g);
}

/* Sleep `ms` milliseconds, resuming after signals. */
static inline void test_sleep_ms(int ms)
{
  struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) { }
}

/* A word log of the events of one step, printed as "  label: word word" (" (none)" if empty).
 * Overflow is a test bug and fails the test. */
static inline char *test_evlog_buf_(void)
{
  static char buf[1024];
  return buf;
}

static inline void test_evlog_add(const char *s)
{
  char *buf = test_evlog_buf_();
  size_t len = strlen(buf);
  CHECK(len + strlen(s) + 2 < 1024);
  buf[len] = ' ';
  strcpy(buf + len + 1, s);
}

/* The logged words (each preceded by a blank), or " (none)"; test_evlog_clear empties it. */
static inline const char *test_evlog_text(void)
{
  return test_evlog_buf_()[0] ? test_evlog_buf_() : " (none)";
}

static inline void test_evlog_clear(void)
{
  test_evlog_buf_()[0] = 0;
}

static inline void test_evlog_print(const char *label)
{
  TRACE("  %s:%s", label, test_evlog_text());
  test_evlog_clear();
}

/* ---- the process's open fds and fd reads ---------------------------------------------------- */

/* Callback of test_each_fd: `target` is the fd's /proc link ("pipe:[123]",
 * "anon_inode:[eventfd]", a path...); a nonzero return stops the walk. */
typedef int (*test_fd_fn)(int fd, const char *target, void *arg);

/* Call `fn` for every open fd of the process, in /proc/self/fd order. The fd of the directory
 * stream itself is left out (it exists only during the walk, and its number may be reused by
 * the next fd the process opens), as are fds whose link cannot be read (closed meanwhile). */
static inline void test_each_fd(test_fd_fn fn, void *arg)
{
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  CHECK(d != NULL);
  while ((e = readdir(d)) != NULL) {
    char path[64], target[4096];
    ssize_t len;
    int fd = atoi(e->d_name);
    if (e->d_name[0] == '.' || fd == dirfd(d)) continue;
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    len = readlink(path, target, sizeof target - 1);
    if (len <= 0) continue;
    target[len] = '\0';
    if (fn(fd, target, arg)) break;
  }
  closedir(d);
}

static inline int test_count_fd_(int fd, const char *target, void *n)
{
  (void)fd; (void)target;
  ++*(int *)n;
  return 0;
}

/* How many fds the process has open (test_each_fd's rules): for fd-leak checks. */
static inline int test_count_fds(void)
{
  int n = 0;
  test_each_fd(test_count_fd_, &n);
  return n;
}

struct test_find_fd_arg_ { const char *target; int fd; };

static inline int test_find_fd_(int fd, const char *target, void *arg)
{
  struct test_find_fd_arg_ *a = (struct test_find_fd_arg_ *)arg;
  if (strcmp(target, a->target) != 0) return 0;
  a->fd = fd;
  return 1;
}

/* The first open fd whose /proc link is `target` (e.g. "anon_inode:[eventpoll]"), or -1. */
static inline int test_find_fd(const char *target)
{
  struct test_find_fd_arg_ a;
  a.target = target;
  a.fd = -1;
  test_each_fd(test_find_fd_, &a);
  return a.fd;
}

/* Read one byte from `fd` into *c if one is waiting (FIONREAD), without blocking on an empty
 * fd: returns 1 after a read, 0 if nothing was readable (a spurious readiness event in an io
 * callback). */
static inline int test_read1(int fd, char *c)
{
  int avail = 0;
  CHECK(ioctl(fd, FIONREAD, &avail) == 0);
  if (avail <= 0) return 0;
  CHECK(read(fd, c, 1) == 1);
  return 1;
}

/* Run this program again, as `<self> worker [arg1 [arg2]]`, under `strace -f -qq -e <trace>`
 * writing to `out` (a mkstemp template, filled in here; the caller reads and unlinks it).
 * Skips when strace is missing or may not trace here (no ptrace in a container, yama); fails
 * unless the worker exits with 0. For tests that count system calls between markers. */
static inline void test_strace_self(const char *trace, char *out, const char *arg1,
                                    const char *arg2)
{
  char self[4096];
  ssize_t n;
  int fd, st;
  pid_t pid;
  if (system("strace -V >/dev/null 2>&1") != 0) SKIP("strace not available");
  if (system("strace -f -qq -o /dev/null -e trace=none true >/dev/null 2>&1") != 0)
    SKIP("strace cannot trace here");
  n = readlink("/proc/self/exe", self, sizeof self - 1);
  CHECK(n > 0);
  self[n] = 0;
  fd = mkstemp(out);
  CHECK(fd >= 0);
  close(fd);
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    execlp("strace", "strace", "-f", "-qq", "-o", out, "-e", trace, self, "worker", arg1, arg2,
           (char *)NULL);
    _exit(127);
  }
  CHECK(waitpid(pid, &st, 0) == pid);
  if (WIFEXITED(st) && WEXITSTATUS(st) == 127) SKIP("cannot run strace");
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

#endif
