/* evring-test: mode=self backends=all variants=sigaction,signalfd,selfpipe timeout=60 */
/* evring-only (tracker issue 7 §1): every fd the loop owns survives the application closing it
 * or dup2()ing one of its own files onto its number, on every backend.
 *
 * From a callback of the running loop the test finds each of the loop's fds through
 * /proc/self/fd (eventfd, or the self-pipe's ends in the "selfpipe" variant, which sets
 * evring's private knob EVRING_EVPIPE=pipe; signalfd with EVFLAG_SIGNALFD; timerfd; the epoll
 * fd; io_uring's fds), one at a time, and (a) closes it, (b) dup2()s a regular file onto it, (c) dup2()s a
 * socket onto it. After each attack the loop must keep delivering io, a timer, a periodic, a
 * signal (raised right after the attack) and an ev_async_send from another thread, within a
 * guard time, and it must restore its own number of fds of that kind by itself (so losses do
 * not pile up when an object stays silent). The application's files at the old numbers must stay untouched: nothing written
 * into them, nothing read from them, still open after ev_loop_destroy.
 *
 * Debian's libev aborts or misbehaves here (writes its wakeup token into the application's
 * file, "(libev) epoll_wait: Bad file descriptor"), so the test runs against evring only. The
 * trace does not depend on the backend: the backend's own fds (which differ per backend) are
 * reported in one line, and details go to stderr. */
#include "test.h"
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

static struct ev_loop *loop;
static int io_pipe[2];
static ev_io io_w;
static ev_timer tick_w, attack_w, guard_w;
static ev_periodic per_w;
static ev_signal sig_w;
static ev_async async_w;
static pthread_t sender;
static int sender_started;

static int got_io, got_tick, got_per, got_sig, got_async, guard_fired;

/* the attack of the current round */
static const char *target_kind;
static int target_index, target_mode;  /* mode: 0 close, 1 dup2 file, 2 dup2 socket */
static int attacked_fd;

/* application files dup2()ed onto loop numbers: checked at the end */
#define MAX_VICTIMS 128
static struct { int fd, mode, peer; } victims[MAX_VICTIMS];
static int nvictims;
static const char file_text[] = "application data, not the loop's";
static const char sock_text[] = "unread";

/* fds open before the loop existed (inherited ones, a valgrind's own): never the loop's */
#define MAX_FD_SEEN 4096
static unsigned char preexisting[MAX_FD_SEEN];

static int cmp_int(const void *a, const void *b)
{
  return *(const int *)a - *(const int *)b;
}

struct found { const char *what; int *out, max, n; };

static int add_loop_fd(int fd, const char *target, void *arg)
{
  struct found *f = arg;
  size_t wl = f->what ? strlen(f->what) : 0;
  int match;
  if (fd < 0 || fd >= MAX_FD_SEEN) return 0;   /* e.g. valgrind's own fds: not the loop's */
  if (!f->what) {
    preexisting[fd] = 1;
    return 0;
  }
  match = f->what[wl - 1] == ':' ? strncmp(target, f->what, wl) == 0 : strcmp(target, f->what) == 0;
  if (match && f->n < f->max && !preexisting[fd] && fd != io_pipe[0] && fd != io_pipe[1])
    f->out[f->n++] = fd;
  return 0;
}

/* fd numbers whose /proc link is exactly `what` (or starts with it, if it ends with ':'),
 * ascending; fds open before the loop was created and the test's own io pipe are left out;
 * what == NULL marks every open fd as preexisting (not the walk's own directory fd, which
 * test_each_fd leaves out: its number is free again once the walk ends) */
static int find_fds(const char *what, int *out, int max)
{
  struct found f = { what, out, max, 0 };
  test_each_fd(add_loop_fd, &f);
  if (f.n > 1) qsort(out, (size_t)f.n, sizeof *out, cmp_int);
  return f.n;
}

static void check_done(void)
{
  if (got_io >= 2 && got_tick >= 2 && got_per >= 1 && got_sig >= 1 && got_async >= 1) {
    ev_timer_stop(loop, &guard_w);
    ev_break(loop, EVBREAK_ALL);
  }
}

static void io_cb(struct ev_loop *l, ev_io *w, int revents)
{
  char buf[16];
  (void)l;
  CHECK_EQ_INT(revents, EV_READ);
  CHECK(read(w->fd, buf, sizeof buf) > 0);
  got_io++;
  check_done();
}

static void tick_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)l; (void)w; (void)revents;
  got_tick++;
  CHECK(write(io_pipe[1], "x", 1) == 1);
  check_done();
}

static void per_cb(struct ev_loop *l, ev_periodic *w, int revents)
{
  (void)l; (void)w; (void)revents;
  got_per++;
  check_done();
}

