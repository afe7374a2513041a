/* SPDX-License-Identifier: BSD-2-Clause
 *
 * macros.c -- what the watcher macros of ev.h write and return, observed in memory.
 *
 * Every watcher is first filled with a byte pattern, then a macro is applied and the fields are
 * printed, together with a note of which bytes the macro left alone. The program is built
 * against evring's ev.h and against libev 4.33's ev.h, as C and as C++; the outputs must be
 * identical (run-abi-checks.sh macros). It uses only macros and calls no library function, so
 * it links without any libev.
 */
#include <stdio.h>
#include <string.h>
#include <ev.h>

#define FILL 0xA5

static int invoked;

static void io_cb (EV_P_ ev_io *w, int revents)
{
  invoked = 1;
  printf ("  io_cb: loop is null %d, fd %d, revents 0x%x\n", EV_A == 0, w->fd, (unsigned) revents);
}
static void io_cb2 (EV_P_ ev_io *w, int revents) { (void) EV_A; (void) w; (void) revents; }
static void any_cb (EV_P_ ev_watcher *w, int revents) { (void) EV_A; (void) w; (void) revents; }
static void timer_cb (EV_P_ ev_timer *w, int revents) { (void) EV_A; (void) w; (void) revents; }
static void periodic_cb (EV_P_ ev_periodic *w, int revents) { (void) EV_A; (void) w; (void) revents; }
static ev_tstamp resched (ev_periodic *w, ev_tstamp now) EV_NOEXCEPT { (void) w; return now + 1.; }
static void signal_cb (EV_P_ ev_signal *w, int revents) { (void) EV_A; (void) w; (void) revents; }
static void child_cb (EV_P_ ev_child *w, int revents) { (void) EV_A; (void) w; (void) revents; }
static void stat_cb (EV_P_ ev_stat *w, int revents) { (void) EV_A; (void) w; (void) revents; }
static void idle_cb (EV_P_ ev_idle *w, int revents) { (void) EV_A; (void) w; (void) revents; }
static void prepare_cb (EV_P_ ev_prepare *w, int revents) { (void) EV_A; (void) w; (void) revents; }
static void check_cb (EV_P_ ev_check *w, int revents) { (void) EV_A; (void) w; (void) revents; }
static void fork_cb (EV_P_ ev_fork *w, int revents) { (void) EV_A; (void) w; (void) revents; }
static void cleanup_cb (EV_P_ ev_cleanup *w, int revents) { (void) EV_A; (void) w; (void) revents; }
static void embed_cb (EV_P_ ev_embed *w, int revents) { (void) EV_A; (void) w; (void) revents; }
static void async_cb (EV_P_ ev_async *w, int revents) { (void) EV_A; (void) w; (void) revents; }

/* 1 if the n bytes at p all still hold the fill pattern */
static int
untouched (const void *p, size_t n)
{
  const unsigned char *b = (const unsigned char *) p;
  size_t i;
  for (i = 0; i < n; i++)
    if (b[i] != FILL)
      return 0;
  return 1;
}

#define UNTOUCHED(w, field) untouched (&(w).field, sizeof (w).field)

/* The head every ev_init must produce: active 0, pending 0, priority 0, data left alone. */
#define SHOW_HEAD(name, w)                                                                     \
  printf ("%s: active %d pending %d priority %d data-untouched %d\n", name, (w).active,         \
          (w).pending, (w).priority, UNTOUCHED (w, data))

/* A user structure with a watcher as its first member, the way pgagroal uses them. */
struct conn
{
  struct ev_io io;
  int client_fd;
};

/* A user-defined watcher type built from the member-list macro. */
struct my_watcher
{
  EV_WATCHER (my_watcher)
  int extra;
};
static void my_cb (EV_P_ struct my_watcher *w, int revents) { (void) EV_A; (void) w; (void) revents; }

/* EV_CB declares a callback */
static EV_CB (io, io_cb3);
static EV_CB (io, io_cb3) { (void) EV_A; (void) w; (void) revents; }

