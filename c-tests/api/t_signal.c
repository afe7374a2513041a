/* evring-test: timeout=30 */
/* ev_signal: delivery on the default loop and on ev_loop_new loops (pgagroal's worker watches
 * SIGQUIT on its own loop), several watchers per signal, ordering across signals, coalescing,
 * the installed sigaction (SA_RESTART, full mask) and SIG_DFL after the last stop, SA_RESTART
 * observed on a blocking read(), ev_feed_signal / ev_feed_signal_event, stop/start inside
 * callbacks, signals handled by another thread, EVFLAG_NOSIGMASK (libev-abi.md §4.9). */
#include "test.h"

#include <pthread.h>
#include <fcntl.h>

static const char *sig_name(int sig)
{
  switch (sig) {
  case SIGHUP: return "HUP";
  case SIGINT: return "INT";
  case SIGQUIT: return "QUIT";
  case SIGUSR1: return "USR1";
  case SIGUSR2: return "USR2";
  case SIGTERM: return "TERM";
  case SIGWINCH: return "WINCH";
  case SIGURG: return "URG";
  case SIGCHLD: return "CHLD";
  default: return "?";
  }
}

/* iterate until *flag becomes non-zero (bounded) */
static void wait_flag(struct ev_loop *loop, volatile int *flag)
{
  int i;
  for (i = 0; i < 200 && !*flag; i++) test_step(loop, 0.05);
  CHECK(*flag);
}

static int blocked(int sig)
{
  sigset_t cur;
  CHECK(pthread_sigmask(SIG_BLOCK, NULL, &cur) == 0);
  return sigismember(&cur, sig) == 1;
}

static void show_disposition(const char *label, int sig)
{
  struct sigaction sa;
  static const int probe[] = { SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM,
                               SIGTERM, SIGCHLD, SIGCONT, SIGWINCH, SIGURG };
  unsigned i;
  int full = 1;
  CHECK(sigaction(sig, NULL, &sa) == 0);
  if (sa.sa_handler == SIG_DFL) {
    TRACE("  %s: SIG%s handler=SIG_DFL", label, sig_name(sig));
    return;
  }
  if (sa.sa_handler == SIG_IGN) {
    TRACE("  %s: SIG%s handler=SIG_IGN", label, sig_name(sig));
    return;
  }
  for (i = 0; i < sizeof probe / sizeof probe[0]; i++)
    if (sigismember(&sa.sa_mask, probe[i]) != 1) full = 0;
  TRACE("  %s: SIG%s handler=custom SA_RESTART=%d SA_SIGINFO=%d SA_RESETHAND=%d SA_NODEFER=%d "
        "full-mask=%d", label, sig_name(sig), !!(sa.sa_flags & SA_RESTART),
        !!(sa.sa_flags & SA_SIGINFO), !!(sa.sa_flags & SA_RESETHAND),
        !!(sa.sa_flags & SA_NODEFER), full);
}

/* ---- an event log ------------------------------------------------------------------------------ */

typedef struct {
  ev_signal sig;
  const char *name;
  int calls;
} nsig;

static void nsig_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
  nsig *n = (nsig *)w;
  char buf[64];
  (void)loop;
  n->calls++;
  snprintf(buf, sizeof buf, "%s(%s,0x%x)", n->name, sig_name(w->signum), (unsigned)revents);
  test_evlog_add(buf);
}

static void nsig_init(nsig *n, const char *name, int sig)
{
  memset(n, 0, sizeof *n);
  ev_signal_init(&n->sig, nsig_cb, sig);
  n->name = name;
}

/* ---- 1. default loop, dispositions ------------------------------------------------------------- */

static void own_handler(int sig)
{
  (void)sig;
}