static void sig_cb(struct ev_loop *l, ev_signal *w, int revents)
{
  (void)l; (void)w; (void)revents;
  got_sig++;
  check_done();
}

static void async_cb(struct ev_loop *l, ev_async *w, int revents)
{
  (void)l; (void)w; (void)revents;
  got_async++;
  check_done();
}

static void guard_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  (void)w; (void)revents;
  guard_fired = 1;
  ev_break(l, EVBREAK_ALL);
}

static void *send_later(void *arg)
{
  (void)arg;
  usleep(20 * 1000);   /* the loop is asleep in the backend by then */
  ev_async_send(loop, &async_w);
  return NULL;
}

/* the application's file put onto a loop number */
static int make_victim(int mode, int *peer)
{
  *peer = -1;
  if (mode == 1) {
    char name[] = "evring-loopfd-XXXXXX";
    int fd = mkstemp(name);
    CHECK(fd >= 0);
    unlink(name);
    CHECK(write(fd, file_text, sizeof file_text) == (ssize_t)sizeof file_text);
    CHECK(lseek(fd, 5, SEEK_SET) == 5);   /* a read by the loop would move the offset */
    return fd;
  } else {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    /* unread bytes waiting in sv[0]: a read by the loop would consume them */
    CHECK(write(sv[1], sock_text, sizeof sock_text) == (ssize_t)sizeof sock_text);
    *peer = sv[1];
    return sv[0];
  }
}

static void attack_cb(struct ev_loop *l, ev_timer *w, int revents)
{
  int fds[16], n = find_fds(target_kind, fds, 16);
  (void)l; (void)w; (void)revents;
  if (target_index < n) {
    attacked_fd = fds[target_index];
    if (target_mode == 0) {
      CHECK(close(attacked_fd) == 0);
    } else {
      int peer, v = make_victim(target_mode, &peer);
      CHECK(dup2(v, attacked_fd) == attacked_fd);
      close(v);
      CHECK(nvictims < MAX_VICTIMS);
      victims[nvictims].fd = attacked_fd;
      victims[nvictims].mode = target_mode;
      victims[nvictims].peer = peer;
      nvictims++;
    }
  } else {
    attacked_fd = -1;
  }
  raise(SIGUSR1);
  CHECK(pthread_create(&sender, NULL, send_later, NULL) == 0);
  sender_started = 1;
}

static const char *const mode_names[] = { "close", "dup2 file", "dup2 socket" };

/* one round: attack, then wait for every kind of event; 1 if all arrived */
static int round_ok(const char *kind, int index, int mode)
{
  got_io = got_tick = got_per = got_sig = got_async = guard_fired = 0;
  target_kind = kind;
  target_index = index;
  target_mode = mode;
  ev_timer_set(&attack_w, 0., 0.);
  ev_timer_start(loop, &attack_w);
  ev_timer_set(&guard_w, 3., 0.);
  ev_timer_start(loop, &guard_w);
  ev_run(loop, 0);
  ev_timer_stop(loop, &guard_w);
  if (sender_started) pthread_join(sender, NULL);
  sender_started = 0;
  if (guard_fired)
    fprintf(stderr, "FAILED: %s #%d (fd %d) %s: io %d tick %d periodic %d signal %d async %d\n",
            kind, index, attacked_fd, mode_names[mode], got_io, got_tick, got_per, got_sig, got_async);
  return !guard_fired;
}

/* after an attack the loop must get back to `want` numbers of `kind` by itself, soon (the
 * loop checks its objects' numbers a few times a second while it runs) */
static int repaired(const char *kind, int want)
{
  int fds[16];
  double end = ev_time() + 3.;
  while (find_fds(kind, fds, 16) != want) {
    if (ev_time() > end) {
      fprintf(stderr, "FAILED: %s not repaired: %d numbers instead of %d\n", kind,
              find_fds(kind, fds, 16), want);
      return 0;
    }
    test_step(loop, 0.05);
  }
  return 1;
}

/* attack every instance of `kind`, in every mode; returns the failures, prints to stderr.
 * `repair`: the loop must restore the number of its fds of that kind (not for the backend's
 * fds: the epoll backend waits on one number and rebuilds when that one is lost, the others
 * only tell at destroy which numbers are still its own) */
static int attack_kind(const char *kind, int *instances, int repair)
{
  int fds[16], n = find_fds(kind, fds, 16), failures = 0, mode, i;
  *instances = n;
  for (mode = 0; mode < 3; mode++)
    for (i = 0; i < n; i++) {
      failures += !round_ok(kind, i, mode);
      if (repair) failures += !repaired(kind, n);
    }
  fprintf(stderr, "%s: %d fds x 3 modes, %d failures\n", kind, n, failures);
  return failures;
}

