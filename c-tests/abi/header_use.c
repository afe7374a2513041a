/* SPDX-License-Identifier: BSD-2-Clause
 *
 * header_use.c -- call every function and inline helper that ev.h declares, with arguments of
 * the declared types, and use the loop-argument macros and libev 3.x names.
 *
 * Compile-only (-c): run-abi-checks.sh compiles it, together with macros.c, layout.c and
 * embed.c, with gcc and clang for several C standards and as C++ under
 * -Wall -Wextra -Werror -pedantic -O2 -fstrict-aliasing -Wstrict-aliasing=2.
 */
#include <signal.h>
#include <ev.h>

static void io_cb (EV_P_ ev_io *w, int revents) { (void) w; (void) revents; ev_break (EV_A_ EVBREAK_ONE); }
static void timer_cb (EV_P_ ev_timer *w, int revents) { (void) revents; ev_timer_again (EV_A_ w); }
static void periodic_cb (EV_P_ ev_periodic *w, int revents) { (void) EV_A; (void) w; (void) revents; }
static ev_tstamp resched (ev_periodic *w, ev_tstamp now) EV_NOEXCEPT { (void) w; return now + 60.; }
static void signal_cb (EV_P_ ev_signal *w, int revents) { (void) w; (void) revents; ev_break (EV_A_ EVBREAK_ALL); }
static void child_cb (EV_P_ ev_child *w, int revents) { (void) EV_A; (void) revents; w->rpid = 0; }
static void stat_cb (EV_P_ ev_stat *w, int revents) { (void) revents; ev_stat_stat (EV_A_ w); }
static void idle_cb (EV_P_ ev_idle *w, int revents) { (void) revents; ev_idle_stop (EV_A_ w); }
static void prepare_cb (EV_P_ ev_prepare *w, int revents) { (void) EV_A; (void) w; (void) revents; }
static void check_cb (EV_P_ ev_check *w, int revents) { (void) EV_A; (void) w; (void) revents; }
static void fork_cb (EV_P_ ev_fork *w, int revents) { (void) EV_A; (void) w; (void) revents; }
static void cleanup_cb (EV_P_ ev_cleanup *w, int revents) { (void) EV_A; (void) w; (void) revents; }
static void embed_cb (EV_P_ ev_embed *w, int revents) { (void) revents; ev_embed_sweep (EV_A_ w); }
static void async_cb (EV_P_ ev_async *w, int revents) { (void) EV_A; (void) w; (void) revents; }
static void once_cb (int revents, void *arg) { (void) revents; (void) arg; }
static void *my_alloc (void *ptr, long size) EV_NOEXCEPT { (void) ptr; (void) size; return 0; }
static void my_syserr (const char *msg) EV_NOEXCEPT { (void) msg; }
static void my_invoke (EV_P) { ev_invoke_pending (EV_A); }
static void my_release (EV_P) EV_NOEXCEPT { (void) EV_A; }
static void my_acquire (EV_P) EV_NOEXCEPT { (void) EV_A; }

/* the loop-argument macros in a declaration and a call */
static unsigned int depth_of (EV_P) { return ev_depth (EV_A); }
static void run_once (EV_P_ int flags) { ev_run (EV_A_ flags); }

int header_use (void);

