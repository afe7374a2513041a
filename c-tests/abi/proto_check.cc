// SPDX-License-Identifier: BSD-2-Clause
//
// proto_check.cc -- the exact C++ type of every function, inline helper and public member that
// ev.h declares, checked at compile time.
//
// Since C++17, noexcept is part of a function's type, so these checks also pin down which
// functions are EV_NOEXCEPT (all except ev_run, ev_invoke_pending, ev_invoke and
// ev_loop_destroy) and which function-pointer parameters carry noexcept. The file is compiled
// (-std=c++17 -c) against evring's ev.h and against libev 4.33's ev.h; both must compile, which
// also proves that the expectations written here are libev's.
#include <csignal>
#include <type_traits>
#include <sys/stat.h>
#include <ev.h>

#if __cplusplus < 201703L
# error "compile with -std=c++17 or later: noexcept must be part of the function type"
#endif

namespace
{
  typedef struct ev_loop *L;

  template<class A, class B> struct same { static const bool value = std::is_same<A, B>::value; };

#define FN(name, ...) static_assert (same<decltype (&name), __VA_ARGS__>::value, "type of " #name)
#define MEMBER(T, m, ...) static_assert (same<decltype (T::m), __VA_ARGS__>::value, "type of " #T "::" #m)

  // library-wide
  FN (ev_version_major, int (*)() noexcept);
  FN (ev_version_minor, int (*)() noexcept);
  FN (ev_supported_backends, unsigned int (*)() noexcept);
  FN (ev_recommended_backends, unsigned int (*)() noexcept);
  FN (ev_embeddable_backends, unsigned int (*)() noexcept);
  FN (ev_time, ev_tstamp (*)() noexcept);
  FN (ev_sleep, void (*)(ev_tstamp) noexcept);
  FN (ev_set_allocator, void (*)(void *(*)(void *, long) noexcept) noexcept);
  FN (ev_set_syserr_cb, void (*)(void (*)(const char *) noexcept) noexcept);
  FN (ev_feed_signal, void (*)(int) noexcept);

  // loops
  FN (ev_default_loop, L (*)(unsigned int) noexcept);
  FN (ev_default_loop_uc_, L (*)() noexcept);
  FN (ev_is_default_loop, int (*)(L) noexcept);
  FN (ev_loop_new, L (*)(unsigned int) noexcept);
  FN (ev_loop_destroy, void (*)(L));
  FN (ev_loop_fork, void (*)(L) noexcept);
  FN (ev_backend, unsigned int (*)(L) noexcept);
  FN (ev_now, ev_tstamp (*)(L) noexcept);
  FN (ev_now_update, void (*)(L) noexcept);

  // running, hooks, introspection
  FN (ev_run, int (*)(L, int));
  FN (ev_break, void (*)(L, int) noexcept);
  FN (ev_ref, void (*)(L) noexcept);
  FN (ev_unref, void (*)(L) noexcept);
  FN (ev_once, void (*)(L, int, int, ev_tstamp, void (*)(int, void *), void *) noexcept);
  FN (ev_invoke_pending, void (*)(L));
  FN (ev_iteration, unsigned int (*)(L) noexcept);
  FN (ev_depth, unsigned int (*)(L) noexcept);
  FN (ev_verify, void (*)(L) noexcept);
  FN (ev_set_io_collect_interval, void (*)(L, ev_tstamp) noexcept);
  FN (ev_set_timeout_collect_interval, void (*)(L, ev_tstamp) noexcept);
  FN (ev_set_userdata, void (*)(L, void *) noexcept);
  FN (ev_userdata, void *(*)(L) noexcept);
  static_assert (same<ev_loop_callback, void (*)(L)>::value, "ev_loop_callback");
  FN (ev_set_invoke_pending_cb, void (*)(L, void (*)(L)) noexcept);
  FN (ev_set_loop_release_cb, void (*)(L, void (*)(L) noexcept, void (*)(L) noexcept) noexcept);
  FN (ev_pending_count, unsigned int (*)(L) noexcept);
  FN (ev_suspend, void (*)(L) noexcept);
  FN (ev_resume, void (*)(L) noexcept);

  // generic watcher functions
  FN (ev_feed_event, void (*)(L, void *, int) noexcept);
  FN (ev_feed_fd_event, void (*)(L, int, int) noexcept);
  FN (ev_feed_signal_event, void (*)(L, int) noexcept);
  FN (ev_invoke, void (*)(L, void *, int));
  FN (ev_clear_pending, int (*)(L, void *) noexcept);

