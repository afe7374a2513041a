/* common.h -- shared helpers for the evring/libev side-by-side benchmarks.
 * Every program uses only the native libev 4 API (ev.h), is compiled once against the system
 * ev.h and linked with -lev, and is run against either library through LD_LIBRARY_PATH.
 * Output: comment lines start with '#'; results are lines
 *   R bench=<name> <param>=<v> ... metric=<name> value=<number>
 * Callgrind: every measured phase is wrapped in CALLGRIND_ZERO_STATS / CALLGRIND_DUMP_STATS_AT
 * (no-ops outside valgrind), so a callgrind dump holds only that phase's instructions. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H
#define _GNU_SOURCE
#include <ev.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <valgrind/callgrind.h>

static inline double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* which libev is really loaded (path of the object that defines ev_run) */
static void print_header(const char *bench, struct ev_loop *loop)
{
  Dl_info di;
  char path[PATH_MAX] = "?";
  void *sym = dlsym(RTLD_DEFAULT, "ev_run");
  if (sym && dladdr(sym, &di) && di.dli_fname) {
    if (!realpath(di.dli_fname, path))
      snprintf(path, sizeof path, "%s", di.dli_fname);
  }
  printf("# bench=%s lib=%s version=%d.%d supported=0x%x recommended=0x%x backend=0x%x\n", bench,
         path, ev_version_major(), ev_version_minor(), ev_supported_backends(),
         ev_recommended_backends(), loop ? ev_backend(loop) : 0);
}

static __attribute__((unused)) void raise_nofile(rlim_t want)
{
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
    rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
      perror("setrlimit");
  }
}

static __attribute__((unused)) int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static __attribute__((unused)) double median(double *v, int n)
{
  qsort(v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static __attribute__((unused)) long vm_hwm_kib(void)
{
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  if (!f)
    return -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmHWM: %ld kB", &v) == 1)
      break;
  fclose(f);
  return v;
}

static __attribute__((unused)) long vm_rss_kib(void)
{
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  if (!f)
    return -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld kB", &v) == 1)
      break;
  fclose(f);
  return v;
}

#define CG_BEGIN() CALLGRIND_ZERO_STATS
#define CG_END(name) CALLGRIND_DUMP_STATS_AT(name)

#endif