static void s_default(struct ev_loop *loop)
{
  nsig a, b;
  struct sigaction sa;

  TRACE("1. default loop");
  show_disposition("before start", SIGUSR1);
  nsig_init(&a, "A", SIGUSR1);
  ev_signal_start(loop, &a.sig);
  show_disposition("after start", SIGUSR1);
  TRACE("  watcher: active=%d signum field=%s", ev_is_active(&a.sig) ? 1 : 0,
        sig_name(a.sig.signum));
  raise(SIGUSR1);
  test_step(loop, 2.0);
  test_evlog_print("raise(SIGUSR1)");
  kill(getpid(), SIGUSR1);
  test_step(loop, 2.0);
  test_evlog_print("kill(getpid(), SIGUSR1)");
  test_step(loop, 0.02);
  test_evlog_print("nothing more");
  TRACE("  ev_run(NOWAIT) with the signal watcher -> %d", ev_run(loop, EVRUN_NOWAIT));
  ev_signal_stop(loop, &a.sig);
  show_disposition("after stop", SIGUSR1);
  TRACE("  ev_run(NOWAIT) after stop -> %d", ev_run(loop, EVRUN_NOWAIT));

  /* two watchers: the handler stays until the last one stops */
  ev_signal_start(loop, &a.sig);
  nsig_init(&b, "B", SIGUSR1);
  ev_signal_start(loop, &b.sig);
  ev_signal_stop(loop, &a.sig);
  show_disposition("one of two stopped", SIGUSR1);
  raise(SIGUSR1);
  test_step(loop, 2.0);
  test_evlog_print("raise with B left");
  ev_signal_stop(loop, &b.sig);
  show_disposition("both stopped", SIGUSR1);

  /* a handler installed before is not restored: the last stop sets SIG_DFL */
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = own_handler;
  sigemptyset(&sa.sa_mask);
  CHECK(sigaction(SIGUSR2, &sa, NULL) == 0);
  show_disposition("own handler installed", SIGUSR2);
  nsig_init(&a, "A", SIGUSR2);
  ev_signal_start(loop, &a.sig);
  show_disposition("after start", SIGUSR2);
  ev_signal_stop(loop, &a.sig);
  show_disposition("after stop", SIGUSR2);
}

/* ---- 2. non-default loop (pgagroal worker: SIGQUIT on ev_loop_new) ---------------------------- */

static int quit_running = 1;
static void quit_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
  TRACE("  quit_cb: revents=0x%x signum=%s depth=%u", (unsigned)revents, sig_name(w->signum),
        ev_depth(loop));
  quit_running = 0;
  ev_break(loop, EVBREAK_ALL);
}

static void *late_signal_thread(void *arg)
{
  struct timespec ts = { 0, 30 * 1000 * 1000 };
  nanosleep(&ts, NULL);
  kill(getpid(), *(int *)arg);
  return NULL;
}

static void s_nondefault(struct ev_loop *dloop)
{
  struct ev_loop *loop = test_new_loop(0);
  ev_signal q;
  nsig d;
  pthread_t th;
  int sig = SIGQUIT, rounds = 0;

  TRACE("2. non-default loop");
  ev_signal_init(&q, quit_cb, SIGQUIT);
  ev_signal_start(loop, &q);
  show_disposition("SIGQUIT watched by a new loop", SIGQUIT);
  TRACE("  ev_run(NOWAIT) -> %d (the signal watcher keeps the loop alive)",
        ev_run(loop, EVRUN_NOWAIT));
  /* the signal arrives while the loop is blocked in the backend */
  CHECK(pthread_create(&th, NULL, late_signal_thread, &sig) == 0);
  while (quit_running && rounds++ < 100) ev_run(loop, 0);
  CHECK(pthread_join(th, NULL) == 0);
  TRACE("  left the loop: running=%d", quit_running);
  /* raised before the loop runs */
  quit_running = 1;
  raise(SIGQUIT);
  while (quit_running && rounds++ < 100) ev_run(loop, 0);
  TRACE("  left the loop: running=%d", quit_running);
  ev_signal_stop(loop, &q);
  show_disposition("stopped", SIGQUIT);

  /* the signal is free again: it can move to the default loop and back */
  nsig_init(&d, "D", SIGQUIT);
  ev_signal_start(dloop, &d.sig);
  raise(SIGQUIT);
  test_step(dloop, 2.0);
  test_evlog_print("SIGQUIT on the default loop");
  ev_signal_stop(dloop, &d.sig);
  ev_signal_start(loop, &d.sig);
  raise(SIGQUIT);
  test_step(loop, 2.0);
  test_evlog_print("SIGQUIT back on the new loop");
  ev_signal_stop(loop, &d.sig);
  ev_loop_destroy(loop);
}