  // per watcher type
  FN (ev_io_start, void (*)(L, ev_io *) noexcept);
  FN (ev_io_stop, void (*)(L, ev_io *) noexcept);
  FN (ev_timer_start, void (*)(L, ev_timer *) noexcept);
  FN (ev_timer_stop, void (*)(L, ev_timer *) noexcept);
  FN (ev_timer_again, void (*)(L, ev_timer *) noexcept);
  FN (ev_timer_remaining, ev_tstamp (*)(L, ev_timer *) noexcept);
  FN (ev_periodic_start, void (*)(L, ev_periodic *) noexcept);
  FN (ev_periodic_stop, void (*)(L, ev_periodic *) noexcept);
  FN (ev_periodic_again, void (*)(L, ev_periodic *) noexcept);
  FN (ev_signal_start, void (*)(L, ev_signal *) noexcept);
  FN (ev_signal_stop, void (*)(L, ev_signal *) noexcept);
  FN (ev_child_start, void (*)(L, ev_child *) noexcept);
  FN (ev_child_stop, void (*)(L, ev_child *) noexcept);
  FN (ev_stat_start, void (*)(L, ev_stat *) noexcept);
  FN (ev_stat_stop, void (*)(L, ev_stat *) noexcept);
  FN (ev_stat_stat, void (*)(L, ev_stat *) noexcept);
  FN (ev_idle_start, void (*)(L, ev_idle *) noexcept);
  FN (ev_idle_stop, void (*)(L, ev_idle *) noexcept);
  FN (ev_prepare_start, void (*)(L, ev_prepare *) noexcept);
  FN (ev_prepare_stop, void (*)(L, ev_prepare *) noexcept);
  FN (ev_check_start, void (*)(L, ev_check *) noexcept);
  FN (ev_check_stop, void (*)(L, ev_check *) noexcept);
  FN (ev_fork_start, void (*)(L, ev_fork *) noexcept);
  FN (ev_fork_stop, void (*)(L, ev_fork *) noexcept);
  FN (ev_cleanup_start, void (*)(L, ev_cleanup *) noexcept);
  FN (ev_cleanup_stop, void (*)(L, ev_cleanup *) noexcept);
  FN (ev_embed_start, void (*)(L, ev_embed *) noexcept);
  FN (ev_embed_stop, void (*)(L, ev_embed *) noexcept);
  FN (ev_embed_sweep, void (*)(L, ev_embed *) noexcept);
  FN (ev_async_start, void (*)(L, ev_async *) noexcept);
  FN (ev_async_stop, void (*)(L, ev_async *) noexcept);
  FN (ev_async_send, void (*)(L, ev_async *) noexcept);

  // libev 3.x wrappers (header-only, not noexcept)
  FN (ev_loop, void (*)(L, int));
  FN (ev_unloop, void (*)(L, int));
  FN (ev_default_destroy, void (*)());
  FN (ev_default_fork, void (*)());
  FN (ev_loop_count, unsigned int (*)(L));
  FN (ev_loop_depth, unsigned int (*)(L));
  FN (ev_loop_verify, void (*)(L));

  // basic types
  static_assert (same<ev_tstamp, double>::value, "ev_tstamp");
  static_assert (same<ev_statdata, struct stat>::value, "ev_statdata");

  // the common head, and each type's callback
  MEMBER (ev_watcher, active, int);
  MEMBER (ev_watcher, pending, int);
  MEMBER (ev_watcher, priority, int);
  MEMBER (ev_watcher, data, void *);
  MEMBER (ev_watcher, cb, void (*)(L, ev_watcher *, int));
  MEMBER (ev_watcher_list, cb, void (*)(L, ev_watcher_list *, int));
  MEMBER (ev_watcher_list, next, ev_watcher_list *);
  MEMBER (ev_watcher_time, cb, void (*)(L, ev_watcher_time *, int));
  MEMBER (ev_watcher_time, at, ev_tstamp);