int
main (void)
{
  ev_io io;
  ev_timer timer;
  ev_periodic periodic;
  ev_signal sig;
  ev_child child;
  ev_stat st;
  ev_idle idle;
  ev_prepare prepare;
  ev_check check;
  ev_fork fork_w;
  ev_cleanup cleanup;
  ev_embed embed;
  ev_async async_w;
  struct conn c;
  struct my_watcher mw;
  int other_loop_storage = 0;
  struct ev_loop *other = (struct ev_loop *) (void *) &other_loop_storage;
  const char *path = "some/path";

  /* ev_io: fd, events | EV__IOFDSET; next left alone */
  memset (&io, FILL, sizeof io);
  ev_io_init (&io, io_cb, 7, EV_READ);
  SHOW_HEAD ("ev_io_init", io);
  printf ("  cb ok %d, fd %d, events 0x%x, next-untouched %d\n", io.cb == io_cb, io.fd,
          (unsigned) io.events, UNTOUCHED (io, next));
  ev_io_modify (&io, EV_WRITE);
  printf ("ev_io_modify(WRITE) with fd bit set: events 0x%x\n", (unsigned) io.events);
  io.events = EV_READ;  /* what the library leaves after a start */
  ev_io_modify (&io, EV_READ | EV_WRITE);
  printf ("ev_io_modify(READ|WRITE) after a start: events 0x%x\n", (unsigned) io.events);
  ev_io_set (&io, 9, EV_WRITE);
  printf ("ev_io_set(9, WRITE): fd %d events 0x%x\n", io.fd, (unsigned) io.events);

  /* ev_timer: the relative delay goes into at */
  memset (&timer, FILL, sizeof timer);
  ev_timer_init (&timer, timer_cb, 2.5, 0.25);
  SHOW_HEAD ("ev_timer_init", timer);
  printf ("  cb ok %d, at %.3f repeat %.3f\n", timer.cb == timer_cb, timer.at, timer.repeat);

  /* ev_periodic */
  memset (&periodic, FILL, sizeof periodic);
  ev_periodic_init (&periodic, periodic_cb, 1.5, 60., resched);
  SHOW_HEAD ("ev_periodic_init", periodic);
  printf ("  cb ok %d, offset %.3f interval %.3f resched ok %d, at-untouched %d\n",
          periodic.cb == periodic_cb, periodic.offset, periodic.interval,
          periodic.reschedule_cb == resched, UNTOUCHED (periodic, at));
  periodic.at = 1234.5;
  printf ("ev_periodic_at: %.3f\n", ev_periodic_at (&periodic));
  printf ("  through void * %.3f, union %.3f\n", ev_periodic_at ((void *) &periodic),
          ev_periodic_at ((union ev_any_watcher *) (void *) &periodic));
  ev_periodic_set (&periodic, 0., 0., 0);
  printf ("ev_periodic_set(0,0,0): offset %.3f interval %.3f resched null %d\n", periodic.offset,
          periodic.interval, periodic.reschedule_cb == 0);

  /* ev_signal */
  memset (&sig, FILL, sizeof sig);
  ev_signal_init (&sig, signal_cb, 15);
  SHOW_HEAD ("ev_signal_init", sig);
  printf ("  cb ok %d, signum %d, next-untouched %d\n", sig.cb == signal_cb, sig.signum,
          UNTOUCHED (sig, next));

  /* ev_child: flags = !!trace; rpid/rstatus left alone */
  memset (&child, FILL, sizeof child);
  ev_child_init (&child, child_cb, 4321, 5);
  SHOW_HEAD ("ev_child_init", child);
  printf ("  cb ok %d, pid %d flags %d, rpid-untouched %d rstatus-untouched %d\n",
          child.cb == child_cb, child.pid, child.flags, UNTOUCHED (child, rpid),
          UNTOUCHED (child, rstatus));
  ev_child_set (&child, 0, 0);
  printf ("ev_child_set(0, 0): pid %d flags %d\n", child.pid, child.flags);

  /* ev_stat: wd = -2; timer, prev, attr left alone */
  memset (&st, FILL, sizeof st);
  ev_stat_init (&st, stat_cb, path, 0.5);
  SHOW_HEAD ("ev_stat_init", st);
  printf ("  cb ok %d, path ok %d, interval %.3f, wd %d, timer-untouched %d attr-untouched %d\n",
          st.cb == stat_cb, st.path == path, st.interval, st.wd, UNTOUCHED (st, timer),
          UNTOUCHED (st, attr));

  /* the watchers with nothing to set */
  memset (&idle, FILL, sizeof idle);
  ev_idle_init (&idle, idle_cb);
  SHOW_HEAD ("ev_idle_init", idle);
  memset (&prepare, FILL, sizeof prepare);
  ev_prepare_init (&prepare, prepare_cb);
  SHOW_HEAD ("ev_prepare_init", prepare);
  memset (&check, FILL, sizeof check);
  ev_check_init (&check, check_cb);
  SHOW_HEAD ("ev_check_init", check);
  memset (&fork_w, FILL, sizeof fork_w);
  ev_fork_init (&fork_w, fork_cb);
  SHOW_HEAD ("ev_fork_init", fork_w);
  memset (&cleanup, FILL, sizeof cleanup);
  ev_cleanup_init (&cleanup, cleanup_cb);
  SHOW_HEAD ("ev_cleanup_init", cleanup);
  printf ("  callbacks ok %d\n", idle.cb == idle_cb && prepare.cb == prepare_cb
          && check.cb == check_cb && fork_w.cb == fork_cb && cleanup.cb == cleanup_cb);

  /* ev_embed: other; the inner watchers left alone */
  memset (&embed, FILL, sizeof embed);
  ev_embed_init (&embed, embed_cb, other);
  SHOW_HEAD ("ev_embed_init", embed);
  printf ("  cb ok %d, other ok %d, io-untouched %d\n", embed.cb == embed_cb, embed.other == other,
          UNTOUCHED (embed, io));

  /* ev_async: sent left alone by init; ev_async_pending reads it */
  memset (&async_w, FILL, sizeof async_w);
  ev_async_init (&async_w, async_cb);
  SHOW_HEAD ("ev_async_init", async_w);
  printf ("  cb ok %d, sent-untouched %d\n", async_w.cb == async_cb,
          untouched ((const void *) &async_w.sent, sizeof async_w.sent));
  async_w.sent = 0;
  printf ("ev_async_pending: %d", ev_async_pending (&async_w));
  async_w.sent = 1;
  printf (" then %d\n", ev_async_pending (&async_w));

  /* generic accessors return the raw stored values */
  io.active = 5;
  io.pending = 3;
  printf ("ev_is_active %d ev_is_pending %d\n", ev_is_active (&io), ev_is_pending (&io));
  {
    ev_watcher *gw = (ev_watcher *) (void *) &io;  /* the generic view, as ev++.h and libev use */
    printf ("  through ev_watcher *: %d %d priority %d\n", ev_is_active (gw), ev_is_pending (gw),
            ev_priority (gw));
  }
  {
    const ev_io *cio = &io;
    printf ("  through const ev_io *: %d %d priority %d\n", ev_is_active (cio), ev_is_pending (cio),
            ev_priority (cio));
  }
  {
    /* Any pointer to the watcher's memory, as libev's macros take it: a void * (gevent's CFFI
     * bindings declare int ev_is_active (void *)), a union ev_any_watcher *. */
    void *vp = &io;
    union ev_any_watcher *u = (union ev_any_watcher *) vp;
    printf ("  through void *: %d %d priority %d", ev_is_active (vp), ev_is_pending (vp),
            ev_priority (vp));
    printf ("; union: %d %d priority %d\n", ev_is_active (u), ev_is_pending (u), ev_priority (u));
  }
  printf ("ev_set_priority(io, -2) yields %d, ", (int) (ev_set_priority (&io, -2)));
  printf ("ev_priority %d, field %d\n", ev_priority (&io), io.priority);
  {
    ev_watcher *gw = (ev_watcher *) (void *) &io;
    ev_set_priority (gw, 2);
    printf ("ev_set_priority through ev_watcher *: %d\n", ev_priority (&io));
  }
  {
    void *vp = &io;
    ev_set_priority (vp, 1);
    printf ("ev_set_priority through void *: %d\n", ev_priority (&io));
    ev_set_priority (vp, 2);
  }
  io.active = 0;
  io.pending = 0;

  /* callbacks */
  ev_set_cb (&io, io_cb2);
  printf ("ev_set_cb: field ok %d, ev_cb ok %d, ev_cb_ ok %d\n", io.cb == io_cb2, ev_cb (&io) == io_cb2,
          ev_cb_ (&io) == io_cb2);
  {
    /* the generic view of the same watcher, as the library and ev++.h use it */
    ev_watcher *gw = (ev_watcher *) (void *) &io;
    ev_set_cb (gw, any_cb);
    printf ("ev_set_cb through ev_watcher *: ev_cb ok %d, typed view sees it %d\n",
            ev_cb (gw) == any_cb, (void (*)(void)) ev_cb (&io) == (void (*)(void)) any_cb);
  }
  ev_set_cb (&io, io_cb);
  ev_io_set (&io, 11, EV_READ);
  {
    struct ev_loop *loop = 0;
    invoked = 0;
    EV_CB_INVOKE (&io, EV_READ | EV_TIMER);
    printf ("EV_CB_INVOKE invoked %d\n", invoked);
    invoked = 0;
    ev_cb (&io) (EV_A_ &io, EV_WRITE);
    printf ("ev_cb() call invoked %d\n", invoked);
  }
  ev_set_cb (&io, io_cb3);
  printf ("EV_CB-declared callback set ok %d\n", ev_cb (&io) == io_cb3);

  /* ev_init on a watcher embedded in a user structure, through a cast of the structure */
  memset (&c, FILL, sizeof c);
  ev_io_init ((struct ev_io *) &c, io_cb, 3, EV_READ);
  SHOW_HEAD ("embedded ev_io_init", c.io);
  printf ("  fd %d events 0x%x client_fd-untouched %d active %d\n", c.io.fd, (unsigned) c.io.events,
          UNTOUCHED (c, client_fd), ev_is_active ((struct ev_io *) &c));

  /* ev_init on a user-defined watcher type */
  memset (&mw, FILL, sizeof mw);
  ev_init (&mw, my_cb);
  SHOW_HEAD ("EV_WATCHER-built type ev_init", mw);
  printf ("  cb ok %d extra-untouched %d, size %u\n", mw.cb == my_cb, UNTOUCHED (mw, extra),
          (unsigned) sizeof mw);

  /* ev_init alone leaves the type-specific fields as they were */
  memset (&timer, FILL, sizeof timer);
  ev_init (&timer, timer_cb);
  printf ("ev_init(timer): at-untouched %d repeat-untouched %d\n", UNTOUCHED (timer, at),
          UNTOUCHED (timer, repeat));
  return 0;
}