/* ---- 3. several watchers per signal, ordering across signals, coalescing ----------------------- */

static void s_order(struct ev_loop *loop)
{
  nsig a, b, c, h, u1, u2, t;
  int i;

  TRACE("3. ordering and coalescing");
  nsig_init(&a, "A", SIGUSR1);
  nsig_init(&b, "B", SIGUSR1);
  nsig_init(&c, "C", SIGUSR1);
  ev_signal_start(loop, &a.sig);
  ev_signal_start(loop, &b.sig);
  ev_signal_start(loop, &c.sig);
  raise(SIGUSR1);
  test_step(loop, 2.0);
  test_evlog_print("A,B,C on USR1");
  ev_signal_stop(loop, &a.sig);
  ev_signal_start(loop, &a.sig);
  raise(SIGUSR1);
  test_step(loop, 2.0);
  test_evlog_print("A restarted");
  ev_signal_stop(loop, &c.sig);
  ev_set_priority(&c.sig, 2);
  ev_signal_start(loop, &c.sig);
  ev_signal_stop(loop, &b.sig);
  ev_set_priority(&b.sig, -2);
  ev_signal_start(loop, &b.sig);
  raise(SIGUSR1);
  test_step(loop, 2.0);
  test_evlog_print("C prio 2, B prio -2");
  for (i = 0; i < 5; i++) raise(SIGUSR1);
  test_step(loop, 2.0);
  test_evlog_print("5 raises before one iteration");
  test_step(loop, 0.02);
  test_evlog_print("next iteration");
  ev_signal_stop(loop, &a.sig);
  ev_signal_stop(loop, &b.sig);
  ev_signal_stop(loop, &c.sig);

  nsig_init(&h, "H", SIGHUP);
  nsig_init(&u1, "U1", SIGUSR1);
  nsig_init(&u2, "U2", SIGUSR2);
  nsig_init(&t, "T", SIGTERM);
  ev_signal_start(loop, &t.sig);
  ev_signal_start(loop, &u2.sig);
  ev_signal_start(loop, &u1.sig);
  ev_signal_start(loop, &h.sig);
  raise(SIGUSR2);
  raise(SIGTERM);
  raise(SIGHUP);
  raise(SIGUSR1);
  test_step(loop, 2.0);
  test_evlog_print("raised USR2,TERM,HUP,USR1");
  kill(getpid(), SIGTERM);
  kill(getpid(), SIGUSR1);
  test_step(loop, 2.0);
  test_evlog_print("kill TERM,USR1");
  ev_signal_stop(loop, &t.sig);
  ev_set_priority(&t.sig, 1);
  ev_signal_start(loop, &t.sig);
  raise(SIGUSR2);
  raise(SIGTERM);
  raise(SIGHUP);
  test_step(loop, 2.0);
  test_evlog_print("T at prio 1; raised USR2,TERM,HUP");
  ev_signal_stop(loop, &h.sig);
  ev_signal_stop(loop, &u1.sig);
  ev_signal_stop(loop, &u2.sig);
  ev_signal_stop(loop, &t.sig);
}

/* ---- 4. SA_RESTART: a blocking read() survives the signal -------------------------------------- */

static pthread_t main_thread;
static int restart_pipe[2];

static void *restart_thread(void *arg)
{
  struct timespec ts = { 0, 50 * 1000 * 1000 };
  (void)arg;
  nanosleep(&ts, NULL);
  pthread_kill(main_thread, SIGUSR1);
  nanosleep(&ts, NULL);
  CHECK_EQ_INT(write(restart_pipe[1], "r", 1), 1);
  return NULL;
}

