/* evring-test: mode=self backends=all timeout=30 */
/* evring-only (tracker issue 7 §1): a forked child that runs an inherited loop WITHOUT calling
 * ev_loop_fork still gets its ev_async_send and its signals, and never writes into its
 * parent's wakeup object: evring's writers refuse objects made in another process, and the
 * child's loop makes its own before it first waits. With EVFLAG_SIGNALFD, a signal watcher
 * started in such a child leaves the parent's signalfd mask alone (the signalfd is shared
 * across fork: libev would add the child's signal to the parent's mask).
 *
 * libev's manual requires ev_loop_fork here; without it libev's child and parent share the
 * wakeup fd (and on epoll the interest set), so the parent can steal the child's wake-ups.
 * This is a robustness check of evring, not a differential test. */
#include "test.h"
#include <sys/wait.h>

static struct ev_loop *loop;
static ev_async async_w;
static ev_signal sig_w;
static ev_timer guard_w;
static int got_async, got_sig, guard_fired;

static void async_cb(struct ev_loop *l, ev_async *w, int revents)
{
  (void)w; (void)revents;
  got_async++;
  if (got_sig) ev_break(l, EVBREAK_ALL);
}

static void sig_cb(struct ev_loop *l, ev_signal *w, int revents)
{
  (void)w; (void)revents;
  got_sig++;
  if (got_async) ev_break(l, EVBREAK_ALL);
}

static void guard_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)w; (void)revents;
  guard_fired = 1;
  ev_break(l, EVBREAK_ALL);
}

static void *sender(void *arg)
{
  (void)arg;
  usleep(50 * 1000);   /* the loop sleeps in the backend by now */
  ev_async_send(loop, &async_w);
  kill(getpid(), SIGUSR1);
  return NULL;
}

/* run until async and signal arrived (or the guard fired) with both sent from a thread */
static void round_trip(void)
{
  pthread_t th;
  got_async = got_sig = guard_fired = 0;
  ev_timer_set(&guard_w, 3., 0.);
  ev_timer_start(loop, &guard_w);
  CHECK(pthread_create(&th, NULL, sender, NULL) == 0);
  ev_run(loop, 0);
  pthread_join(th, NULL);
  ev_timer_stop(loop, &guard_w);
}

struct masks { char *out; size_t len; };

static int add_signalfd_mask(int fd, const char *target, void *arg)
{
  struct masks *m = arg;
  char path[64], line[256];
  FILE *f;
  if (strcmp(target, "anon_inode:[signalfd]") != 0) return 0;
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
  f = fopen(path, "r");
  CHECK(f != NULL);
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "sigmask:", 8) == 0) {
      CHECK(strlen(m->out) + strlen(line) < m->len);
      strcat(m->out, line);
    }
  fclose(f);
  return 0;
}

/* the "sigmask:" lines of every signalfd of this process, concatenated */
static void signalfd_masks(char *out, size_t len)
{
  struct masks m = { out, len };
  out[0] = 0;
  test_each_fd(add_signalfd_mask, &m);
}

static int got_usr2;
static void usr2_cb(struct ev_loop *l, ev_signal *w, int revents)
{
  (void)l; (void)w; (void)revents;
  got_usr2++;
}

int main(void)
{
  pid_t pid;
  int status;

  WATCHDOG_KILL(25);
  loop = test_default_loop();
  ev_async_init(&async_w, async_cb);
  ev_async_start(loop, &async_w);
  ev_signal_init(&sig_w, sig_cb, SIGUSR1);
  ev_signal_start(loop, &sig_w);
  ev_timer_init(&guard_w, guard_cb, 3., 0.);
  round_trip();
  TRACE("parent before fork: async %d signal %d guard %d", got_async, got_sig, guard_fired);
  CHECK(!guard_fired);

  fflush(stdout);
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    /* no ev_loop_fork */
    WATCHDOG_KILL(10);
    round_trip();
    TRACE("child without ev_loop_fork: async %d signal %d guard %d", got_async, got_sig,
          guard_fired);
    fflush(stdout);
    _exit(guard_fired ? 1 : 0);
  }
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  /* the parent's loop still works */
  round_trip();
  TRACE("parent after the child: async %d signal %d guard %d", got_async, got_sig, guard_fired);
  CHECK(!guard_fired);

  {
    /* EVFLAG_SIGNALFD: a child starting a signal watcher must not widen the parent's mask */
    const char *env = getenv("LIBEV_FLAGS");
    struct ev_loop *sloop = test_new_loop((env ? (unsigned)atoi(env) : 0) | EVFLAG_NOENV |
                                          EVFLAG_SIGNALFD);
    ev_signal usr2, winch;
    char before[1024], after[1024];
    ev_signal_init(&usr2, usr2_cb, SIGUSR2);
    ev_signal_start(sloop, &usr2);
    ev_run(sloop, EVRUN_NOWAIT);
    signalfd_masks(before, sizeof before);
    CHECK(before[0] != 0);
    fflush(stdout);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
      ev_signal_init(&winch, usr2_cb, SIGWINCH);
      ev_signal_start(sloop, &winch);   /* no ev_loop_fork */
      _exit(0);
    }
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    signalfd_masks(after, sizeof after);
    TRACE("signalfd mask of the parent unchanged by the child's ev_signal_start: %s",
          strcmp(before, after) == 0 ? "yes" : "no");
    if (strcmp(before, after) != 0) fprintf(stderr, "before:\n%safter:\n%s", before, after);
    CHECK(strcmp(before, after) == 0);
    raise(SIGUSR2);
    ev_run(sloop, EVRUN_NOWAIT);
    TRACE("parent's signalfd loop still gets SIGUSR2: %s", got_usr2 == 1 ? "yes" : "no");
    CHECK_EQ_INT(got_usr2, 1);
    ev_signal_stop(sloop, &usr2);
    ev_loop_destroy(sloop);
  }
  TRACE("done");
  return 0;
}
