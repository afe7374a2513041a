/* evring-test: timeout=30 backends=first */
/* An allocator (ev_set_allocator) that fails for good: libev prints "(libev) cannot allocate N
 * bytes, aborting." on stderr and aborts (libev-abi.md §4.20). evring built that message with
 * an allocation, which went through the failing allocator again: it recursed until the stack
 * overflowed and died of SIGSEGV without a word (differential hunt, session 7).
 * N differs (the libraries allocate differently), so only the message's shape is compared.
 * Each case runs in a forked child; the parent reads the child's stderr through a pipe. */
#include "test.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

static long budget; /* successful allocations left; < 0: unlimited */

static void *failing_alloc(void *ptr, long size)
{
  if (size == 0) {
    free(ptr);
    return NULL;
  }
  if (budget == 0)
    return NULL;
  if (budget > 0)
    budget--;
  return realloc(ptr, (size_t)size);
}

static void cb(EV_P_ ev_timer *w, int revents)
{
  (void)loop;
  (void)w;
  (void)revents;
}

static void run_case(long successes)
{
  int p[2];
  CHECK(pipe(p) == 0);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    alarm(5);
    dup2(p[1], 2);
    close(p[0]);
    budget = successes;
    ev_set_allocator(failing_alloc);
    /* Enough work to need memory whatever the library allocates up front. */
    for (int i = 0; i < 100; i++) {
      struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
      if (!loop)
        _exit(3);
      ev_timer t[64];
      for (int k = 0; k < 64; k++) {
        ev_timer_init(&t[k], cb, 1. + k, 0.);
        ev_timer_start(loop, &t[k]);
      }
      ev_loop_destroy(loop);
    }
    _exit(0);
  }
  close(p[1]);
  char buf[512];
  size_t len = 0;
  ssize_t r;
  while (len < sizeof buf - 1 && (r = read(p[0], buf + len, sizeof buf - 1 - len)) > 0)
    len += (size_t)r;
  buf[len] = '\0';
  close(p[0]);
  int st;
  CHECK(waitpid(pid, &st, 0) == pid);
  static const char head[] = "(libev) cannot allocate ", tail[] = " bytes, aborting.";
  const char *m = strstr(buf, head);
  int shape = 0;
  if (m) {
    const char *d = m + strlen(head);
    const char *e = d;
    while (*e >= '0' && *e <= '9')
      e++;
    shape = e > d && strncmp(e, tail, strlen(tail)) == 0;
  }
  TRACE("  message %s", shape ? "(libev) cannot allocate <N> bytes, aborting." : "missing");
  if (WIFEXITED(st))
    TRACE("  child exit %d", WEXITSTATUS(st));
  else
    TRACE("  child killed by %s", WTERMSIG(st) == SIGABRT ? "SIGABRT" : "another signal");
}

int main(void)
{
  WATCHDOG(20);
  TRACE("allocator fails from the first call");
  run_case(0);
  TRACE("allocator fails after 3 successes");
  run_case(3);
  TRACE("allocator fails after 40 successes");
  run_case(40);
  return 0;
}