static void s_restart(struct ev_loop *loop)
{
  nsig a;
  pthread_t th;
  char c = 0;
  ssize_t n;
  int err;

  TRACE("4. SA_RESTART and a blocking read()");
  nsig_init(&a, "A", SIGUSR1);
  ev_signal_start(loop, &a.sig);
  CHECK(pipe(restart_pipe) == 0);
  main_thread = pthread_self();
  CHECK(pthread_create(&th, NULL, restart_thread, NULL) == 0);
  n = read(restart_pipe[0], &c, 1);   /* blocks; interrupted by SIGUSR1, restarted */
  err = errno;
  CHECK(pthread_join(th, NULL) == 0);
  TRACE("  read returned %d char='%c' EINTR=%d", (int)n, n == 1 ? c : '-', n < 0 && err == EINTR);
  TRACE("  callback before the loop ran: calls=%d", a.calls);
  test_step(loop, 2.0);
  test_evlog_print("next iteration");
  ev_signal_stop(loop, &a.sig);
  close(restart_pipe[0]);
  close(restart_pipe[1]);
}

/* ---- 5. ev_feed_signal, ev_feed_signal_event ---------------------------------------------------- */

static void s_feed(struct ev_loop *loop)
{
  struct ev_loop *other = test_new_loop(0);
  nsig a, b, o;

  TRACE("5. ev_feed_signal / ev_feed_signal_event");
  nsig_init(&a, "A", SIGUSR1);
  nsig_init(&b, "B", SIGUSR1);
  ev_signal_start(loop, &a.sig);
  ev_signal_start(loop, &b.sig);
  ev_feed_signal(SIGUSR1);
  TRACE("  after ev_feed_signal: A pending=%d", ev_is_pending(&a.sig) ? 1 : 0);
  test_step(loop, 2.0);
  test_evlog_print("ev_feed_signal(USR1)");
  ev_feed_signal(SIGWINCH);   /* not bound to any loop: no-op */
  test_step(loop, 0.02);
  test_evlog_print("ev_feed_signal(WINCH) unbound");
  ev_feed_signal_event(loop, SIGUSR1);
  TRACE("  after ev_feed_signal_event: A pending=%d B pending=%d pending_count=%u",
        ev_is_pending(&a.sig) ? 1 : 0, ev_is_pending(&b.sig) ? 1 : 0, ev_pending_count(loop));
  ev_run(loop, EVRUN_NOWAIT);
  test_evlog_print("ev_feed_signal_event(USR1)");
  ev_feed_signal_event(other, SIGUSR1);   /* foreign loop: no-op */
  TRACE("  ev_feed_signal_event on a loop not owning USR1: A pending=%d other pending_count=%u",
        ev_is_pending(&a.sig) ? 1 : 0, ev_pending_count(other));
  ev_run(other, EVRUN_NOWAIT);
  ev_run(loop, EVRUN_NOWAIT);
  test_evlog_print("after");
  ev_feed_signal_event(loop, SIGWINCH);   /* no watcher: no-op */
  ev_feed_signal_event(loop, 0);          /* out of range: no-op */
  ev_feed_signal_event(loop, 200);
  TRACE("  unwatched / out-of-range signal events: pending_count=%u", ev_pending_count(loop));
  /* a raised signal and a synchronous feed before the loop runs coalesce */
  raise(SIGUSR1);
  ev_feed_signal_event(loop, SIGUSR1);
  test_step(loop, 2.0);
  test_evlog_print("raise + ev_feed_signal_event");
  test_step(loop, 0.02);
  test_evlog_print("next iteration");
  /* a signal of another loop */
  nsig_init(&o, "O", SIGUSR2);
  ev_signal_start(other, &o.sig);
  ev_feed_signal(SIGUSR2);
  test_step(loop, 0.02);
  test_evlog_print("USR2 (owned by the other loop) fed, default loop iterated");
  test_step(other, 2.0);
  test_evlog_print("other loop iterated");
  ev_signal_stop(other, &o.sig);
  ev_signal_stop(loop, &a.sig);
  ev_signal_stop(loop, &b.sig);
  ev_loop_destroy(other);
}

