/* evring-test: timeout=30 */
/* Backends, flags and the LIBEV_FLAGS environment variable (libev-abi.md §4.1, §6 traps 19-20).
 * ev_supported/recommended/embeddable_backends differ by design between libev and evring
 * (evring recommends io_uring), so only the relations that must hold are printed. The
 * environment-dependent part re-executes this program with LIBEV_FLAGS set to fixed values,
 * so the trace does not depend on the LIBEV_FLAGS the harness runs us with. */
#include "test.h"

#include <sys/wait.h>

static const unsigned known_backends[] = {
  EVBACKEND_SELECT, EVBACKEND_POLL, EVBACKEND_EPOLL, EVBACKEND_KQUEUE, EVBACKEND_DEVPOLL,
  EVBACKEND_PORT, EVBACKEND_LINUXAIO, EVBACKEND_IOURING
};

static int single_bit(unsigned v)
{
  return v != 0 && (v & (v - 1)) == 0;
}

/* what a loop created with effective flags `eff` must look like; prints a stable description */
static const char *describe(struct ev_loop *l, unsigned eff)
{
  static char buf[96];
  unsigned b, want = eff & EVBACKEND_MASK;
  if (!l) return "NULL";
  b = ev_backend(l);
  if (!single_bit(b) || !(b & ev_supported_backends())) {
    snprintf(buf, sizeof buf, "BAD-backend(0x%x)", b);
    return buf;
  }
  if (!want) return (b & ev_recommended_backends()) ? "a recommended backend" : "NOT-recommended";
  if (!(b & want)) {
    snprintf(buf, sizeof buf, "NOT-requested(0x%x)", b);
    return buf;
  }
  snprintf(buf, sizeof buf, "0x%x", b);
  return buf;
}

/* libev's probe order among the requested, supported bits */
static unsigned expected_backend(unsigned req)
{
  static const unsigned order[] = { EVBACKEND_PORT, EVBACKEND_KQUEUE, EVBACKEND_IOURING,
                                    EVBACKEND_LINUXAIO, EVBACKEND_EPOLL, EVBACKEND_POLL,
                                    EVBACKEND_SELECT };
  unsigned i;
  for (i = 0; i < sizeof order / sizeof order[0]; i++)
    if ((req & order[i]) && (ev_supported_backends() & order[i])) return order[i];
  return 0;
}

/* evring: io_uring requested (alone, or with nothing else usable) but unusable at run time
 * (seccomp, sysctl, old kernel, EVRING_URING_FAIL) -> the loop silently uses epoll, where
 * libev returns no loop. Both count as consistent. */
static int uring_fallback_ok(unsigned req, struct ev_loop *l)
{
  return l && (req & EVBACKEND_IOURING) && !(ev_supported_backends() & EVBACKEND_IOURING)
         && !expected_backend(req) && ev_backend(l) == EVBACKEND_EPOLL;
}

static void new_loop_case(const char *label, unsigned flags)
{
  struct ev_loop *l = ev_loop_new(flags);
  TRACE("  ev_loop_new(%s) -> %s", label, describe(l, flags));
  if (l) ev_loop_destroy(l);
}

/* ---- child mode: run with a fixed LIBEV_FLAGS ---------------------------------------------------- */