int
header_use (void)
{
  static ev_io io;
  static ev_timer timer;
  static ev_periodic periodic;
  static ev_signal sig;
  static ev_child child;
  static ev_stat st;
  static ev_idle idle;
  static ev_prepare prepare;
  static ev_check check;
  static ev_fork fork_w;
  static ev_cleanup cleanup;
  static ev_embed embed;
  static ev_async async_w;
  struct ev_loop *loop;
  struct ev_loop *inner;
  unsigned int u = 0;
  int r = 0;
  ev_tstamp t = 0.;
  void *p;

  /* library-wide */
  r += ev_version_major () + ev_version_minor ();
  u += ev_supported_backends () | ev_recommended_backends () | ev_embeddable_backends ();
  t += ev_time ();
  ev_sleep (0.);
  ev_set_allocator (my_alloc);
  ev_set_syserr_cb (my_syserr);
  ev_feed_signal (SIGUSR1);

  /* loops */
  loop = ev_default_loop (EVFLAG_AUTO);
  loop = EV_DEFAULT;
  loop = EV_DEFAULT_UC;
  loop = ev_default_loop_uc_ ();
  r += ev_is_default_loop (loop);
  /* (unsigned int): C++20 deprecates | between the flag and the backend enums */
  inner = ev_loop_new ((unsigned int) EVBACKEND_EPOLL | EVFLAG_NOENV | EVFLAG_FORKCHECK);
  ev_loop_fork (loop);
  u += ev_backend (loop);
  t += ev_now (loop);
  ev_now_update (loop);

  /* running */
  r += ev_run (loop, EVRUN_NOWAIT);
  run_once (EV_A_ EVRUN_ONCE);
  ev_break (loop, EVBREAK_CANCEL);
  ev_ref (loop);
  ev_unref (loop);
  ev_once (loop, 0, EV_READ, 1.5, once_cb, &r);
  ev_invoke_pending (loop);
  u += ev_iteration (loop) + ev_depth (loop) + depth_of (loop);
  ev_verify (loop);
  ev_set_io_collect_interval (loop, 0.01);
  ev_set_timeout_collect_interval (loop, 0.01);
  ev_set_userdata (loop, &r);
  p = ev_userdata (loop);
  ev_set_invoke_pending_cb (loop, my_invoke);
  ev_set_loop_release_cb (loop, my_release, my_acquire);
  u += ev_pending_count (loop);
  ev_suspend (loop);
  ev_resume (loop);

  /* every watcher type */
  ev_io_init (&io, io_cb, 0, EV_READ | EV_WRITE);
  ev_io_start (loop, &io);
  ev_io_stop (loop, &io);
  ev_timer_init (&timer, timer_cb, 1., 0.);
  ev_timer_start (loop, &timer);
  ev_timer_again (loop, &timer);
  t += ev_timer_remaining (loop, &timer);
  ev_timer_stop (loop, &timer);
  ev_periodic_init (&periodic, periodic_cb, 0., 60., resched);
  ev_periodic_start (loop, &periodic);
  ev_periodic_again (loop, &periodic);
  t += ev_periodic_at (&periodic);
  ev_periodic_stop (loop, &periodic);
  ev_signal_init (&sig, signal_cb, SIGUSR2);
  ev_signal_start (loop, &sig);
  ev_signal_stop (loop, &sig);
  ev_child_init (&child, child_cb, 0, 1);
  ev_child_start (loop, &child);
  ev_child_stop (loop, &child);
  ev_stat_init (&st, stat_cb, "/", 0.);
  ev_stat_start (loop, &st);
  ev_stat_stat (loop, &st);
  ev_stat_stop (loop, &st);
  ev_idle_init (&idle, idle_cb);
  ev_idle_start (loop, &idle);
  ev_idle_stop (loop, &idle);
  ev_prepare_init (&prepare, prepare_cb);
  ev_prepare_start (loop, &prepare);
  ev_prepare_stop (loop, &prepare);
  ev_check_init (&check, check_cb);
  ev_check_start (loop, &check);
  ev_check_stop (loop, &check);
  ev_fork_init (&fork_w, fork_cb);
  ev_fork_start (loop, &fork_w);
  ev_fork_stop (loop, &fork_w);
  ev_cleanup_init (&cleanup, cleanup_cb);
  ev_cleanup_start (loop, &cleanup);
  ev_cleanup_stop (loop, &cleanup);
  ev_embed_init (&embed, embed_cb, inner);
  ev_embed_start (loop, &embed);
  ev_embed_sweep (loop, &embed);
  ev_embed_stop (loop, &embed);
  ev_async_init (&async_w, async_cb);
  ev_async_start (loop, &async_w);
  ev_async_send (loop, &async_w);
  r += ev_async_pending (&async_w);
  ev_async_stop (loop, &async_w);

  /* generic watcher functions and accessors */
  ev_set_priority (&io, EV_MAXPRI);
  r += ev_priority (&io) + ev_is_active (&io) + ev_is_pending (&io);
  ev_feed_event (loop, &io, EV_READ);
  ev_feed_fd_event (loop, 0, EV_WRITE);
  ev_feed_signal_event (loop, SIGUSR2);
  ev_invoke (loop, &io, EV_CUSTOM);
  r += ev_clear_pending (loop, &io);
  r += (ev_cb (&io) == io_cb);

  /* libev 3.x names */
  ev_loop (loop, EVLOOP_NONBLOCK);
  ev_loop (loop, EVLOOP_ONESHOT);
  ev_unloop (loop, EVUNLOOP_ALL);
  ev_unloop (loop, EVUNLOOP_ONE);
  ev_unloop (loop, EVUNLOOP_CANCEL);
  u += ev_loop_count (loop) + ev_loop_depth (loop);
  ev_loop_verify (loop);
  ev_default_fork ();
  r += (EV_TIMEOUT == EV_TIMER) + (EVFLAG_NOSIGFD == 0);

  ev_loop_destroy (inner);
  ev_default_destroy ();
  ev_loop_destroy (EV_DEFAULT_UC);

  return r + (int) u + (t > 0.) + (p != 0);
}