  MEMBER (ev_io, cb, void (*)(L, ev_io *, int));
  MEMBER (ev_io, next, ev_watcher_list *);
  MEMBER (ev_io, fd, int);
  MEMBER (ev_io, events, int);
  MEMBER (ev_timer, cb, void (*)(L, ev_timer *, int));
  MEMBER (ev_timer, at, ev_tstamp);
  MEMBER (ev_timer, repeat, ev_tstamp);
  MEMBER (ev_periodic, cb, void (*)(L, ev_periodic *, int));
  MEMBER (ev_periodic, at, ev_tstamp);
  MEMBER (ev_periodic, offset, ev_tstamp);
  MEMBER (ev_periodic, interval, ev_tstamp);
  MEMBER (ev_periodic, reschedule_cb, ev_tstamp (*)(ev_periodic *, ev_tstamp) noexcept);
  MEMBER (ev_signal, cb, void (*)(L, ev_signal *, int));
  MEMBER (ev_signal, signum, int);
  MEMBER (ev_child, cb, void (*)(L, ev_child *, int));
  MEMBER (ev_child, flags, int);
  MEMBER (ev_child, pid, int);
  MEMBER (ev_child, rpid, int);
  MEMBER (ev_child, rstatus, int);
  MEMBER (ev_stat, cb, void (*)(L, ev_stat *, int));
  MEMBER (ev_stat, timer, ev_timer);
  MEMBER (ev_stat, interval, ev_tstamp);
  MEMBER (ev_stat, path, const char *);
  MEMBER (ev_stat, prev, ev_statdata);
  MEMBER (ev_stat, attr, ev_statdata);
  MEMBER (ev_stat, wd, int);
  MEMBER (ev_idle, cb, void (*)(L, ev_idle *, int));
  MEMBER (ev_prepare, cb, void (*)(L, ev_prepare *, int));
  MEMBER (ev_check, cb, void (*)(L, ev_check *, int));
  MEMBER (ev_fork, cb, void (*)(L, ev_fork *, int));
  MEMBER (ev_cleanup, cb, void (*)(L, ev_cleanup *, int));
  MEMBER (ev_embed, cb, void (*)(L, ev_embed *, int));
  MEMBER (ev_embed, other, L);
  MEMBER (ev_embed, io, ev_io);
  MEMBER (ev_embed, prepare, ev_prepare);
  MEMBER (ev_embed, check, ev_check);
  MEMBER (ev_embed, timer, ev_timer);
  MEMBER (ev_embed, periodic, ev_periodic);
  MEMBER (ev_embed, idle, ev_idle);
  MEMBER (ev_embed, fork, ev_fork);
  MEMBER (ev_embed, cleanup, ev_cleanup);
  MEMBER (ev_async, cb, void (*)(L, ev_async *, int));
  MEMBER (ev_async, sent, volatile sig_atomic_t);

  // the typedef names are the struct tags
  static_assert (same<ev_io, struct ev_io>::value && same<ev_stat, struct ev_stat>::value
                 && same<ev_async, struct ev_async>::value, "typedefs");

  // constants: one enum for the event bits (so they combine without C++20 enum-enum
  // warnings), separate ones for flags, backends, ev_run and ev_break arguments
  static_assert (same<decltype (EV_READ), decltype (EV_ERROR)>::value
                 && same<decltype (EV_READ), decltype (EV_UNDEF)>::value
                 && same<decltype (EV_READ), decltype (EV_TIMEOUT)>::value
                 && same<decltype (EV_READ), decltype (EV_CUSTOM)>::value, "event bits: one enum");
  static_assert (std::is_enum<decltype (EV_READ)>::value && std::is_enum<decltype (EVFLAG_AUTO)>::value
                 && std::is_enum<decltype (EVBACKEND_EPOLL)>::value
                 && std::is_enum<decltype (EVRUN_ONCE)>::value
                 && std::is_enum<decltype (EVBREAK_ALL)>::value, "constants are enumerators");
  static_assert (same<decltype (EVFLAG_NOENV), decltype (EVFLAG_NOSIGFD)>::value
                 && !same<decltype (EVFLAG_NOENV), decltype (EVBACKEND_EPOLL)>::value
                 && same<decltype (EVBACKEND_SELECT), decltype (EVBACKEND_MASK)>::value
                 && !same<decltype (EVRUN_ONCE), decltype (EVBREAK_ONE)>::value
                 && !same<decltype (EV_READ), decltype (EVFLAG_AUTO)>::value, "enum grouping");
  static_assert (EV_READ == 1 && EV_WRITE == 2 && EV__IOFDSET == 0x80 && EV_TIMER == 0x100
                 && EV_ERROR == -0x7fffffff - 1 && EV_UNDEF == -1 && EVBREAK_ONE == 1
                 && EVRUN_NOWAIT == 1 && EVBACKEND_IOURING == 0x80 && EVFLAG_NOENV == 0x01000000,
                 "a few values (layout.c prints all of them)");

  // C++ default arguments
  [[maybe_unused]] void
  default_arguments ()
  {
    L l = ev_default_loop ();
    L n = ev_loop_new ();
    ev_run (l);
    ev_break (n);
  }
}