static int child_mode(const char *label)
{
  const char *env = getenv("LIBEV_FLAGS");
  unsigned eff = env ? (unsigned)atoi(env) : 0;
  struct ev_loop *d, *d2, *n;

  TRACE("[LIBEV_FLAGS %s]", label);
  if (strcmp(label, "unset; ev_default_loop(KQUEUE)") == 0) {
    /* an unsupported backend alone: NULL, and the default loop pointer stays NULL */
    d = ev_default_loop(EVBACKEND_KQUEUE);
    TRACE("  ev_default_loop(KQUEUE) -> %s; EV_DEFAULT_UC is NULL=%d", describe(d, EVBACKEND_KQUEUE),
          EV_DEFAULT_UC == NULL);
    d = ev_default_loop(EVBACKEND_POLL);
    TRACE("  then ev_default_loop(POLL) -> %s; is_default=%d", describe(d, EVBACKEND_POLL),
          d ? ev_is_default_loop(d) : -1);
    return 0;
  }
  d = ev_default_loop(EVBACKEND_EPOLL);
  if (env && (eff & EVBACKEND_IOURING)) {
    /* io_uring depends on the kernel (libev) and on evring's progress: print consistency only */
    unsigned want = expected_backend(eff & EVBACKEND_MASK);
    TRACE("  ev_default_loop(EPOLL): first supported requested backend, or NULL if none=%d",
          want ? (d && ev_backend(d) == want) : (d == NULL || uring_fallback_ok(eff, d)));
  } else {
    TRACE("  ev_default_loop(EPOLL) -> %s", describe(d, env ? eff : EVBACKEND_EPOLL));
  }
  if (env && (eff & EVBACKEND_IOURING)) {
    int ok = d ? ev_default_loop(EVBACKEND_POLL | EVFLAG_NOENV) == d : EV_DEFAULT_UC == NULL;
    TRACE("  second ev_default_loop returns the same loop (or NULL stays NULL)=%d", ok);
  } else if (d) {
    d2 = ev_default_loop(EVBACKEND_POLL | EVFLAG_NOENV);
    TRACE("  second ev_default_loop(POLL|NOENV): same loop=%d same backend=%d", d2 == d,
          d2 && ev_backend(d2) == ev_backend(d));
  } else {
    TRACE("  EV_DEFAULT_UC is NULL=%d", EV_DEFAULT_UC == NULL);
  }
  n = ev_loop_new(EVBACKEND_POLL);
  if (env && (eff & EVBACKEND_IOURING))
    TRACE("  ev_loop_new(POLL): env backend used=%d",
          n ? ev_backend(n) == expected_backend(eff) || uring_fallback_ok(eff, n) : !expected_backend(eff));
  else
    TRACE("  ev_loop_new(POLL) -> %s", describe(n, env ? eff : EVBACKEND_POLL));
  if (n) ev_loop_destroy(n);
  n = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV);
  TRACE("  ev_loop_new(EPOLL|NOENV) -> %s", describe(n, EVBACKEND_EPOLL));
  if (n) ev_loop_destroy(n);
  n = ev_loop_new(EVFLAG_NOENV);
  TRACE("  ev_loop_new(NOENV) -> %s", describe(n, 0));
  if (n) ev_loop_destroy(n);
  return 0;
}

static void run_child(const char *self, const char *value, const char *label)
{
  pid_t pid;
  int st;
  fflush(stdout);
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    char *args[4];
    if (value) setenv("LIBEV_FLAGS", value, 1);
    else unsetenv("LIBEV_FLAGS");
    args[0] = (char *)self;
    args[1] = (char *)"env";
    args[2] = (char *)label;
    args[3] = NULL;
    execv(self, args);
    perror("execv");
    _exit(127);
  }
  CHECK(waitpid(pid, &st, 0) == pid);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    TRACE("  child %s", WIFEXITED(st) ? "exited non-zero" : "killed");
    fprintf(stderr, "child for LIBEV_FLAGS=%s: status 0x%x\n", value ? value : "(unset)", st);
  }
}

