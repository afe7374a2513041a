// SPDX-License-Identifier: BSD-2-Clause
//
// evxx.cc -- libev's own C++ wrapper, ev++.h, compiled on top of evring's ev.h.
//
// ev++.h includes "ev.h" with quotes, which finds the ev.h next to ev++.h first (libev's, in the
// system include directory). To make it use evring's header, this file either includes <ev.h>
// first (found through -I; ev++.h's own include is then skipped by the include guard), or is
// compiled with -DEV_H='<ev.h>', which ev++.h honours. run-abi-checks.sh compiles both ways,
// checks with -M which ev.h was read, and also compiles against libev's own header.
//
// Compile-only. Only members that also compile with libev's own ev.h are used (ev++.h's
// operator() and embed::start(loop) do not compile in a multi-loop build, with either header).
#ifdef EVXX_INCLUDE_EV_H_FIRST
# include <ev.h>
#endif
#include <ev++.h>

namespace
{
  struct handler
  {
    int calls;

    void on_io (ev::io &w, int revents) { calls += revents; w.stop (); }
    void on_timer (ev::timer &w, int revents) { calls += revents; w.again (); }
    void on_periodic (ev::periodic &w, int revents) { calls += revents; w.again (); }
    void on_signal (ev::sig &w, int revents) { calls += revents + w.signum; }
    void on_child (ev::child &w, int revents) { calls += revents + w.rpid; }
    void on_stat (ev::stat &w, int revents) { calls += revents; w.update (); }
    void on_idle (ev::idle &w, int) { w.stop (); }
    void on_prepare (ev::prepare &, int) { }
    void on_check (ev::check &, int) { }
    void on_fork (ev::fork &, int) { }
    void on_embed (ev::embed &w, int) { w.sweep (); }
    void on_async (ev::async &w, int) { calls += w.async_pending (); }
    void no_args () { calls++; }
    void operator () (ev::timer &, int) { calls++; }
  };

  void free_function (ev::io &w, int revents) { (void) w; (void) revents; }
  void once_cb (int revents, void *arg) { (void) revents; (void) arg; }
}

int evxx_use (int fd);

int
evxx_use (int fd)
{
  handler h = handler ();
  ev::default_loop loop (ev::AUTO);
  ev::dynamic_loop inner (ev::EPOLL | ev::NOENV);
  ev::loop_ref ref = ev::get_default_loop ();

  ev::io io (loop);
  io.set<handler, &handler::on_io> (&h);
  io.start (fd, ev::READ | ev::WRITE);
  io.set (ev::READ);
  io.set (fd, ev::WRITE);
  io.start ();
  io.feed_event (ev::READ);
  h.calls += io.is_active () + io.is_pending ();
  io.set<free_function> ();
  io.stop ();

  ev::timer timer (loop);
  timer.set<handler, &handler::on_timer> (&h);
  timer.start (1., 2.);
  h.calls += (int) timer.remaining ();
  timer.set<handler, &handler::no_args> (&h);
  timer.set (&h);  // handler::operator ()
  timer.stop ();

  ev::periodic periodic (loop);
  periodic.set<handler, &handler::on_periodic> (&h);
  periodic.start (0., 60.);
  periodic.stop ();

  ev::sig sig (loop);
  sig.set<handler, &handler::on_signal> (&h);
  sig.start (SIGUSR1);
  sig.stop ();

  ev::child child (loop);
  child.set<handler, &handler::on_child> (&h);
  child.start (0, 1);
  child.stop ();

  ev::stat st (loop);
  st.set<handler, &handler::on_stat> (&h);
  st.start ("/", 1.);
  st.stop ();

  ev::idle idle (loop);
  idle.set<handler, &handler::on_idle> (&h);
  idle.start ();
  ev::prepare prepare (loop);
  prepare.set<handler, &handler::on_prepare> (&h);
  prepare.start ();
  ev::check check (loop);
  check.set<handler, &handler::on_check> (&h);
  check.start ();
  ev::fork fork_w (loop);
  fork_w.set<handler, &handler::on_fork> (&h);
  fork_w.start ();

  ev::embed embed (loop);
  embed.set<handler, &handler::on_embed> (&h);
  embed.set_embed (inner);
  embed.start ();
  embed.stop ();

  ev::async async_w (loop);
  async_w.set<handler, &handler::on_async> (&h);
  async_w.start ();
  async_w.send ();

  loop.once (fd, ev::READ, 0.5, once_cb, &h);
  loop.run (ev::NOWAIT);
  loop.run (ev::ONCE);
  loop.loop (ev::NONBLOCK);
  loop.break_loop (ev::ALL);
  loop.unloop (ev::ONE);
  loop.ref ();
  loop.unref ();
  loop.post_fork ();
  loop.set_io_collect_interval (0.);
  loop.set_timeout_collect_interval (0.);
  loop.feed_fd_event (fd, ev::READ);
  loop.feed_signal_event (SIGUSR1);
  h.calls += (int) loop.backend () + (int) loop.iteration () + (int) loop.depth ()
             + (int) (loop.now () > 0.) + (ref == loop) + ref.is_default ();
  h.calls += (int) (ev::now (loop) > 0.) + (int) ev::supported_backends () + (int) ev::version_major ();
  return h.calls;
}