/* ---- 6. stop/start inside callbacks ------------------------------------------------------------- */

static nsig cs_a, cs_b, cs_c;
static int cs_mode;
static void cs_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
  nsig *n = (nsig *)w;
  nsig_cb(loop, w, revents);
  if (n != &cs_a) return;
  switch (cs_mode) {
  case 1:
    ev_signal_stop(loop, &cs_b.sig);   /* pending: must not run */
    break;
  case 2:
    ev_signal_stop(loop, w);           /* restart itself */
    ev_signal_start(loop, w);
    break;
  case 3:
    ev_signal_stop(loop, w);           /* stop itself, C stays */
    break;
  }
}

static void s_cbstop(struct ev_loop *loop)
{
  TRACE("6. stop/start inside signal callbacks");
  ev_signal_init(&cs_a.sig, cs_cb, SIGUSR2); cs_a.name = "A";
  ev_signal_init(&cs_b.sig, cs_cb, SIGUSR2); cs_b.name = "B";
  ev_signal_init(&cs_c.sig, cs_cb, SIGUSR2); cs_c.name = "C";
  ev_signal_start(loop, &cs_a.sig);
  ev_signal_start(loop, &cs_b.sig);
  ev_signal_start(loop, &cs_c.sig);
  cs_mode = 1; raise(SIGUSR2); test_step(loop, 2.0); test_evlog_print("A stops B");
  TRACE("  B active=%d pending=%d", ev_is_active(&cs_b.sig) ? 1 : 0, ev_is_pending(&cs_b.sig) ? 1 : 0);
  cs_mode = 2; raise(SIGUSR2); test_step(loop, 2.0); test_evlog_print("A restarts itself");
  cs_mode = 0; raise(SIGUSR2); test_step(loop, 2.0); test_evlog_print("again");
  cs_mode = 3; raise(SIGUSR2); test_step(loop, 2.0); test_evlog_print("A stops itself");
  show_disposition("C still watching", SIGUSR2);
  cs_mode = 0; raise(SIGUSR2); test_step(loop, 2.0); test_evlog_print("again");
  ev_signal_stop(loop, &cs_c.sig);
  show_disposition("all stopped", SIGUSR2);
}

/* ---- 7. signals and threads ---------------------------------------------------------------------- */

static int thr_pipe[2];

static void *unblocked_thread(void *arg)
{
  sigset_t s;
  char c;
  (void)arg;
  sigemptyset(&s);
  sigaddset(&s, SIGUSR2);
  CHECK(pthread_sigmask(SIG_UNBLOCK, &s, NULL) == 0);
  /* park until told to leave; the signal handler runs on this thread meanwhile */
  while (read(thr_pipe[0], &c, 1) < 0 && errno == EINTR) { }
  return NULL;
}

static void *blocked_thread(void *arg)
{
  sigset_t s;
  char c;
  (void)arg;
  sigfillset(&s);
  CHECK(pthread_sigmask(SIG_BLOCK, &s, NULL) == 0);
  while (read(thr_pipe[0], &c, 1) < 0 && errno == EINTR) { }
  return NULL;
}