int main(int argc, char **argv)
{
  struct ev_loop *d;
  unsigned sup, rec, emb, i;
  const char *self;

  if (argc >= 3 && strcmp(argv[1], "env") == 0) return child_mode(argv[2]);

  WATCHDOG(25);
  self = strchr(argv[0], '/') ? argv[0] : "/proc/self/exe";

  TRACE("versions: lib %d.%d header %d.%d", ev_version_major(), ev_version_minor(),
        EV_VERSION_MAJOR, EV_VERSION_MINOR);
  TRACE("backend bits: SELECT=0x%x POLL=0x%x EPOLL=0x%x KQUEUE=0x%x DEVPOLL=0x%x PORT=0x%x "
        "LINUXAIO=0x%x IOURING=0x%x ALL=0x%x MASK=0x%x",
        EVBACKEND_SELECT, EVBACKEND_POLL, EVBACKEND_EPOLL, EVBACKEND_KQUEUE, EVBACKEND_DEVPOLL,
        EVBACKEND_PORT, EVBACKEND_LINUXAIO, EVBACKEND_IOURING, (unsigned)EVBACKEND_ALL,
        (unsigned)EVBACKEND_MASK);
  TRACE("flags: AUTO=0x%x NOENV=0x%x FORKCHECK=0x%x NOINOTIFY=0x%x NOSIGFD=0x%x SIGNALFD=0x%x "
        "NOSIGMASK=0x%x NOTIMERFD=0x%x", (unsigned)EVFLAG_AUTO, (unsigned)EVFLAG_NOENV,
        (unsigned)EVFLAG_FORKCHECK, (unsigned)EVFLAG_NOINOTIFY, (unsigned)EVFLAG_NOSIGFD,
        (unsigned)EVFLAG_SIGNALFD, (unsigned)EVFLAG_NOSIGMASK, (unsigned)EVFLAG_NOTIMERFD);

  sup = ev_supported_backends();
  rec = ev_recommended_backends();
  emb = ev_embeddable_backends();
  TRACE("supported: has epoll=%d poll=%d, within ALL=%d, no kqueue/devpoll/port=%d",
        !!(sup & EVBACKEND_EPOLL), !!(sup & EVBACKEND_POLL), (sup & ~EVBACKEND_ALL) == 0,
        (sup & (EVBACKEND_KQUEUE | EVBACKEND_DEVPOLL | EVBACKEND_PORT)) == 0);
  TRACE("recommended: non-empty=%d subset of supported=%d has epoll=%d", rec != 0,
        (rec & ~sup) == 0, !!(rec & EVBACKEND_EPOLL));
  TRACE("embeddable: within ALL=%d", (emb & ~EVBACKEND_ALL) == 0);

  d = test_default_loop();
  TRACE("default loop: backend is one supported bit=%d, is_default=%d, EV_DEFAULT_UC==loop %d",
        single_bit(ev_backend(d)) && (ev_backend(d) & sup), ev_is_default_loop(d),
        EV_DEFAULT_UC == d);
  TRACE("ev_default_loop again (other flags): same=%d", ev_default_loop(EVBACKEND_SELECT) == d);

  /* explicit backends with EVFLAG_NOENV: independent of the environment */
  TRACE("EVFLAG_NOENV loops:");
  new_loop_case("POLL|NOENV", EVBACKEND_POLL | EVFLAG_NOENV);
  new_loop_case("EPOLL|NOENV", EVBACKEND_EPOLL | EVFLAG_NOENV);
  new_loop_case("NOENV", EVFLAG_NOENV);
  new_loop_case("POLL|EPOLL|NOENV", EVBACKEND_POLL | EVBACKEND_EPOLL | EVFLAG_NOENV);
  new_loop_case("KQUEUE|POLL|NOENV", EVBACKEND_KQUEUE | EVBACKEND_POLL | EVFLAG_NOENV);
  for (i = 0; i < sizeof known_backends / sizeof known_backends[0]; i++) {
    unsigned b = known_backends[i];
    struct ev_loop *l = ev_loop_new(b | EVFLAG_NOENV);
    /* consistency: a single requested backend is used iff it is supported */
    TRACE("  ev_loop_new(0x%x|NOENV): consistent with ev_supported_backends=%d", b,
          ((l != NULL) == !!(sup & b) && (!l || ev_backend(l) == b)) || uring_fallback_ok(b, l));
    if (l) ev_loop_destroy(l);
  }
  for (i = 0; i < 2; i++) {
    unsigned req = i ? EVBACKEND_MASK : EVBACKEND_ALL;
    struct ev_loop *l = ev_loop_new(req | EVFLAG_NOENV);
    TRACE("  ev_loop_new(%s|NOENV): first supported in libev's probe order=%d",
          i ? "MASK" : "ALL", l && ev_backend(l) == expected_backend(req));
    if (l) ev_loop_destroy(l);
  }
  {
    struct ev_loop *l = ev_loop_new(EVBACKEND_KQUEUE | EVBACKEND_DEVPOLL | EVBACKEND_PORT |
                                    EVFLAG_NOENV);
    TRACE("  ev_loop_new(KQUEUE|DEVPOLL|PORT|NOENV) -> %s", l ? "non-NULL" : "NULL");
    if (l) ev_loop_destroy(l);
  }

  /* the environment: LIBEV_FLAGS replaces the flags passed in (unless NOENV) */
  TRACE("LIBEV_FLAGS (re-executed with fixed values):");
  run_child(self, NULL, "unset");
  run_child(self, "2", "2");
  run_child(self, "4", "4");
  run_child(self, "6", "6");
  run_child(self, "128", "128");
  run_child(self, "255", "255");
  run_child(self, "64", "64");
  run_child(self, "8", "8");
  run_child(self, "0", "0");
  run_child(self, "abc", "abc");
  run_child(self, "2junk", "2junk");
  run_child(self, "16777216", "16777216 (NOENV bit)");
  run_child(self, NULL, "unset; ev_default_loop(KQUEUE)");
  TRACE("done");
  return 0;
}
