/* SPDX-License-Identifier: BSD-2-Clause
 *
 * embed.c -- watchers embedded as the first member of user structures, initialised through a
 * cast of the structure's address. This is how pgagroal 1.6.0 uses libev
 * (struct worker_io { struct ev_io io; ... }; ev_io_init ((struct ev_io *)&w, ...)).
 *
 * Compile-only. run-abi-checks.sh compiles it against evring's ev.h with pgagroal's own warning
 * flags (-Wall -Werror -O2, -std=c17, ev.h found through plain -I, not as a system header) and
 * more; it must compile cleanly. The same file compiled against a copy of libev's own ev.h in a
 * plain -I directory must FAIL with a strict-aliasing error (check "sysheader-fails"), which
 * shows that this file really exercises the problem.
 *
 * -Wstrict-aliasing=2 is not used on this file: at that level GCC flags the cast
 * "(struct ev_io *) &w" itself, whatever ev.h contains.
 */
#include <signal.h>
#include <stddef.h>
#include <ev.h>

struct accept_io
{
  struct ev_io io;
  int socket;
  char **argv;
};

struct worker_io
{
  struct ev_io io;
  int client_fd;
  int server_fd;
  int slot;
};

struct signal_info
{
  struct ev_signal signal;
  int slot;
};

struct periodic_info
{
  struct ev_periodic periodic;
  int kind;
};

struct timer_info
{
  struct ev_timer timer;
  int count;
};

static volatile int keep_running = 1;
static int last_fd;

static void
accept_cb (struct ev_loop *loop, struct ev_io *watcher, int revents)
{
  struct accept_io *ai = (struct accept_io *) watcher;

  if (EV_ERROR & revents)
    return;
  last_fd = watcher->fd + ai->socket;
  ev_break (loop, EVBREAK_ONE);
}

static void
client_cb (struct ev_loop *loop, struct ev_io *watcher, int revents)
{
  struct worker_io *wi = (struct worker_io *) watcher;

  (void) revents;
  last_fd = wi->client_fd + watcher->fd;
  ev_io_stop (loop, watcher);
  ev_break (loop, EVBREAK_ALL);
}

static void
signal_cb (struct ev_loop *loop, ev_signal *w, int revents)
{
  struct signal_info *si = (struct signal_info *) w;

  (void) revents;
  last_fd = si->signal.signum + si->slot;
  keep_running = 0;
  ev_break (loop, EVBREAK_ALL);
}

static void
periodic_cb (struct ev_loop *loop, ev_periodic *w, int revents)
{
  struct periodic_info *pi = (struct periodic_info *) w;

  (void) loop;
  if (EV_ERROR & revents)
    return;
  pi->kind++;
}

static void
timer_cb (struct ev_loop *loop, ev_timer *w, int revents)
{
  struct timer_info *ti = (struct timer_info *) w;

  (void) loop;
  (void) revents;
  ti->count++;
}

int embed_use (int listen_fd, int client_fd);

int
embed_use (int listen_fd, int client_fd)
{
  static struct accept_io io_main[4];
  static struct worker_io client_io;
  static struct signal_info signal_watcher[6];
  static struct periodic_info idle_timeout;
  static struct timer_info tick;
  static const int signals[6] = { SIGTERM, SIGHUP, SIGINT, SIGTRAP, SIGABRT, SIGALRM };
  struct ev_loop *main_loop;
  struct ev_loop *loop;
  unsigned int flags;
  int i;
  int r = 0;

  flags = EVBACKEND_EPOLL;  /* pgagroal computes the flags from its configuration */
  flags |= EVFLAG_AUTO;
  main_loop = ev_default_loop (flags);
  if (!main_loop)
    return -1;

  for (i = 0; i < 6; i++)
    {
      signal_watcher[i].slot = -1;
      ev_signal_init ((struct ev_signal *) &signal_watcher[i], signal_cb, signals[i]);
      ev_signal_start (main_loop, (struct ev_signal *) &signal_watcher[i]);
    }

  for (i = 0; i < 4; i++)
    {
      io_main[i].socket = listen_fd;
      ev_io_init ((struct ev_io *) &io_main[i], accept_cb, listen_fd, EV_READ);
      ev_io_start (main_loop, (struct ev_io *) &io_main[i]);
    }

  ev_periodic_init ((struct ev_periodic *) &idle_timeout, periodic_cb, 0., 5., 0);
  ev_periodic_start (main_loop, (struct ev_periodic *) &idle_timeout);

  ev_timer_init ((struct ev_timer *) &tick, timer_cb, 1., 1.);
  ev_timer_start (main_loop, (struct ev_timer *) &tick);

  while (keep_running)
    ev_loop (main_loop, 0);

  /* a worker: new loop, the watcher re-initialised and restarted for another fd */
  loop = ev_loop_new (EVFLAG_AUTO);
  client_io.client_fd = client_fd;
  ev_io_init ((struct ev_io *) &client_io, client_cb, client_fd, EV_READ);
  ev_io_start (loop, (struct ev_io *) &client_io);
  ev_io_stop (loop, (struct ev_io *) &client_io);
  ev_io_init ((struct ev_io *) &client_io, client_cb, client_fd + 1, EV_READ);
  ev_io_modify ((struct ev_io *) &client_io, EV_READ | EV_WRITE);
  ev_set_priority ((struct ev_io *) &client_io, 1);
  r += ev_priority ((struct ev_io *) &client_io);
  ev_set_cb ((struct ev_io *) &client_io, accept_cb);
  r += ev_cb ((struct ev_io *) &client_io) == accept_cb;
  ev_io_start (loop, (struct ev_io *) &client_io);
  r += ev_is_active ((struct ev_io *) &client_io) + ev_is_pending ((struct ev_io *) &client_io);
  r += (int) ev_periodic_at ((struct ev_periodic *) &idle_timeout);
  ev_run (loop, 0);
  ev_io_stop (loop, (struct ev_io *) &client_io);
  ev_loop_destroy (loop);

  for (i = 0; i < 4; i++)
    ev_io_stop (main_loop, (struct ev_io *) &io_main[i]);
  for (i = 0; i < 6; i++)
    ev_signal_stop (main_loop, (struct ev_signal *) &signal_watcher[i]);
  ev_loop_destroy (main_loop);
  return r + last_fd;
}
