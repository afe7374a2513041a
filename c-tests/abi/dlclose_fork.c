/* SPDX-License-Identifier: BSD-2-Clause
 *
 * dlclose_fork.c -- a libev that was dlopen()ed, used and dlclose()d must not leave a fork
 * handler behind that points into unmapped code.
 *
 * evring registers a pthread_atfork child handler (fork detection without getpid()) the
 * first time a loop is created. With glibc, pthread_atfork() called from a shared object
 * records the object's __dso_handle, and dlclose() unregisters the handler (through
 * __cxa_finalize); if that did not happen, the fork() below would call into unmapped memory
 * and the child (or the parent) would die with SIGSEGV.
 *
 * Usage: dlclose_fork LIBRARY   (exit 0 = ok; prints one "ok" line per check)
 * Plugin-style use: no link-time dependency on libev, everything through dlsym().
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define FAIL(...) do { printf("FAIL: "); printf(__VA_ARGS__); putchar('\n'); exit(1); } while (0)

typedef void *(*loop_new_fn)(unsigned int);
typedef int (*run_fn)(void *, int);
typedef void (*loop_destroy_fn)(void *);
typedef unsigned int (*backend_fn)(void *);

int main(int argc, char **argv)
{
  void *h, *loop;
  loop_new_fn loop_new;
  run_fn run;
  loop_destroy_fn destroy;
  backend_fn backend;
  pid_t pid;
  int status, round;

  if (argc != 2) FAIL("usage: %s LIBRARY", argv[0]);
  alarm(30); /* watchdog */
  /* Twice: the second dlopen maps the library again (maybe at another address) and registers
   * its handler again; both forks must be clean. */
  for (round = 1; round <= 2; round++) {
    h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) FAIL("dlopen: %s", dlerror());
    /* POSIX allows object-to-function pointer conversion through dlsym; -pedantic does not. */
    *(void **)&loop_new = dlsym(h, "ev_loop_new");
    *(void **)&run = dlsym(h, "ev_run");
    *(void **)&destroy = dlsym(h, "ev_loop_destroy");
    *(void **)&backend = dlsym(h, "ev_backend");
    if (!loop_new || !run || !destroy || !backend) FAIL("dlsym: %s", dlerror());
    loop = loop_new(0);
    if (!loop) FAIL("ev_loop_new returned NULL");
    printf("ok round %d: loop created (backend 0x%x)\n", round, backend(loop));
    run(loop, 1 /* EVRUN_NOWAIT */);
    destroy(loop);
    if (dlclose(h) != 0) FAIL("dlclose: %s", dlerror());
    /* Report (stderr, informational) whether the object really went away: a library marked
     * NODELETE stays mapped, and then its handler stays valid anyway. */
    h = dlopen(argv[1], RTLD_NOW | RTLD_NOLOAD);
    fprintf(stderr, "round %d: library %s after dlclose\n", round, h ? "still mapped" : "unmapped");
    if (h) dlclose(h);
    fflush(stdout);
    pid = fork();
    if (pid < 0) FAIL("fork");
    if (pid == 0) _exit(42);
    if (waitpid(pid, &status, 0) != pid) FAIL("waitpid");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 42)
      FAIL("round %d: forked child died (status 0x%x): a fork handler outlived dlclose", round, status);
    printf("ok round %d: fork after dlclose\n", round);
  }
  return 0;
}
