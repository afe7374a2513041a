/* evring-test: mode=self backends=all timeout=30 */
/* evring-only: a forked child checks ITS OWN fd table before it closes a loop's fds.
 * Before closing (or writing to) the numbers of a loop-owned object (here the wakeup eventfd
 * of an ev_async, and the epoll fd), evring checks that they still name that object:
 * kcmp(pid, pid, KCMP_FILE, a, b) between its members. The pid is cached, and the cache is
 * reset in every child by evring's pthread_atfork handler. Without that reset the child would
 * ask about its PARENT's fds: here the parent holds a different file at each of those
 * numbers, so the child would take its own wakeup fds for foreign ones and leave them open
 * at ev_loop_destroy (checked by counting fds). Without kcmp (valgrind) fstat alone decides,
 * and the test passes either way. */
#include "test.h"
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static int got;

static void async_cb(struct ev_loop *l, ev_async *w, int revents)
{
  (void)l; (void)w; (void)revents;
  got++;
}

#define MAXFD 4096
static unsigned char had_[MAXFD];
static int lowest_;

static int mark_fd(int fd, const char *target, void *arg)
{
  (void)target; (void)arg;
  if (fd < MAXFD) had_[fd] = 1;
  return 0;
}

static int lowest_new_fd(int fd, const char *target, void *arg)
{
  (void)target; (void)arg;
  if (fd < MAXFD && !had_[fd] && (lowest_ < 0 || fd < lowest_)) lowest_ = fd;
  return 0;
}

/* A loop with an ev_async that is sent once and delivered, then destroyed: returns the
 * number of open fds afterwards minus before; *floor = the lowest fd number the loop held. */
static int loop_round(int *floor)
{
  int before = test_count_fds();
  memset(had_, 0, sizeof had_);
  test_each_fd(mark_fd, NULL);
  struct ev_loop *l = test_new_loop(0);
  ev_async a;
  got = 0;
  ev_async_init(&a, async_cb);
  ev_async_start(l, &a);
  ev_async_send(l, &a);
  ev_run(l, EVRUN_NOWAIT);
  CHECK_EQ_INT(got, 1);
  lowest_ = -1;
  test_each_fd(lowest_new_fd, NULL);
  *floor = lowest_;
  ev_async_stop(l, &a);
  ev_loop_destroy(l);
  return test_count_fds() - before;
}

#define SPAN 16

int main(void)
{
  pid_t pid;
  int status, floor, f, i;

  WATCHDOG(20);
  {
    /* Without kcmp (valgrind, some seccomp profiles) evring decides by fstat alone and the
     * pid cache is never asked: only the fd accounting below is tested then. */
    long p = (long)getpid();
    if (syscall(SYS_kcmp, p, p, 0L, 0L, 0L) < 0 && errno != EBADF)
      fprintf(stderr, "note: kcmp unavailable (%s): the pid cache is not exercised\n",
              strerror(errno));
  }
  /* The parent's loop goes away before the fork: its fd-identity checks cache this process's
   * pid. Its fds showed where loops put theirs ("floor"). */
  CHECK_EQ_INT(loop_round(&floor), 0);
  CHECK(floor > 2 && floor + SPAN < MAXFD);
  TRACE("parent: loop made, used and destroyed, no fd left");
  /* A different file at each number the child's loop will take. */
  for (i = 0; i < SPAN; i++) {
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    CHECK(dup2(fd, floor + i) == floor + i);
    close(fd);
  }
  fflush(stdout);

  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    int d;
    for (i = 0; i < SPAN; i++) close(floor + i);
    d = loop_round(&f);
    if (f != floor) {
      fprintf(stderr, "child: its loop's fds start at %d, not %d\n", f, floor);
      _exit(2);
    }
    if (d != 0) {
      fprintf(stderr, "child: %d fds left open by ev_loop_destroy\n", d);
      _exit(1);
    }
    TRACE("child: loop made, used and destroyed, no fd left");
    fflush(stdout);
    _exit(0);
  }
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  for (i = 0; i < SPAN; i++) close(floor + i);
  CHECK_EQ_INT(loop_round(&f), 0);
  TRACE("parent after the child: no fd left");
  return 0;
}
