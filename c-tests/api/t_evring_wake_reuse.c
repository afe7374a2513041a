/* evring-test: mode=self timeout=30 */
/* evring-only: a loop's wakeup number that the application closed, now holding ANOTHER loop's
 * wakeup object, is not taken for the first loop's own.
 *
 * The loop keeps its wakeup eventfd at three high numbers and checks, before writing a wake-up
 * token, that the number still holds its object (src/core/loopfds.rs). The cheap check reads a
 * tag on the open file. The library itself gives a number the application closed to the next
 * object any loop creates (F_DUPFD takes the lowest free number at or above the floor), so when
 * every wakeup object carried the same tag (review of 709678d), ev_async_send(A) wrote into
 * loop B's eventfd: A never woke (no timers: a hang) and B woke for nothing. Each object now
 * has its own tag.
 *
 * Steps: loop A with an ev_async, run by thread TA; A's wakeup eventfd numbers found through
 * /proc/self/fd; one ev_async_send to A; the application closes A's lowest eventfd number
 * while A sleeps; loop B (ev_async and a check watcher counting B's iterations), run by thread
 * TB, whose eventfd takes the closed number (checked, else skip); one ev_async_send to B.
 * Then ev_async_send(A) must wake A within 5 s, and B must not run an iteration for it. */
#include "test.h"
#include <fcntl.h>

struct side {
  struct ev_loop *loop;
  ev_async w;
  ev_check chk;
  int got;   /* atomic: async callbacks */
  int iters; /* atomic: iterations (check watcher) */
  int stop;  /* atomic */
};

static struct side A, B;

static void async_cb(struct ev_loop *l, ev_async *w, int revents)
{
  struct side *s = w == &A.w ? &A : &B;
  CHECK(revents & EV_ASYNC);
  __atomic_add_fetch(&s->got, 1, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(&s->stop, __ATOMIC_SEQ_CST)) ev_break(l, EVBREAK_ALL);
}

static void check_cb(struct ev_loop *l, ev_check *w, int revents)
{
  struct side *s = w == &A.chk ? &A : &B;
  (void)l;
  (void)revents;
  __atomic_add_fetch(&s->iters, 1, __ATOMIC_SEQ_CST);
}

static void *run_thread(void *arg)
{
  struct side *s = arg;
  ev_run(s->loop, 0);
  return NULL;
}

static void setup(struct side *s)
{
  /* the loop exists already (its backend fds are taken); the async makes its wakeup fd */
  ev_async_init(&s->w, async_cb);
  ev_async_start(s->loop, &s->w);
  ev_check_init(&s->chk, check_cb);
  ev_check_start(s->loop, &s->chk);
}

/* wait (up to `secs`) until *v reaches `want` */
static int wait_for(int *v, int want, double secs)
{
  int i;
  for (i = 0; i < (int)(secs * 1000); i++) {
    if (__atomic_load_n(v, __ATOMIC_SEQ_CST) >= want) return 1;
    usleep(1000);
  }
  return __atomic_load_n(v, __ATOMIC_SEQ_CST) >= want;
}

struct efds { int fd[16]; int n; };

static int collect_eventfd(int fd, const char *target, void *arg)
{
  struct efds *e = arg;
  if (strstr(target, "[eventfd]") && e->n < 16) e->fd[e->n++] = fd;
  return 0;
}

static int is_in(const struct efds *e, int fd)
{
  int i;
  for (i = 0; i < e->n; i++)
    if (e->fd[i] == fd) return 1;
  return 0;
}

int main(void)
{
  struct efds before = { {0}, 0 }, mine = { {0}, 0 };
  pthread_t ta, tb;
  int i, victim = -1, iters;

  WATCHDOG_KILL(25);
  if (getenv("EVRING_EVPIPE")) SKIP("self-pipe mode: the wakeup object is not an eventfd");
  test_each_fd(collect_eventfd, &before);
  A.loop = test_new_loop(0);
  setup(&A);
  test_each_fd(collect_eventfd, &mine);
  /* A's own eventfd numbers: those that were not there before */
  for (i = 0; i < mine.n; i++)
    if (!is_in(&before, mine.fd[i]) && (victim < 0 || mine.fd[i] < victim)) victim = mine.fd[i];
  if (victim < 0) SKIP("no eventfd found for the loop's wakeup object");
  CHECK(pthread_create(&ta, NULL, run_thread, &A) == 0);
  usleep(50000); /* A asleep: the send goes through the wakeup fd */
  ev_async_send(A.loop, &A.w);
  CHECK(wait_for(&A.got, 1, 5));
  usleep(20000); /* A is asleep again */

  B.loop = test_new_loop(0);
  CHECK(close(victim) == 0); /* the application closes one of A's numbers */
  setup(&B);
  {
    char path[64], target[256];
    ssize_t len;
    snprintf(path, sizeof path, "/proc/self/fd/%d", victim);
    len = readlink(path, target, sizeof target - 1);
    if (len <= 0) SKIP("B's wakeup object did not take the closed number");
    target[len] = 0;
    if (!strstr(target, "[eventfd]")) SKIP("the closed number holds %s, not B's eventfd", target);
  }
  CHECK(pthread_create(&tb, NULL, run_thread, &B) == 0);
  usleep(50000); /* B asleep */
  ev_async_send(B.loop, &B.w);
  CHECK(wait_for(&B.got, 1, 5));
  usleep(20000); /* B is asleep again */
  iters = __atomic_load_n(&B.iters, __ATOMIC_SEQ_CST);

  ev_async_send(A.loop, &A.w);
  if (!wait_for(&A.got, 2, 5)) {
    fprintf(stderr, "A did not wake (B iterations %d -> %d)\n", iters,
            __atomic_load_n(&B.iters, __ATOMIC_SEQ_CST));
    CHECK(!"ev_async_send(A) woke A");
  }
  usleep(50000);
  CHECK_EQ_INT(__atomic_load_n(&B.iters, __ATOMIC_SEQ_CST), iters);
  CHECK_EQ_INT(__atomic_load_n(&B.got, __ATOMIC_SEQ_CST), 1);
  TRACE("A woke, B did not");

  /* B's object still works, and both loops end */
  __atomic_store_n(&A.stop, 1, __ATOMIC_SEQ_CST);
  __atomic_store_n(&B.stop, 1, __ATOMIC_SEQ_CST);
  ev_async_send(B.loop, &B.w);
  ev_async_send(A.loop, &A.w);
  CHECK(pthread_join(ta, NULL) == 0);
  CHECK(pthread_join(tb, NULL) == 0);
  CHECK_EQ_INT(B.got, 2);
  ev_loop_destroy(A.loop);
  ev_loop_destroy(B.loop);
  /* the number now holds B's object, which B closed at destroy: not A's business */
  TRACE("done");
  return 0;
}