int main(int argc, char **argv)
{
  const char *env = getenv("LIBEV_FLAGS");
  int use_sigfd = argc > 1 && strcmp(argv[1], "signalfd") == 0;
  int use_pipe = argc > 1 && strcmp(argv[1], "selfpipe") == 0;
  unsigned flags = (env ? (unsigned)atoi(env) : 0) | EVFLAG_NOENV | (use_sigfd ? EVFLAG_SIGNALFD : 0);
  int n, f, fails, backend_fails = 0, i;

  WATCHDOG_KILL(50);
  if (use_pipe) setenv("EVRING_EVPIPE", "pipe", 1);
  find_fds(NULL, NULL, 0);
  loop = test_new_loop(flags);
  CHECK(pipe(io_pipe) == 0);
  ev_io_init(&io_w, io_cb, io_pipe[0], EV_READ);
  ev_io_start(loop, &io_w);
  ev_timer_init(&tick_w, tick_cb, 0.01, 0.01);
  ev_timer_start(loop, &tick_w);
  ev_periodic_init(&per_w, per_cb, 0., 0.02, 0);
  ev_periodic_start(loop, &per_w);
  ev_signal_init(&sig_w, sig_cb, SIGUSR1);
  ev_signal_start(loop, &sig_w);
  ev_async_init(&async_w, async_cb);
  ev_async_start(loop, &async_w);
  ev_timer_init(&attack_w, attack_cb, 0., 0.);
  ev_timer_init(&guard_w, guard_cb, 3., 0.);
  TRACE("signals through %s, wakeup through %s", use_sigfd ? "signalfd" : "sigaction",
        use_pipe ? "a self-pipe" : "an eventfd");

  /* baseline: everything is delivered before any attack */
  CHECK(round_ok("none", 0, 0));
  TRACE("baseline: io, timer, periodic, signal and async delivered");

  if (use_pipe) {
    fails = attack_kind("pipe:", &n, 1);
    TRACE("wakeup self-pipe: found %s, recovered from close/dup2 of each end: %s",
          n > 0 ? "yes" : "no", fails == 0 ? "yes" : "NO");
  } else {
    fails = attack_kind("anon_inode:[eventfd]", &n, 1);
    TRACE("wakeup eventfd: found %s, recovered from close/dup2 of each: %s", n > 0 ? "yes" : "no",
          fails == 0 ? "yes" : "NO");
  }
  CHECK(n > 0);
  f = attack_kind("anon_inode:[timerfd]", &n, 1);
  fails += f;
  TRACE("timerfd: found %s, recovered: %s", n > 0 ? "yes" : "no", f == 0 ? "yes" : "NO");
  CHECK(n > 0);
  if (use_sigfd) {
    f = attack_kind("anon_inode:[signalfd]", &n, 1);
    fails += f;
    TRACE("signalfd: found %s, recovered: %s", n > 0 ? "yes" : "no", f == 0 ? "yes" : "NO");
    CHECK(n > 0);
  }
  /* the backend's own fds: none for select/poll, the epoll fd, io_uring's fds */
  backend_fails += attack_kind("anon_inode:[eventpoll]", &n, 0);
  backend_fails += attack_kind("anon_inode:[io_uring]", &n, 0);
  TRACE("backend fds: recovered: %s", backend_fails == 0 ? "yes" : "NO");

  /* the application's files at former loop numbers were never touched */
  ev_loop_destroy(loop);
  for (i = 0; i < nvictims; i++) {
    int fd = victims[i].fd;
    CHECK(fcntl(fd, F_GETFD) >= 0);   /* still open after ev_loop_destroy */
    if (victims[i].mode == 1) {
      struct stat st;
      char buf[sizeof file_text];
      CHECK(fstat(fd, &st) == 0);
      CHECK_EQ_INT(st.st_size, sizeof file_text);         /* nothing written */
      CHECK_EQ_INT(lseek(fd, 0, SEEK_CUR), 5);              /* nothing read */
      CHECK(pread(fd, buf, sizeof buf, 0) == (ssize_t)sizeof buf);
      CHECK(memcmp(buf, file_text, sizeof buf) == 0);
    } else {
      int unread = -1;
      char c;
      CHECK(ioctl(fd, FIONREAD, &unread) == 0);
      CHECK_EQ_INT(unread, sizeof sock_text);               /* nothing read */
      CHECK(read(victims[i].peer, &c, 1) < 0 && errno == EAGAIN);  /* nothing written */
      close(victims[i].peer);
    }
    close(fd);
  }
  TRACE("application files at former loop fd numbers: untouched, open after destroy: %s",
        nvictims > 0 ? "yes" : "none");
  CHECK_EQ_INT(fails, 0);
  CHECK_EQ_INT(backend_fails, 0);
  TRACE("done");
  return 0;
}
