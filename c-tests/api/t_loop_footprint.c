/* evring-test: timeout=30 */
/* Memory of a new loop in a process that already runs one (pgagroal's worker: the default
 * loop exists, the worker makes its own with a signal watcher and a socket watcher). Counted
 * through ev_set_allocator: the peak of live bytes from ev_loop_new to ev_loop_destroy must
 * stay under 6 KiB. libev needs ~2.2 KiB. evring's loops keep their own fds at protected
 * high numbers (~512), and its fd table used to reach them in every loop: 8 KiB of table
 * filled plus 2 KiB of change list, each page of it a page fault in a freshly forked worker
 * (the table has two dense parts since). Deterministic; no timing. */
#include "test.h"

#include <signal.h>

#define SLOTS 4096
static struct { void *p; long n; } slot[SLOTS];
static long live, peak;
static int counting;

static long *size_of(void *p)
{
  for (int i = 0; i < SLOTS; i++)
    if (slot[i].p == p) return &slot[i].n;
  return NULL;
}

static void *counting_alloc(void *p, long n)
{
  long old = 0;
  if (p) {
    long *s = size_of(p);
    CHECK(s != NULL);
    old = *s;
  }
  void *q = n ? realloc(p, (size_t)n) : (free(p), (void *)NULL);
  if (n && !q) return NULL;
  if (p) {
    long *s = size_of(p);
    *s = 0;
    for (int i = 0; i < SLOTS; i++)
      if (slot[i].p == p) { slot[i].p = NULL; break; }
  }
  if (q) {
    int i = 0;
    while (i < SLOTS && slot[i].p) i++;
    CHECK(i < SLOTS);
    slot[i].p = q;
    slot[i].n = n;
  }
  live += n - old;
  if (counting && live > peak) peak = live;
  return q;
}

static void sig_cb(EV_P_ ev_signal *w, int revents) { (void)loop; (void)w; (void)revents; }
static void io_cb(EV_P_ ev_io *w, int revents) { (void)loop; (void)w; (void)revents; }

int main(void)
{
  WATCHDOG(20);
  ev_set_allocator(counting_alloc);
  struct ev_loop *def = test_default_loop();
  ev_signal usr1;
  ev_signal_init(&usr1, sig_cb, SIGUSR1);
  ev_signal_start(def, &usr1);
  ev_run(def, EVRUN_NOWAIT);

  int p[2];
  CHECK(pipe(p) == 0);
  long base = live;
  peak = live;
  counting = 1;
  struct ev_loop *loop = test_new_loop(ev_backend(def));
  ev_signal quit;
  ev_signal_init(&quit, sig_cb, SIGQUIT);
  ev_signal_start(loop, &quit);
  ev_io io;
  ev_io_init(&io, io_cb, p[0], EV_READ);
  ev_io_start(loop, &io);
  ev_run(loop, EVRUN_NOWAIT);
  ev_io_stop(loop, &io);
  ev_signal_stop(loop, &quit);
  ev_loop_destroy(loop);
  counting = 0;
  long grew = peak - base;
  fprintf(stderr, "peak live bytes of the new loop: %ld\n", grew);
  TRACE("new loop with a signal and an io watcher: under 6 KiB: %s", grew < 6 * 1024 ? "yes" : "no");
  CHECK(grew < 6 * 1024);
  CHECK(grew > 0);
  TRACE("all freed at destroy: %s", live == base ? "yes" : "no");
  ev_signal_stop(def, &usr1);
  return 0;
}
