/* evring-test: mode=diff backends=all timeout=30 variants=plain,signalfd */
/* ev_pending_count inside callbacks of watchers that the loop's wakeup object woke: an
 * ev_async sent from another thread, an ev_signal, an ev_child (both raised by the loop to
 * EV_MAXPRI, the wakeup watcher's priority). evring watches each of its own kernel objects
 * through two fd numbers (so that the application closing one loses nothing); when both
 * were reported ready, the second internal watcher's pending slot used to stay in the
 * count: one too many in every such callback (found by a differential hunt). Variant
 * `signalfd`: the loop made with EVFLAG_SIGNALFD. */
#include "test.h"

#include <sys/wait.h>

static struct ev_loop *L;
static ev_async as;
static ev_signal sg;
static ev_child ch;

static void async_cb(struct ev_loop *l, ev_async *w, int revents)
{
  TRACE("async cb revents=0x%x: ev_pending_count=%u", revents, ev_pending_count(l));
  ev_async_stop(l, w);
}

static void signal_cb(struct ev_loop *l, ev_signal *w, int revents)
{
  TRACE("signal cb revents=0x%x: ev_pending_count=%u", revents, ev_pending_count(l));
  ev_signal_stop(l, w);
}

static void child_cb(struct ev_loop *l, ev_child *w, int revents)
{
  TRACE("child cb revents=0x%x status=%d: ev_pending_count=%u", revents, WEXITSTATUS(w->rstatus),
        ev_pending_count(l));
  ev_child_stop(l, w);
}

static void *sender(void *x)
{
  (void)x;
  usleep(50000);
  ev_async_send(L, &as);
  usleep(50000);
  CHECK(kill(getpid(), SIGUSR1) == 0);
  return NULL;
}

int main(int argc, char **argv)
{
  pthread_t t;
  pid_t p;
  WATCHDOG(20);
  L = ev_default_loop(argc > 1 && !strcmp(argv[1], "signalfd") ? EVFLAG_SIGNALFD : 0);
  CHECK(L != NULL);
  ev_async_init(&as, async_cb);
  ev_set_priority(&as, EV_MAXPRI);
  ev_async_start(L, &as);
  ev_signal_init(&sg, signal_cb, SIGUSR1);
  ev_set_priority(&sg, EV_MAXPRI);
  ev_signal_start(L, &sg);
  CHECK(pthread_create(&t, NULL, sender, NULL) == 0);
  ev_run(L, 0);
  CHECK(pthread_join(t, NULL) == 0);
  p = fork();
  CHECK(p >= 0);
  if (p == 0) {
    usleep(50000);
    _exit(3);
  }
  ev_child_init(&ch, child_cb, p, 0);
  ev_child_start(L, &ch);
  ev_run(L, 0);
  TRACE("after: ev_pending_count=%u", ev_pending_count(L));
  return 0;
}
