/* SPDX-License-Identifier: BSD-2-Clause
 *
 * layout.c -- print the binary layout and the constants that ev.h defines.
 *
 * The output is a plain text report: size and alignment of every watcher type, offset and size
 * of every field, and the value of every constant and configuration macro. The program is
 * built against evring's include/ev.h and against libev 4.33's ev.h (the oracle), as C and as
 * C++; all reports must be byte-identical (run-abi-checks.sh layout / layout-cxx).
 *
 * It calls no library function, so it needs no libev to link.
 */
#include <stdio.h>
#include <stddef.h>
#include <ev.h>

#if defined (__cplusplus) && __cplusplus >= 201103L
# define ALIGN_OF(T) alignof (T)
#elif defined (__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
# define ALIGN_OF(T) _Alignof (T)
#else
# define ALIGN_OF(T) ((size_t) __alignof__ (T))
#endif

/* One line per type, one indented line per field. */
#define TYPE(T)                                                                                \
  printf ("type %-22s size=%-4u align=%u\n", #T, (unsigned) sizeof (T), (unsigned) ALIGN_OF (T))
#define FIELD(T, f)                                                                            \
  printf ("  %-24s offset=%-4u size=%u\n", #f, (unsigned) offsetof (T, f),                     \
          (unsigned) sizeof (((T *) 0)->f))

/* The common head of every watcher. */
#define HEAD(T) FIELD (T, active); FIELD (T, pending); FIELD (T, priority); FIELD (T, data); FIELD (T, cb)

/* Integer constants and configuration macros: value, and whether the expression is signed.
 * (long rather than long long, so that the file is also valid C90 / C++98.) */
#define CONST(c)                                                                               \
  printf ("const %-20s = %-12ld (0x%08lx) size=%u %s\n", #c, (long) (c),                       \
          (unsigned long) (c) & 0xffffffffUL, (unsigned) sizeof (c),                            \
          ((c) * 0 - 1 > 0) ? "unsigned" : "signed")

int
main (void)
{
  printf ("# evring ABI layout report\n");

  /* versions and configuration */
  CONST (EV_VERSION_MAJOR);
  CONST (EV_VERSION_MINOR);
  CONST (EV_MULTIPLICITY);
  CONST (EV_COMPAT3);
  CONST (EV_FEATURES);
  CONST (EV_FEATURE_CODE);
  CONST (EV_FEATURE_DATA);
  CONST (EV_FEATURE_CONFIG);
  CONST (EV_FEATURE_API);
  CONST (EV_FEATURE_WATCHERS);
  CONST (EV_FEATURE_BACKENDS);
  CONST (EV_FEATURE_OS);
  CONST (EV_MINPRI);
  CONST (EV_MAXPRI);
  CONST (EV_PROTOTYPES);
  CONST (EV_PERIODIC_ENABLE);
  CONST (EV_STAT_ENABLE);
  CONST (EV_PREPARE_ENABLE);
  CONST (EV_CHECK_ENABLE);
  CONST (EV_IDLE_ENABLE);
  CONST (EV_FORK_ENABLE);
  CONST (EV_CLEANUP_ENABLE);
  CONST (EV_SIGNAL_ENABLE);
  CONST (EV_CHILD_ENABLE);
  CONST (EV_ASYNC_ENABLE);
  CONST (EV_EMBED_ENABLE);
  CONST (EV_WALK_ENABLE);
  CONST (EV_IO_ENABLE);

  /* event bits */
  CONST (EV_UNDEF);
  CONST (EV_NONE);
  CONST (EV_READ);
  CONST (EV_WRITE);
  CONST (EV__IOFDSET);
  CONST (EV_IO);
  CONST (EV_TIMER);
  CONST (EV_TIMEOUT);
  CONST (EV_PERIODIC);
  CONST (EV_SIGNAL);
  CONST (EV_CHILD);
  CONST (EV_STAT);
  CONST (EV_IDLE);
  CONST (EV_PREPARE);
  CONST (EV_CHECK);
  CONST (EV_EMBED);
  CONST (EV_FORK);
  CONST (EV_CLEANUP);
  CONST (EV_ASYNC);
  CONST (EV_CUSTOM);
  CONST (EV_ERROR);

  /* loop flags */
  CONST (EVFLAG_AUTO);
  CONST (EVFLAG_NOENV);
  CONST (EVFLAG_FORKCHECK);
  CONST (EVFLAG_NOINOTIFY);
  CONST (EVFLAG_NOSIGFD);
  CONST (EVFLAG_SIGNALFD);
  CONST (EVFLAG_NOSIGMASK);
  CONST (EVFLAG_NOTIMERFD);

  /* backends */
  CONST (EVBACKEND_SELECT);
  CONST (EVBACKEND_POLL);
  CONST (EVBACKEND_EPOLL);
  CONST (EVBACKEND_KQUEUE);
  CONST (EVBACKEND_DEVPOLL);
  CONST (EVBACKEND_PORT);
  CONST (EVBACKEND_LINUXAIO);
  CONST (EVBACKEND_IOURING);
  CONST (EVBACKEND_ALL);
  CONST (EVBACKEND_MASK);

  /* ev_run / ev_break arguments, and their libev 3.x names */
  CONST (EVRUN_NOWAIT);
  CONST (EVRUN_ONCE);
  CONST (EVBREAK_CANCEL);
  CONST (EVBREAK_ONE);
  CONST (EVBREAK_ALL);
  CONST (EVLOOP_NONBLOCK);
  CONST (EVLOOP_ONESHOT);
  CONST (EVUNLOOP_CANCEL);
  CONST (EVUNLOOP_ONE);
  CONST (EVUNLOOP_ALL);

  /* basic types */
  TYPE (ev_tstamp);
  printf ("  ev_tstamp is floating: %d\n", (ev_tstamp) 0.5 != 0);
  printf ("type %-22s size=%u\n", "EV_ATOMIC_T", (unsigned) sizeof (EV_ATOMIC_T));
  TYPE (ev_statdata);
  FIELD (ev_statdata, st_dev);
  FIELD (ev_statdata, st_ino);
  FIELD (ev_statdata, st_nlink);
  FIELD (ev_statdata, st_mode);
  FIELD (ev_statdata, st_uid);
  FIELD (ev_statdata, st_gid);
  FIELD (ev_statdata, st_rdev);
  FIELD (ev_statdata, st_size);
  FIELD (ev_statdata, st_mtime);
  TYPE (ev_loop_callback);

  /* watchers */
  TYPE (ev_watcher);      HEAD (ev_watcher);
  TYPE (ev_watcher_list); HEAD (ev_watcher_list); FIELD (ev_watcher_list, next);
  TYPE (ev_watcher_time); HEAD (ev_watcher_time); FIELD (ev_watcher_time, at);

  TYPE (ev_io);       HEAD (ev_io); FIELD (ev_io, next); FIELD (ev_io, fd); FIELD (ev_io, events);
  TYPE (ev_timer);    HEAD (ev_timer); FIELD (ev_timer, at); FIELD (ev_timer, repeat);
  TYPE (ev_periodic); HEAD (ev_periodic); FIELD (ev_periodic, at); FIELD (ev_periodic, offset);
                      FIELD (ev_periodic, interval); FIELD (ev_periodic, reschedule_cb);
  TYPE (ev_signal);   HEAD (ev_signal); FIELD (ev_signal, next); FIELD (ev_signal, signum);
  TYPE (ev_child);    HEAD (ev_child); FIELD (ev_child, next); FIELD (ev_child, flags);
                      FIELD (ev_child, pid); FIELD (ev_child, rpid); FIELD (ev_child, rstatus);
  TYPE (ev_stat);     HEAD (ev_stat); FIELD (ev_stat, next); FIELD (ev_stat, timer);
                      FIELD (ev_stat, interval); FIELD (ev_stat, path); FIELD (ev_stat, prev);
                      FIELD (ev_stat, attr); FIELD (ev_stat, wd);
  TYPE (ev_idle);     HEAD (ev_idle);
  TYPE (ev_prepare);  HEAD (ev_prepare);
  TYPE (ev_check);    HEAD (ev_check);
  TYPE (ev_fork);     HEAD (ev_fork);
  TYPE (ev_cleanup);  HEAD (ev_cleanup);
  TYPE (ev_embed);    HEAD (ev_embed); FIELD (ev_embed, other); FIELD (ev_embed, io);
                      FIELD (ev_embed, prepare); FIELD (ev_embed, check); FIELD (ev_embed, timer);
                      FIELD (ev_embed, periodic); FIELD (ev_embed, idle); FIELD (ev_embed, fork);
                      FIELD (ev_embed, cleanup);
  TYPE (ev_async);    HEAD (ev_async); FIELD (ev_async, sent);

  /* the struct tags are the same types as the typedefs */
  TYPE (struct ev_io);
  TYPE (struct ev_stat);

  TYPE (union ev_any_watcher);
  FIELD (union ev_any_watcher, w);
  FIELD (union ev_any_watcher, wl);
  FIELD (union ev_any_watcher, io);
  FIELD (union ev_any_watcher, timer);
  FIELD (union ev_any_watcher, periodic);
  FIELD (union ev_any_watcher, signal);
  FIELD (union ev_any_watcher, child);
  FIELD (union ev_any_watcher, stat);
  FIELD (union ev_any_watcher, idle);
  FIELD (union ev_any_watcher, prepare);
  FIELD (union ev_any_watcher, check);
  FIELD (union ev_any_watcher, fork);
  FIELD (union ev_any_watcher, cleanup);
  FIELD (union ev_any_watcher, embed);
  FIELD (union ev_any_watcher, async);

  printf ("# end\n");
  return 0;
}