static void s_threads(struct ev_loop *loop)
{
  nsig a;
  sigset_t s;
  pthread_t th;
  volatile int *calls = &a.calls;

  TRACE("7. signals and threads");
  nsig_init(&a, "A", SIGUSR2);
  ev_signal_start(loop, &a.sig);
  CHECK(pipe(thr_pipe) == 0);

  /* another thread blocks everything; the process-directed signal reaches the loop thread */
  CHECK(pthread_create(&th, NULL, blocked_thread, NULL) == 0);
  kill(getpid(), SIGUSR2);
  wait_flag(loop, calls);
  test_evlog_print("other thread blocks all, kill(getpid)");
  CHECK_EQ_INT(write(thr_pipe[1], "x", 1), 1);
  CHECK(pthread_join(th, NULL) == 0);

  /* the loop thread blocks the signal; another thread runs libev's handler, the loop wakes */
  sigemptyset(&s);
  sigaddset(&s, SIGUSR2);
  CHECK(pthread_sigmask(SIG_BLOCK, &s, NULL) == 0);
  CHECK(pthread_create(&th, NULL, unblocked_thread, NULL) == 0);
  a.calls = 0;
  {
    struct timespec ts = { 0, 20 * 1000 * 1000 };
    nanosleep(&ts, NULL);   /* let the thread unblock SIGUSR2 */
  }
  kill(getpid(), SIGUSR2);
  wait_flag(loop, calls);
  test_evlog_print("loop thread blocks USR2, handled on another thread");
  TRACE("  loop thread still blocks USR2: %d", blocked(SIGUSR2));
  CHECK_EQ_INT(write(thr_pipe[1], "x", 1), 1);
  CHECK(pthread_join(th, NULL) == 0);

  /* blocked everywhere: nothing until the loop thread unblocks it */
  a.calls = 0;
  kill(getpid(), SIGUSR2);
  test_step(loop, 0.05);
  test_evlog_print("blocked in the only thread");
  CHECK(pthread_sigmask(SIG_UNBLOCK, &s, NULL) == 0);   /* handler runs right here */
  test_step(loop, 2.0);
  test_evlog_print("after unblocking");
  ev_signal_stop(loop, &a.sig);
  close(thr_pipe[0]);
  close(thr_pipe[1]);
}

/* ---- 8. EVFLAG_NOSIGMASK (probe sigmask: 4.33 unblocks *with* the flag) ------------------------ */

static void s_nosigmask(void)
{
  struct ev_loop *a = ev_loop_new(EVFLAG_NOENV);
  struct ev_loop *b = ev_loop_new(EVFLAG_NOENV | EVFLAG_NOSIGMASK);
  struct ev_loop *c = ev_loop_new(EVFLAG_NOSIGMASK);  /* LIBEV_FLAGS (if set) replaces flags */
  nsig w1, w2, w3;
  sigset_t s;

  TRACE("8. EVFLAG_NOSIGMASK");
  CHECK(a && b && c);
  sigemptyset(&s);
  sigaddset(&s, SIGUSR1);
  sigaddset(&s, SIGUSR2);
  sigaddset(&s, SIGHUP);
  CHECK(pthread_sigmask(SIG_BLOCK, &s, NULL) == 0);
  nsig_init(&w1, "W1", SIGUSR1);
  nsig_init(&w2, "W2", SIGUSR2);
  nsig_init(&w3, "W3", SIGHUP);
  ev_signal_start(a, &w1.sig);
  ev_signal_start(b, &w2.sig);
  ev_signal_start(c, &w3.sig);
  TRACE("  pre-blocked; after start: USR1 (no flag) blocked=%d, USR2 (NOSIGMASK) blocked=%d, "
        "HUP (NOSIGMASK, env may replace flags) blocked=%d",
        blocked(SIGUSR1), blocked(SIGUSR2), blocked(SIGHUP));
  raise(SIGUSR2);
  test_step(b, 2.0);
  test_evlog_print("USR2 raised, loop b");
  ev_signal_stop(a, &w1.sig);
  ev_signal_stop(b, &w2.sig);
  ev_signal_stop(c, &w3.sig);
  TRACE("  after stop: USR1 blocked=%d", blocked(SIGUSR1));
  CHECK(pthread_sigmask(SIG_UNBLOCK, &s, NULL) == 0);
  ev_loop_destroy(a);
  ev_loop_destroy(b);
  ev_loop_destroy(c);
}

int main(void)
{
  struct ev_loop *loop;

  WATCHDOG(25);
  show_disposition("initial", SIGCHLD);
  loop = test_default_loop();
  show_disposition("after ev_default_loop", SIGCHLD);
  s_default(loop);
  s_nondefault(loop);
  s_order(loop);
  s_restart(loop);
  s_feed(loop);
  s_cbstop(loop);
  s_threads(loop);
  s_nosigmask();
  TRACE("done");
  return 0;
}
