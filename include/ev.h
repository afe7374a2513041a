/* SPDX-License-Identifier: BSD-2-Clause
 *
 * ev.h -- the public C header of evring.
 *
 * evring is an implementation of the libev 4.33 event loop written in Rust. Its build produces
 * libev.so.4 and libev.a, which export the same C ABI as libev 4.33: the same function and data
 * symbols, the same watcher structures and the same constants. A program that was built against
 * libev 4.33 can run on evring's libev.so.4 unchanged, and a program can be rebuilt against this
 * header without source changes.
 *
 * This header was written for evring. It is not a copy of libev's ev.h, but it provides the same
 * names with the same meaning, and is ABI-compatible with libev 4.33 in its default configuration
 * on Linux (multiple loops, all watcher types, priorities -2..2). Code written for libev's header,
 * including libev's C++ wrapper ev++.h, compiles against it. The libev manual (man 3 ev) documents
 * the API described here.
 *
 * How to read this file:
 *   1. configuration knobs (EV_MULTIPLICITY, EV_FEATURES, EV_*_ENABLE, ...)
 *   2. basic types and the loop-argument macros (EV_P, EV_A, EV_DEFAULT, ...)
 *   3. constants: event bits, loop flags, backends, ev_run/ev_break arguments
 *   4. the watcher structures; their layout is part of the ABI
 *   5. functions exported by the library, and the few inline helpers
 *   6. the watcher macros (ev_init, ev_io_set, ev_is_active, ...)
 *   7. names kept for code written against libev 3.x
 *
 * About the watcher macros (section 6): watchers live in the caller's memory, and programs often
 * embed them as the first member of their own structures, e.g.
 *     struct conn { struct ev_io io; int client_fd; };
 *     ev_io_init ((struct ev_io *)&c, conn_cb, fd, EV_READ);
 * Every macro here reads and writes watcher fields through the pointer's own type
 * ((ev)->active, (ev)->cb, ...), never through a cast to a generic "base" type. libev's macros
 * cast to ev_watcher *, and with such a pointer GCC reports a strict-aliasing violation at -O2
 * (-Werror=strict-aliasing) whenever the header is not a system header. The fields have the
 * same names in every watcher type, so the macros still work on any watcher, including the
 * generic ev_watcher *. ev_is_active, ev_is_pending, ev_priority, ev_set_priority and
 * ev_periodic_at also accept a void pointer, as libev's do (through a may_alias view, see
 * section 6).
 */

/* The guard has the same name as libev's, so that including both this header and libev's in one
 * translation unit is harmless: only the first one counts. */
#ifndef EV_H_
#define EV_H_

/* ===================================================================================== *
 * 0. C++ support
 * ===================================================================================== */

/* EV_CPP(x) expands to x only when compiling as C++. It is used for C++ default arguments. */
#ifdef __cplusplus
# define EV_CPP(x) x
#else
# define EV_CPP(x)
#endif

/* In C++11 and later, the functions that never run user callbacks are declared noexcept. The
 * four functions that do run callbacks (ev_run, ev_invoke_pending, ev_invoke and
 * ev_loop_destroy) are not, so a C++ callback may throw through them. */
#if defined (__cplusplus) && __cplusplus >= 201103L
# define EV_NOEXCEPT noexcept
#else
# define EV_NOEXCEPT
#endif

/* The name used before libev 4.25; kept for old code. */
#define EV_THROW EV_NOEXCEPT

/* ===================================================================================== *
 * 1. Configuration
 *
 * libev lets the code that includes its header set these knobs first. The same #define before
 * #include works here. But the library is prebuilt with the defaults below. So the knobs that
 * only hide parts of the API may be changed. The knobs that would change what the library sees
 * (structure layout, the loop argument) are checked, and the header refuses to compile with a
 * setting that cannot work with libev.so.4.
 * ===================================================================================== */

/* Keep the libev 3.x names (section 7). With EV_COMPAT3 set to 0, they disappear and
 * "ev_loop" becomes a typedef for "struct ev_loop" instead of a function. */
#ifndef EV_COMPAT3
# define EV_COMPAT3 1
#endif

/* EV_FEATURES is a bit set that says what libev was built with. Only three bits matter to users
 * of this header: CONFIG (priorities and multiple loops), API (the introspection and hook
 * functions) and WATCHERS (the watcher types beyond io and timer). libev's header reports 0x7c
 * instead of 0x7f when compiling with -Os (__OPTIMIZE_SIZE__); this header does the same. The
 * difference is in the CODE and DATA bits, which describe how the library itself was optimised
 * and change nothing here. */
#ifndef EV_FEATURES
# ifdef __OPTIMIZE_SIZE__
#  define EV_FEATURES 0x7c
# else
#  define EV_FEATURES 0x7f
# endif
#endif

#define EV_FEATURE_CODE     ((EV_FEATURES) & 0x01)
#define EV_FEATURE_DATA     ((EV_FEATURES) & 0x02)
#define EV_FEATURE_CONFIG   ((EV_FEATURES) & 0x04)
#define EV_FEATURE_API      ((EV_FEATURES) & 0x08)
#define EV_FEATURE_WATCHERS ((EV_FEATURES) & 0x10)
#define EV_FEATURE_BACKENDS ((EV_FEATURES) & 0x20)
#define EV_FEATURE_OS       ((EV_FEATURES) & 0x40)

/* Watcher priorities, both ends inclusive. Pending watchers with a higher priority are invoked
 * first. The library clamps the priority of a watcher into this range when it is started, and
 * writes the clamped value back into the watcher. */
#ifndef EV_MINPRI
# define EV_MINPRI (EV_FEATURE_CONFIG ? -2 : 0)
#endif
#ifndef EV_MAXPRI
# define EV_MAXPRI (EV_FEATURE_CONFIG ? 2 : 0)
#endif

/* Every function that works on a loop takes the loop as its first argument. As in libev, the
 * value is EV_FEATURE_CONFIG, i.e. 4, not 1 (and the EV_*_ENABLE knobs below are 16, except
 * EV_PREPARE_ENABLE); test these knobs for truth, not for == 1. */
#ifndef EV_MULTIPLICITY
# define EV_MULTIPLICITY EV_FEATURE_CONFIG
#endif

/* Which watcher types this header declares. The library always provides all of them; turning
 * one off only hides its declarations. */
#ifndef EV_PERIODIC_ENABLE
# define EV_PERIODIC_ENABLE EV_FEATURE_WATCHERS
#endif
#ifndef EV_STAT_ENABLE
# define EV_STAT_ENABLE EV_FEATURE_WATCHERS
#endif
#ifndef EV_PREPARE_ENABLE
# define EV_PREPARE_ENABLE EV_FEATURE_WATCHERS
#endif
#ifndef EV_CHECK_ENABLE
# define EV_CHECK_ENABLE EV_FEATURE_WATCHERS
#endif
#ifndef EV_IDLE_ENABLE
# define EV_IDLE_ENABLE EV_FEATURE_WATCHERS
#endif
#ifndef EV_FORK_ENABLE
# define EV_FORK_ENABLE EV_FEATURE_WATCHERS
#endif
#ifndef EV_CLEANUP_ENABLE
# define EV_CLEANUP_ENABLE EV_FEATURE_WATCHERS
#endif
#ifndef EV_SIGNAL_ENABLE
# define EV_SIGNAL_ENABLE EV_FEATURE_WATCHERS
#endif
#ifndef EV_CHILD_ENABLE
# define EV_CHILD_ENABLE EV_FEATURE_WATCHERS
#endif
#ifndef EV_ASYNC_ENABLE
# define EV_ASYNC_ENABLE EV_FEATURE_WATCHERS
#endif
#ifndef EV_EMBED_ENABLE
# define EV_EMBED_ENABLE EV_FEATURE_WATCHERS
#endif

/* ev_walk is not part of libev 4.33's default build (so not of Debian's libev.so.4 either), and
 * evring does not export it. It is declared only if this is set to non-zero, as in libev. */
#ifndef EV_WALK_ENABLE
# define EV_WALK_ENABLE 0
#endif

/* Child watchers are driven by SIGCHLD, so they need signal support. */
#if EV_CHILD_ENABLE && !EV_SIGNAL_ENABLE
# undef EV_SIGNAL_ENABLE
# define EV_SIGNAL_ENABLE 1
#endif

/* ev_embed contains an io and a prepare watcher, so those exist whenever ev_embed does. libev's
 * header redefines these two knobs to 1 in that case; this one does the same, so that code
 * which tests them sees the same values. */
#if EV_EMBED_ENABLE
# undef EV_IO_ENABLE
# define EV_IO_ENABLE 1
# undef EV_PREPARE_ENABLE
# define EV_PREPARE_ENABLE 1
#endif

/* Settings that the prebuilt library cannot follow. */
#if !EV_MULTIPLICITY
# error "evring's libev is always built with EV_MULTIPLICITY enabled: every loop function takes a struct ev_loop * first"
#endif
#if EV_MINPRI == EV_MAXPRI
# error "evring's watchers always carry a priority field: EV_MINPRI must differ from EV_MAXPRI"
#endif
#ifdef EV_API_STATIC
# error "EV_API_STATIC is for compiling libev's C sources into the program; evring has none to embed, link with libev.so.4 or libev.a instead"
#endif

/* EV_PROTOTYPES set to 0 hides every function declaration and the inline helpers. */
#ifndef EV_PROTOTYPES
# define EV_PROTOTYPES 1
#endif

/* How this header declares its own functions. */
#if defined (__cplusplus) || (defined (__STDC_VERSION__) && __STDC_VERSION__ >= 199901L)
# define EV_INLINE static inline
#elif defined (__GNUC__)
# define EV_INLINE static __inline__
#else
# define EV_INLINE static
#endif
#define EV_API_DECL extern

/* ===================================================================================== *
 * 2. Basic types and the loop-argument macros
 * ===================================================================================== */

/* The system headers come before the extern "C" block below, so that a C++ library's versions
 * of them are never wrapped in C linkage. */
#include <stddef.h>    /* offsetof, for the layout check and ev_cb / ev_set_cb */
#include <string.h>    /* memmove, used by ev_cb and ev_set_cb */
#include <signal.h>    /* sig_atomic_t, and the SIG* numbers for ev_signal */
#if EV_STAT_ENABLE
# include <sys/stat.h> /* struct stat, the contents of an ev_stat watcher */
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Clang (C++11/14) warns that the "mangled name" of the three functions whose parameters are
 * noexcept function pointers changes in C++17. These functions have C linkage, so they are not
 * mangled at all; the warning does not apply and is switched off for this header only. */
#if defined (__clang__) && defined (__cplusplus)
# pragma clang diagnostic push
# pragma clang diagnostic ignored "-Wunknown-warning-option"
# pragma clang diagnostic ignored "-Wc++17-compat-mangling"
#endif

/* Time in seconds, as a double (since the epoch for ev_time and periodic watchers, on the
 * loop's own clock for ev_now and timers). Changing EV_TSTAMP_T breaks the ABI and is
 * rejected by the layout check in section 4. */
#ifndef EV_TSTAMP_T
# define EV_TSTAMP_T double
#endif
typedef EV_TSTAMP_T ev_tstamp;

/* The type of ev_async.sent, a flag written from signal handlers and other threads. */
#ifndef EV_ATOMIC_T
# define EV_ATOMIC_T sig_atomic_t volatile
#endif

/* An event loop. The structure is private to the library; user code only holds pointers. */
struct ev_loop;

/* Callbacks declared with EV_P often do not use the loop. With libev's header in a system
 * include directory, GCC attributes the parameter to that header and stays quiet about it
 * (-Wunused-parameter). This header may be found through a plain -I, so for GCC it marks the
 * parameter as possibly unused instead, with the same result. (Clang attributes the
 * parameter to the place where EV_P is used, with either header, so nothing changes there.) */
#if defined (__GNUC__) && !defined (__clang__)
# define EVRING_UNUSED_OK __attribute__ ((__unused__))
#else
# define EVRING_UNUSED_OK
#endif

/* Shorthands for the loop parameter/argument, used throughout libev's documentation and by
 * code that wants to compile with and without loop arguments:
 *   EV_P / EV_P_  declare the loop parameter (alone / followed by more parameters)
 *   EV_A / EV_A_  pass it on as an argument (alone / followed by more arguments)
 *   EV_DEFAULT(_) the default loop; calls ev_default_loop (0), creating the loop if needed
 *   EV_DEFAULT_UC(_) the default loop without the check ("unchecked"): only valid once
 *                 ev_default_loop has been called; reads the library's ev_default_loop_ptr */
#define EV_P            struct ev_loop *loop EVRING_UNUSED_OK
#define EV_P_           EV_P,
#define EV_A            loop
#define EV_A_           EV_A,
#define EV_DEFAULT      ev_default_loop (0)
#define EV_DEFAULT_     EV_DEFAULT,
#define EV_DEFAULT_UC   ev_default_loop_uc_ ()
#define EV_DEFAULT_UC_  EV_DEFAULT_UC,

/* The libev release this header is compatible with. Build scripts read these two lines as
 * text, so they stay plain "#define NAME number" lines. */
#define EV_VERSION_MAJOR 4
#define EV_VERSION_MINOR 33

/* ===================================================================================== *
 * 3. Constants
 * ===================================================================================== */

/* Event bits: what a watcher waits for (ev_io.events) and what happened (the revents argument
 * of callbacks). They are one anonymous enum, so in C++ they combine with | without
 * conversion warnings. */
enum {
  EV_UNDEF    = -1,                /* (int)0xFFFFFFFF: never a valid event set */
  EV_NONE     = 0x00,              /* nothing */
  EV_READ     = 0x01,              /* io: the fd is readable (a read will not block) */
  EV_WRITE    = 0x02,              /* io: the fd is writable */
  EV__IOFDSET = 0x80,              /* internal: "fd or mask was (re)set", see ev_io_set */
  EV_IO       = EV_READ,           /* the event bit that identifies io watchers */
  EV_TIMER    = 0x00000100,        /* a timer expired */
#if EV_COMPAT3
  EV_TIMEOUT  = EV_TIMER,          /* libev 3.x name of EV_TIMER */
#endif
  EV_PERIODIC = 0x00000200,        /* a periodic watcher's time arrived */
  EV_SIGNAL   = 0x00000400,        /* the signal was delivered */
  EV_CHILD    = 0x00000800,        /* a child process changed state */
  EV_STAT     = 0x00001000,        /* the watched path's stat data changed */
  EV_IDLE     = 0x00002000,        /* nothing else to do */
  EV_PREPARE  = 0x00004000,        /* the loop is about to wait for events */
  EV_CHECK    = 0x00008000,        /* the loop has just finished waiting */
  EV_EMBED    = 0x00010000,        /* an embedded loop has events to handle */
  EV_FORK     = 0x00020000,        /* the loop runs again after a fork */
  EV_CLEANUP  = 0x00040000,        /* the loop is being destroyed */
  EV_ASYNC    = 0x00080000,        /* ev_async_send was called */
  EV_CUSTOM   = 0x01000000,        /* free for user code; the library never reports it */
  EV_ERROR    = -0x7FFFFFFF - 1    /* (int)0x80000000, negative: the watcher failed and stopped */
};

/* Flags for ev_default_loop and ev_loop_new, ORed with the EVBACKEND_* bits below. Flags and
 * backends are two separate enums, as in libev; C++20 deprecates | between enumerators of
 * different enums, so C++ code may convert one side to unsigned int first. */
enum {
  EVFLAG_AUTO       = 0x00000000U, /* no flags, let the library choose the backend */
  EVFLAG_NOENV      = 0x01000000U, /* ignore the LIBEV_FLAGS environment variable */
  EVFLAG_FORKCHECK  = 0x02000000U, /* check for a fork in every iteration (costs a getpid) */
  EVFLAG_NOINOTIFY  = 0x00100000U, /* ev_stat: never use inotify */
#if EV_COMPAT3
  EVFLAG_NOSIGFD    = 0,           /* libev 3.x: signalfd was opt-out then; now it is opt-in */
#endif
  EVFLAG_SIGNALFD   = 0x00200000U, /* deliver signals through signalfd (blocks them) */
  EVFLAG_NOSIGMASK  = 0x00400000U, /* do not change the signal mask */
  EVFLAG_NOTIMERFD  = 0x00800000U  /* do not use a timerfd to detect clock jumps */
};

/* Backends (the kernel interface a loop waits with). ev_backend returns one of them; the
 * *_backends functions return sets of them. */
enum {
  EVBACKEND_SELECT   = 0x00000001U,
  EVBACKEND_POLL     = 0x00000002U,
  EVBACKEND_EPOLL    = 0x00000004U,
  EVBACKEND_KQUEUE   = 0x00000008U,
  EVBACKEND_DEVPOLL  = 0x00000010U, /* reserved, never implemented by libev */
  EVBACKEND_PORT     = 0x00000020U,
  EVBACKEND_LINUXAIO = 0x00000040U,
  EVBACKEND_IOURING  = 0x00000080U,
  EVBACKEND_ALL      = 0x000000FFU, /* every backend defined so far */
  EVBACKEND_MASK     = 0x0000FFFFU  /* the bits reserved for backends */
};

/* The flags argument of ev_run. */
enum {
  EVRUN_NOWAIT = 1, /* handle what is ready now, do not wait */
  EVRUN_ONCE   = 2  /* wait for events once, then return */
};

/* The how argument of ev_break. */
enum {
  EVBREAK_CANCEL = 0, /* forget an earlier ev_break in this iteration */
  EVBREAK_ONE    = 1, /* the innermost ev_run returns */
  EVBREAK_ALL    = 2  /* all nested ev_run calls return */
};

/* ===================================================================================== *
 * 4. Watchers
 *
 * Every watcher type starts with the same head, so that the library can treat any watcher as an
 * ev_watcher. The fields, in order:
 *   active    private. 0 when the watcher is stopped, non-zero while it is started
 *             (read it with ev_is_active).
 *   pending   private. Non-zero while the watcher has an event waiting for its callback
 *             (ev_is_pending).
 *   priority  set with ev_set_priority while the watcher is stopped and not pending.
 *   data      (EV_COMMON) free for the user. The library never reads or writes it, and
 *             ev_init leaves it alone.
 *   cb        the callback (ev_init, ev_set_cb, ev_cb). The library reads it each time it
 *             invokes the watcher, so it may be changed while the watcher is active.
 * Watchers the library keeps in lists add a private "next" pointer; timers and periodics add
 * "at", a time stamp.
 *
 * Type-specific fields are marked below as
 *   ro       read at any time, but set only through the ev_TYPE_set macro while stopped;
 *   rw       read and change at any time;
 *   private  owned by the library.
 *
 * Redefining EV_COMMON, EV_CB_DECLARE or EV_DECL_PRIORITY works as with libev, as long as the
 * layout stays the same. A layout change is rejected at compile time (see the check below the
 * structures), because the prebuilt library would not match it.
 * ===================================================================================== */

#ifndef EV_COMMON
# define EV_COMMON void *data;
#endif

#ifndef EV_CB_DECLARE
# define EV_CB_DECLARE(type) void (*cb)(EV_P_ struct type *w, int revents);
#endif

/* Call a watcher's callback the way the library does (needs a variable named loop in scope). */
#ifndef EV_CB_INVOKE
# define EV_CB_INVOKE(watcher, revents) (watcher)->cb (EV_A_ (watcher), (revents))
#endif

/* Declares (or starts the definition of) a callback; libev marks this macro as unofficial. */
#define EV_CB(type, name) void name (EV_P_ struct ev_##type *w, int revents)

#ifndef EV_DECL_PRIORITY
# define EV_DECL_PRIORITY int priority;
#endif

/* Member lists of the three base layouts. Code that defines its own watcher-like structures
 * ("subclasses") uses them; type is the struct tag of the structure being defined, which the
 * callback receives. */
#define EV_WATCHER(type)                                                                       \
  int active;                                                                                  \
  int pending;                                                                                 \
  EV_DECL_PRIORITY                                                                             \
  EV_COMMON                                                                                    \
  EV_CB_DECLARE (type)

#define EV_WATCHER_LIST(type)                                                                  \
  EV_WATCHER (type)                                                                            \
  struct ev_watcher_list *next;

#define EV_WATCHER_TIME(type)                                                                  \
  EV_WATCHER (type)                                                                            \
  ev_tstamp at;

/* The three bases. User code rarely names them; the library uses them for any watcher. */
typedef struct ev_watcher      { EV_WATCHER (ev_watcher) } ev_watcher;
typedef struct ev_watcher_list { EV_WATCHER_LIST (ev_watcher_list) } ev_watcher_list;
typedef struct ev_watcher_time { EV_WATCHER_TIME (ev_watcher_time) } ev_watcher_time;

/* ev_io: the fd became readable and/or writable. Events: EV_READ, EV_WRITE. */
typedef struct ev_io
{
  EV_WATCHER_LIST (ev_io)
  int fd;      /* ro */
  int events;  /* ro: EV_READ and/or EV_WRITE, plus EV__IOFDSET until the next start */
} ev_io;

/* ev_timer: a relative timeout on the loop's monotonic clock, optionally repeating.
 * Event: EV_TIMER.
 * "at" is not a deadline while the timer is stopped. ev_timer_set stores the relative delay
 * there; ev_timer_start turns it into an absolute time on the loop clock; ev_timer_stop turns it
 * back into the time that was left. So a timer that is stopped and then started again without
 * ev_timer_set continues with the time it had left (a timer that has fired holds a small
 * negative remainder, and fires at once if restarted). Use ev_timer_remaining to ask how long
 * is left. */
typedef struct ev_timer
{
  EV_WATCHER_TIME (ev_timer)
  ev_tstamp repeat;  /* rw: re-arm interval after expiry; 0 = one-shot */
} ev_timer;

/* ev_periodic: an absolute time on the wall clock, optionally repeating at a fixed interval from
 * an offset, or computed by reschedule_cb. Event: EV_PERIODIC.
 * While active, "at" holds the absolute time of the next event (read it with
 * ev_periodic_at). */
typedef struct ev_periodic
{
  EV_WATCHER_TIME (ev_periodic)
  ev_tstamp offset;    /* rw */
  ev_tstamp interval;  /* rw */
  ev_tstamp (*reschedule_cb)(struct ev_periodic *w, ev_tstamp now) EV_NOEXCEPT;  /* rw */
} ev_periodic;

/* ev_signal: the signal was delivered to the process. Event: EV_SIGNAL.
 * A signal can be watched by one loop at a time. */
typedef struct ev_signal
{
  EV_WATCHER_LIST (ev_signal)
  int signum;  /* ro */
} ev_signal;

/* ev_child: a child process exited (or, when tracing, stopped or continued). Event: EV_CHILD.
 * Only the default loop handles child watchers; it reaps all children. Child watchers always
 * run at EV_MAXPRI. */
typedef struct ev_child
{
  EV_WATCHER_LIST (ev_child)
  int flags;    /* private: 1 = also report stops and continues (ev_child_set's trace) */
  int pid;      /* ro: the pid to watch, 0 = any child */
  int rpid;     /* rw: set by the library, the pid that changed state */
  int rstatus;  /* rw: set by the library, its status as waitpid returns it (WIFEXITED, ...) */
} ev_child;

#if EV_STAT_ENABLE
/* The stat data of a path. st_nlink == 0 means the path did not exist (or stat failed). */
typedef struct stat ev_statdata;

/* ev_stat: the stat data of a path changed. Event: EV_STAT.
 * The library keeps the path pointer, so the string must stay valid while the watcher is
 * active. */
typedef struct ev_stat
{
  EV_WATCHER_LIST (ev_stat)
  ev_timer timer;      /* private: polling timer */
  ev_tstamp interval;  /* ro: polling interval, 0 = library default */
  const char *path;    /* ro */
  ev_statdata prev;    /* ro: the data before the last change */
  ev_statdata attr;    /* ro: the current data */
  int wd;              /* private: notification handle, -2 = not set up yet */
} ev_stat;
#endif

/* ev_idle: the loop has nothing else to do. Event: EV_IDLE.
 * While an idle watcher is active, the loop never blocks. */
typedef struct ev_idle    { EV_WATCHER (ev_idle) } ev_idle;

/* ev_prepare: the loop is about to wait for events. Event: EV_PREPARE. */
typedef struct ev_prepare { EV_WATCHER (ev_prepare) } ev_prepare;

/* ev_check: the loop has just finished waiting. Event: EV_CHECK. */
typedef struct ev_check   { EV_WATCHER (ev_check) } ev_check;

/* ev_fork: the loop runs for the first time after ev_loop_fork, in the child. Event: EV_FORK. */
typedef struct ev_fork    { EV_WATCHER (ev_fork) } ev_fork;

/* ev_cleanup: the loop is being destroyed. Event: EV_CLEANUP. */
typedef struct ev_cleanup { EV_WATCHER (ev_cleanup) } ev_cleanup;

#if EV_EMBED_ENABLE
/* ev_embed: run another loop ("other") inside this one. Event: EV_EMBED.
 * A null callback makes the embedding loop sweep the other loop by itself. The watchers after
 * "other" are space owned by the library. */
typedef struct ev_embed
{
  EV_WATCHER (ev_embed)
  struct ev_loop *other;  /* ro */
  ev_io io;               /* private */
  ev_prepare prepare;     /* private */
  ev_check check;         /* private */
  ev_timer timer;         /* private */
  ev_periodic periodic;   /* private */
  ev_idle idle;           /* private */
  ev_fork fork;           /* private */
  ev_cleanup cleanup;     /* private */
} ev_embed;
#endif

#if EV_ASYNC_ENABLE
/* ev_async: another thread or a signal handler called ev_async_send. Event: EV_ASYNC. */
typedef struct ev_async
{
  EV_WATCHER (ev_async)
  EV_ATOMIC_T sent;  /* private: a send is pending (ev_async_pending) */
} ev_async;
#endif

/* A union of all watcher types: memory that can hold any watcher. */
union ev_any_watcher
{
  struct ev_watcher w;
  struct ev_watcher_list wl;
  struct ev_io io;
  struct ev_timer timer;
  struct ev_periodic periodic;
  struct ev_signal signal;
  struct ev_child child;
#if EV_STAT_ENABLE
  struct ev_stat stat;
#endif
#if EV_IDLE_ENABLE
  struct ev_idle idle;
#endif
  struct ev_prepare prepare;
  struct ev_check check;
#if EV_FORK_ENABLE
  struct ev_fork fork;
#endif
#if EV_CLEANUP_ENABLE
  struct ev_cleanup cleanup;
#endif
#if EV_EMBED_ENABLE
  struct ev_embed embed;
#endif
#if EV_ASYNC_ENABLE
  struct ev_async async;
#endif
};

/* Compile-time layout check. The library was built for a watcher head of three ints, a data
 * pointer and a callback pointer, and for double time stamps. If a redefined knob changes that,
 * the array size below becomes negative and compilation stops here. (EV_COMMON may rename the
 * data member, so it is not named here.) */
struct evring_abi_head { int active; int pending; int priority; void *data; void (*cb)(void); };
typedef char evring_abi_layout_check[
  (sizeof (ev_tstamp) == sizeof (double)
   && sizeof (EV_ATOMIC_T) == sizeof (sig_atomic_t)
   && sizeof (ev_watcher) == sizeof (struct evring_abi_head)
   && offsetof (ev_watcher, pending) == offsetof (struct evring_abi_head, pending)
   && offsetof (ev_watcher, priority) == offsetof (struct evring_abi_head, priority)
   && offsetof (ev_watcher, cb) == offsetof (struct evring_abi_head, cb)) ? 1 : -1];

/* The offset of the callback in every watcher, for ev_cb and ev_set_cb in section 6. It is an
 * enumerator rather than an offsetof expression inside the macros, because inside ev++.h's
 * templates the name ev_watcher refers to a template parameter. */
enum { evring_ofs_cb = offsetof (ev_watcher, cb) };

/* ===================================================================================== *
 * 5. Functions
 *
 * Unless noted otherwise, starting a watcher that is already active, or stopping one that is
 * not, does nothing. Stopping a watcher also discards an event it has pending.
 * ===================================================================================== */

#if EV_PROTOTYPES

/* --- Library-wide ------------------------------------------------------------------------ */

/* The ABI version of the library: 4 and 33. */
EV_API_DECL int ev_version_major (void) EV_NOEXCEPT;
EV_API_DECL int ev_version_minor (void) EV_NOEXCEPT;

/* Sets of EVBACKEND_* bits: built into the library and usable on this kernel; recommended for
 * general use; able to serve an ev_embed watcher's inner loop. */
EV_API_DECL unsigned int ev_supported_backends (void) EV_NOEXCEPT;
EV_API_DECL unsigned int ev_recommended_backends (void) EV_NOEXCEPT;
EV_API_DECL unsigned int ev_embeddable_backends (void) EV_NOEXCEPT;

/* The current wall-clock time, and a plain sleep (returns at once for delay <= 0). */
EV_API_DECL ev_tstamp ev_time (void) EV_NOEXCEPT;
EV_API_DECL void ev_sleep (ev_tstamp delay) EV_NOEXCEPT;

/* Replace the memory allocator used by the library, process-wide. The callback behaves like
 * realloc (size 0 frees); note that size is a long. */
EV_API_DECL void ev_set_allocator (void *(*cb)(void *ptr, long size) EV_NOEXCEPT) EV_NOEXCEPT;

/* Called with a message when a system call fails in a way the library cannot handle. Without a
 * callback the library prints the message and aborts; with one, it carries on. Process-wide. */
EV_API_DECL void ev_set_syserr_cb (void (*cb)(const char *msg) EV_NOEXCEPT) EV_NOEXCEPT;

/* --- Loops --------------------------------------------------------------------------------- */

/* The default loop: created by the first call, returned by later ones. It is the loop that
 * handles child watchers (and reaps children). Returns NULL if no backend could be set up. */
EV_API_DECL struct ev_loop *ev_default_loop (unsigned int flags EV_CPP (= 0)) EV_NOEXCEPT;

/* The default loop as the library currently knows it, without creating it: NULL before the
 * first ev_default_loop and after the default loop has been destroyed. It reads the exported
 * data object ev_default_loop_ptr, which is declared here, inside the function, so that user
 * code does not see the name. GCC's -Wnested-externs would point out that block-scope
 * declaration; it is intended, so that warning is switched off for these few lines. */
#if defined (__GNUC__) && !defined (__clang__) && !defined (__cplusplus)
# pragma GCC diagnostic push
# pragma GCC diagnostic ignored "-Wnested-externs"
#endif
EV_INLINE struct ev_loop *
ev_default_loop_uc_ (void) EV_NOEXCEPT
{
  extern struct ev_loop *ev_default_loop_ptr;
  return ev_default_loop_ptr;
}
#if defined (__GNUC__) && !defined (__clang__) && !defined (__cplusplus)
# pragma GCC diagnostic pop
#endif

/* True if loop is the default loop. */
EV_INLINE int
ev_is_default_loop (EV_P) EV_NOEXCEPT
{
  return EV_A == EV_DEFAULT_UC;
}

/* A new, independent loop. It can do everything except child watchers. NULL on failure. */
EV_API_DECL struct ev_loop *ev_loop_new (unsigned int flags EV_CPP (= 0)) EV_NOEXCEPT;

/* Destroy a loop (also the default one), after running its cleanup watchers. Watchers still
 * active in it are not stopped; they must not be used with the loop again. */
EV_API_DECL void ev_loop_destroy (EV_P);

/* Tell the loop that the process has forked. The loop re-creates its kernel state when it next
 * runs. Call it in the child (or in both processes) before using the loop there. */
EV_API_DECL void ev_loop_fork (EV_P) EV_NOEXCEPT;

/* The backend (one EVBACKEND_* bit) the loop uses. */
EV_API_DECL unsigned int ev_backend (EV_P) EV_NOEXCEPT;

/* The loop's idea of the current time: taken when it last woke up, so cheap and consistent
 * during one iteration. ev_now_update refreshes it. */
EV_API_DECL ev_tstamp ev_now (EV_P) EV_NOEXCEPT;
EV_API_DECL void ev_now_update (EV_P) EV_NOEXCEPT;

#if EV_WALK_ENABLE
/* Not provided by evring (nor by libev's default build); see EV_WALK_ENABLE. */
EV_API_DECL void ev_walk (EV_P_ int types, void (*cb)(struct ev_loop *, int type, void *w)) EV_NOEXCEPT;
#endif

/* --- Running ------------------------------------------------------------------------------- */

/* Run the loop until no active, referenced watcher is left or ev_break is called. flags is 0 or
 * an EVRUN_* value. Returns non-zero if the loop still had active watchers when it returned.
 * Callbacks run inside it. */
EV_API_DECL int ev_run (EV_P_ int flags EV_CPP (= 0));

/* Make ev_run return (how: an EVBREAK_* value). It takes effect when the current iteration
 * ends. */
EV_API_DECL void ev_break (EV_P_ int how EV_CPP (= EVBREAK_ONE)) EV_NOEXCEPT;

/* Every active watcher keeps the loop running. ev_unref after starting a watcher that should
 * not keep it running; ev_ref before stopping that watcher again. */
EV_API_DECL void ev_ref (EV_P) EV_NOEXCEPT;
EV_API_DECL void ev_unref (EV_P) EV_NOEXCEPT;

/* Wait once for fd to become ready for events, or for timeout seconds (fd < 0: no fd;
 * timeout < 0: no timeout), without setting up a watcher. cb receives the events that happened
 * (EV_READ, EV_WRITE, EV_TIMER) and arg. */
EV_API_DECL void ev_once (EV_P_ int fd, int events, ev_tstamp timeout,
                          void (*cb)(int revents, void *arg), void *arg) EV_NOEXCEPT;

/* Invoke every pending watcher now. */
EV_API_DECL void ev_invoke_pending (EV_P);

# if EV_FEATURE_API
/* Introspection: how often the loop has waited for events; how deeply ev_run is nested; a
 * self-check of the loop's data that aborts if it finds corruption. */
EV_API_DECL unsigned int ev_iteration (EV_P) EV_NOEXCEPT;
EV_API_DECL unsigned int ev_depth (EV_P) EV_NOEXCEPT;
EV_API_DECL void ev_verify (EV_P) EV_NOEXCEPT;

/* Let the loop wait at least this long before handling io / timer events, to handle more of
 * them at once. Both default to 0. */
EV_API_DECL void ev_set_io_collect_interval (EV_P_ ev_tstamp interval) EV_NOEXCEPT;
EV_API_DECL void ev_set_timeout_collect_interval (EV_P_ ev_tstamp interval) EV_NOEXCEPT;

/* One pointer of user data per loop. */
EV_API_DECL void ev_set_userdata (EV_P_ void *data) EV_NOEXCEPT;
EV_API_DECL void *ev_userdata (EV_P) EV_NOEXCEPT;

/* Hooks for running a loop from several threads: the function that invokes pending watchers
 * (default: ev_invoke_pending), and a pair called around the wait for events (to release and
 * re-acquire a lock). The pair is spelled out, not written with ev_loop_callback, because a
 * typedef cannot carry noexcept before C++17. */
typedef void (*ev_loop_callback)(EV_P);
EV_API_DECL void ev_set_invoke_pending_cb (EV_P_ ev_loop_callback invoke_pending_cb) EV_NOEXCEPT;
EV_API_DECL void ev_set_loop_release_cb (EV_P_ void (*release)(struct ev_loop *) EV_NOEXCEPT,
                                         void (*acquire)(struct ev_loop *) EV_NOEXCEPT) EV_NOEXCEPT;

/* The number of pending watchers. */
EV_API_DECL unsigned int ev_pending_count (EV_P) EV_NOEXCEPT;

/* Freeze the loop's timers (e.g. around a process suspend) and thaw them: time spent
 * suspended does not count against timers. */
EV_API_DECL void ev_suspend (EV_P) EV_NOEXCEPT;
EV_API_DECL void ev_resume (EV_P) EV_NOEXCEPT;
# endif

#endif /* EV_PROTOTYPES */

/* ===================================================================================== *
 * 6. Watcher macros
 *
 * Initialise a watcher once with ev_TYPE_init (or ev_init followed by ev_TYPE_set), then start
 * and stop it with ev_TYPE_start / ev_TYPE_stop. ev_TYPE_set may only be used while the
 * watcher is stopped.
 *
 * The argument ev is a pointer to the watcher. Macros may evaluate it several times, so it must
 * not have side effects; the other arguments are evaluated at most once.
 * ===================================================================================== */

/* Reset the state the library keeps in the watcher (active, pending), set priority 0 and the
 * callback. data and the type-specific fields are left alone. The fields are written through
 * the watcher's own type (see the comment at the top of the file). */
#define ev_init(ev, cb_)                                                                       \
  do {                                                                                         \
    (ev)->active = 0;                                                                          \
    (ev)->pending = 0;                                                                         \
    (ev)->priority = 0;                                                                        \
    ev_set_cb ((ev), cb_);                                                                     \
  } while (0)

/* ev_io: watch fd for events (EV_READ, EV_WRITE or both). The EV__IOFDSET bit tells the library
 * that the fd must be registered with the kernel again when the watcher is next started, even
 * if the fd number and events look unchanged: the number may now refer to a new file. The
 * library clears the bit when it starts the watcher. */
#define ev_io_set(ev, fd_, events_)                                                            \
  do { (ev)->fd = (fd_); (ev)->events = (events_) | EV__IOFDSET; } while (0)

/* ev_io: change only the events, keep the fd (and a pending EV__IOFDSET). */
#define ev_io_modify(ev, events_)                                                              \
  do { (ev)->events = ((ev)->events & EV__IOFDSET) | (events_); } while (0)

/* ev_timer: fire after "after" seconds, then every "repeat" seconds (0: once). The delay is
 * stored in "at"; see ev_timer above. */
#define ev_timer_set(ev, after_, repeat_)                                                      \
  do { (ev)->at = (after_); (ev)->repeat = (repeat_); } while (0)

/* ev_periodic: see the manual for the meaning of offset, interval and reschedule_cb. */
#define ev_periodic_set(ev, ofs_, ival_, rcb_)                                                 \
  do { (ev)->offset = (ofs_); (ev)->interval = (ival_); (ev)->reschedule_cb = (rcb_); } while (0)

#define ev_signal_set(ev, signum_)                                                             \
  do { (ev)->signum = (signum_); } while (0)

/* ev_child: pid 0 watches all children; a true trace also reports stopped/continued
 * children. */
#define ev_child_set(ev, pid_, trace_)                                                         \
  do { (ev)->pid = (pid_); (ev)->flags = !!(trace_); } while (0)

/* ev_stat: path must stay valid while the watcher is active; interval 0 picks a default.
 * wd = -2 marks the notification handle as "not set up yet". */
#define ev_stat_set(ev, path_, interval_)                                                      \
  do { (ev)->path = (path_); (ev)->interval = (interval_); (ev)->wd = -2; } while (0)

#define ev_embed_set(ev, other_)                                                               \
  do { (ev)->other = (other_); } while (0)

/* These watcher types have nothing to set. */
#define ev_idle_set(ev)    ((void) 0)
#define ev_prepare_set(ev) ((void) 0)
#define ev_check_set(ev)   ((void) 0)
#define ev_fork_set(ev)    ((void) 0)
#define ev_cleanup_set(ev) ((void) 0)
#define ev_async_set(ev)   ((void) 0)

/* ev_init and ev_TYPE_set in one step. */
#define ev_io_init(ev, cb, fd, events)                                                         \
  do { ev_init ((ev), (cb)); ev_io_set ((ev), (fd), (events)); } while (0)
#define ev_timer_init(ev, cb, after, repeat)                                                   \
  do { ev_init ((ev), (cb)); ev_timer_set ((ev), (after), (repeat)); } while (0)
#define ev_periodic_init(ev, cb, ofs, ival, rcb)                                               \
  do { ev_init ((ev), (cb)); ev_periodic_set ((ev), (ofs), (ival), (rcb)); } while (0)
#define ev_signal_init(ev, cb, signum)                                                         \
  do { ev_init ((ev), (cb)); ev_signal_set ((ev), (signum)); } while (0)
#define ev_child_init(ev, cb, pid, trace)                                                      \
  do { ev_init ((ev), (cb)); ev_child_set ((ev), (pid), (trace)); } while (0)
#define ev_stat_init(ev, cb, path, interval)                                                   \
  do { ev_init ((ev), (cb)); ev_stat_set ((ev), (path), (interval)); } while (0)
#define ev_idle_init(ev, cb)                                                                   \
  do { ev_init ((ev), (cb)); ev_idle_set ((ev)); } while (0)
#define ev_prepare_init(ev, cb)                                                                \
  do { ev_init ((ev), (cb)); ev_prepare_set ((ev)); } while (0)
#define ev_check_init(ev, cb)                                                                  \
  do { ev_init ((ev), (cb)); ev_check_set ((ev)); } while (0)
#define ev_embed_init(ev, cb, other)                                                           \
  do { ev_init ((ev), (cb)); ev_embed_set ((ev), (other)); } while (0)
#define ev_fork_init(ev, cb)                                                                   \
  do { ev_init ((ev), (cb)); ev_fork_set ((ev)); } while (0)
#define ev_cleanup_init(ev, cb)                                                                \
  do { ev_init ((ev), (cb)); ev_cleanup_set ((ev)); } while (0)
#define ev_async_init(ev, cb)                                                                  \
  do { ev_init ((ev), (cb)); ev_async_set ((ev)); } while (0)

/* Whether the watcher is started / has an event waiting for its callback. Both yield the raw
 * int stored by the library (any non-zero value means yes). Like all watcher macros they read
 * the field through the pointer's own type: ev must point to a watcher, to a watcher-like
 * structure built with EV_WATCHER, or (C++) to a class derived from a watcher. ev_watcher *
 * works too, as the generic type. */
/* ev_is_active, ev_is_pending, ev_priority, ev_set_priority and ev_periodic_at take any pointer
 * to a watcher's memory, as libev's do: a typed watcher pointer, a void * (gevent's CFFI
 * bindings declare int ev_is_active (void *)), a union ev_any_watcher *, and in C a pointer to a
 * structure that starts with a watcher. They read through a generic view that, with GCC and
 * Clang, is declared may_alias: unlike libev's plain ev_watcher * cast, it may alias every
 * watcher type, so there is no strict-aliasing warning and no optimiser assumption that the
 * access is unrelated to the watcher's own typed fields. (Same layout as ev_watcher and
 * ev_watcher_time: the same EV_WATCHER macros build it.) Other compilers get libev's cast. */
#if defined (__GNUC__) || defined (__clang__)
struct __attribute__ ((__may_alias__)) evring_any_watcher_ { EV_WATCHER (evring_any_watcher_) };
struct __attribute__ ((__may_alias__)) evring_any_watcher_time_ { EV_WATCHER_TIME (evring_any_watcher_time_) };
typedef struct evring_any_watcher_ evring_any_watcher_;
typedef struct evring_any_watcher_time_ evring_any_watcher_time_;
#else
typedef ev_watcher evring_any_watcher_;
typedef ev_watcher_time evring_any_watcher_time_;
#endif

#ifndef __cplusplus
# define ev_is_active(ev)          (0 + ((const evring_any_watcher_ *) (const void *) (ev))->active)
# define ev_is_pending(ev)         (0 + ((const evring_any_watcher_ *) (const void *) (ev))->pending)
# define ev_priority(ev)           (+((const evring_any_watcher_ *) (const void *) (ev))->priority)
# define ev_set_priority(ev, pri)  (((evring_any_watcher_ *) (void *) (ev))->priority = (pri))
# define ev_periodic_at(ev)        (+((const evring_any_watcher_time_ *) (const void *) (ev))->at)
#else
/* C++: a typed pointer is read through its own type, so a class derived from a watcher works
 * even where the watcher is not at the start of the object (libev's void * cast reads the
 * wrong bytes there); void * and union ev_any_watcher * go through the generic view. */
extern "C++" {
template <class W> inline int evring_is_active_ (const W *w) EV_NOEXCEPT { return w->active; }
template <class W> inline int evring_is_pending_ (const W *w) EV_NOEXCEPT { return w->pending; }
template <class W> inline int evring_priority_ (const W *w) EV_NOEXCEPT { return w->priority; }
template <class W> inline int evring_set_priority_ (W *w, int p) EV_NOEXCEPT { return w->priority = p; }
template <class W> inline ev_tstamp evring_periodic_at_ (const W *w) EV_NOEXCEPT { return w->at; }
inline int evring_is_active_ (const void *w) EV_NOEXCEPT
{ return static_cast<const evring_any_watcher_ *> (w)->active; }
inline int evring_is_pending_ (const void *w) EV_NOEXCEPT
{ return static_cast<const evring_any_watcher_ *> (w)->pending; }
inline int evring_priority_ (const void *w) EV_NOEXCEPT
{ return static_cast<const evring_any_watcher_ *> (w)->priority; }
inline int evring_set_priority_ (void *w, int p) EV_NOEXCEPT
{ return static_cast<evring_any_watcher_ *> (w)->priority = p; }
inline ev_tstamp evring_periodic_at_ (const void *w) EV_NOEXCEPT
{ return static_cast<const evring_any_watcher_time_ *> (w)->at; }
inline int evring_is_active_ (const union ev_any_watcher *w) EV_NOEXCEPT
{ return evring_is_active_ (static_cast<const void *> (w)); }
inline int evring_is_pending_ (const union ev_any_watcher *w) EV_NOEXCEPT
{ return evring_is_pending_ (static_cast<const void *> (w)); }
inline int evring_priority_ (const union ev_any_watcher *w) EV_NOEXCEPT
{ return evring_priority_ (static_cast<const void *> (w)); }
inline int evring_set_priority_ (union ev_any_watcher *w, int p) EV_NOEXCEPT
{ return evring_set_priority_ (static_cast<void *> (w), p); }
inline ev_tstamp evring_periodic_at_ (const union ev_any_watcher *w) EV_NOEXCEPT
{ return evring_periodic_at_ (static_cast<const void *> (w)); }
}
# define ev_is_active(ev)          evring_is_active_ (ev)
# define ev_is_pending(ev)         evring_is_pending_ (ev)
# define ev_priority(ev)           evring_priority_ (ev)
# define ev_set_priority(ev, pri)  evring_set_priority_ ((ev), (pri))
# define ev_periodic_at(ev)        evring_periodic_at_ (ev)
#endif

#if EV_ASYNC_ENABLE
/* ev_async: true while an ev_async_send has not yet been handled. */
# define ev_async_pending(ev)      (+(ev)->sent)
#endif

/* The callback, as an lvalue of the watcher's own callback type. */
#define ev_cb_(ev)                 ((ev)->cb)

/* Read / set the callback. Code may write the callback through one pointer type (say
 * ev_watcher *) and read it through another (ev_io *) in the same translation unit, and with
 * strict aliasing the optimiser may treat those two accesses as unrelated. So, as in libev,
 * the macros also copy the callback's bytes with memmove: EVRING_CB_SLOT is the callback's
 * address, computed as raw bytes from the watcher's address, so source and destination are the
 * same memory. Compilers reduce the copy to nothing, but a byte copy may alias any type, so it
 * keeps the typed accesses on either side of it in order. The address is computed without
 * casting to another watcher type, for the reason given at the top of the file.
 * ev_set_cb may be predefined by the user, as with libev. */
#ifdef __cplusplus
# define EVRING_CB_SLOT(ev)       (static_cast<char *> (static_cast<void *> (ev)) + evring_ofs_cb)
# define EVRING_CB_SLOT_CONST(ev) (static_cast<const char *> (static_cast<const void *> (ev)) + evring_ofs_cb)
#else
# define EVRING_CB_SLOT(ev)       ((char *) (void *) (ev) + evring_ofs_cb)
# define EVRING_CB_SLOT_CONST(ev) ((const char *) (const void *) (ev) + evring_ofs_cb)
#endif

#define ev_cb(ev)                                                                              \
  (memmove (&ev_cb_ (ev), EVRING_CB_SLOT_CONST (ev), sizeof (ev_cb_ (ev))), ev_cb_ (ev))

#ifndef ev_set_cb
# define ev_set_cb(ev, cb_)                                                                    \
  (ev_cb_ (ev) = (cb_), memmove (EVRING_CB_SLOT (ev), &ev_cb_ (ev), sizeof (ev_cb_ (ev))))
#endif

#if EV_PROTOTYPES

/* --- Generic watcher functions ------------------------------------------------------------ */

/* Queue revents for any watcher w (started or not), as if the event had happened. */
EV_API_DECL void ev_feed_event (EV_P_ void *w, int revents) EV_NOEXCEPT;

/* Queue revents for every io watcher on fd. */
EV_API_DECL void ev_feed_fd_event (EV_P_ int fd, int revents) EV_NOEXCEPT;

#if EV_SIGNAL_ENABLE
/* Act as if signum had been delivered: ev_feed_signal may be called from a signal handler or
 * another thread and finds the loop watching the signal; ev_feed_signal_event feeds one
 * loop. */
EV_API_DECL void ev_feed_signal (int signum) EV_NOEXCEPT;
EV_API_DECL void ev_feed_signal_event (EV_P_ int signum) EV_NOEXCEPT;
#endif

/* Call w's callback now with revents. The watcher's state is not changed. */
EV_API_DECL void ev_invoke (EV_P_ void *w, int revents);

/* If w is pending, un-queue it and return its pending events; otherwise return 0. */
EV_API_DECL int ev_clear_pending (EV_P_ void *w) EV_NOEXCEPT;

/* --- Per watcher type ---------------------------------------------------------------------- */

EV_API_DECL void ev_io_start (EV_P_ ev_io *w) EV_NOEXCEPT;
EV_API_DECL void ev_io_stop (EV_P_ ev_io *w) EV_NOEXCEPT;

EV_API_DECL void ev_timer_start (EV_P_ ev_timer *w) EV_NOEXCEPT;
EV_API_DECL void ev_timer_stop (EV_P_ ev_timer *w) EV_NOEXCEPT;
/* Restart a repeating timer with its repeat value (start it if stopped); stop it if repeat is
 * 0. */
EV_API_DECL void ev_timer_again (EV_P_ ev_timer *w) EV_NOEXCEPT;
/* The time until the timer fires (while stopped: the delay it would start with). */
EV_API_DECL ev_tstamp ev_timer_remaining (EV_P_ ev_timer *w) EV_NOEXCEPT;

#if EV_PERIODIC_ENABLE
EV_API_DECL void ev_periodic_start (EV_P_ ev_periodic *w) EV_NOEXCEPT;
EV_API_DECL void ev_periodic_stop (EV_P_ ev_periodic *w) EV_NOEXCEPT;
/* Recompute the next event time after offset/interval/reschedule_cb were changed. */
EV_API_DECL void ev_periodic_again (EV_P_ ev_periodic *w) EV_NOEXCEPT;
#endif

#if EV_SIGNAL_ENABLE
EV_API_DECL void ev_signal_start (EV_P_ ev_signal *w) EV_NOEXCEPT;
EV_API_DECL void ev_signal_stop (EV_P_ ev_signal *w) EV_NOEXCEPT;
#endif

#if EV_CHILD_ENABLE
/* Default loop only. */
EV_API_DECL void ev_child_start (EV_P_ ev_child *w) EV_NOEXCEPT;
EV_API_DECL void ev_child_stop (EV_P_ ev_child *w) EV_NOEXCEPT;
#endif

#if EV_STAT_ENABLE
EV_API_DECL void ev_stat_start (EV_P_ ev_stat *w) EV_NOEXCEPT;
EV_API_DECL void ev_stat_stop (EV_P_ ev_stat *w) EV_NOEXCEPT;
/* Refresh w->attr now. */
EV_API_DECL void ev_stat_stat (EV_P_ ev_stat *w) EV_NOEXCEPT;
#endif

#if EV_IDLE_ENABLE
EV_API_DECL void ev_idle_start (EV_P_ ev_idle *w) EV_NOEXCEPT;
EV_API_DECL void ev_idle_stop (EV_P_ ev_idle *w) EV_NOEXCEPT;
#endif

#if EV_PREPARE_ENABLE
EV_API_DECL void ev_prepare_start (EV_P_ ev_prepare *w) EV_NOEXCEPT;
EV_API_DECL void ev_prepare_stop (EV_P_ ev_prepare *w) EV_NOEXCEPT;
#endif

#if EV_CHECK_ENABLE
EV_API_DECL void ev_check_start (EV_P_ ev_check *w) EV_NOEXCEPT;
EV_API_DECL void ev_check_stop (EV_P_ ev_check *w) EV_NOEXCEPT;
#endif

#if EV_FORK_ENABLE
EV_API_DECL void ev_fork_start (EV_P_ ev_fork *w) EV_NOEXCEPT;
EV_API_DECL void ev_fork_stop (EV_P_ ev_fork *w) EV_NOEXCEPT;
#endif

#if EV_CLEANUP_ENABLE
EV_API_DECL void ev_cleanup_start (EV_P_ ev_cleanup *w) EV_NOEXCEPT;
EV_API_DECL void ev_cleanup_stop (EV_P_ ev_cleanup *w) EV_NOEXCEPT;
#endif

#if EV_EMBED_ENABLE
/* The other loop must use a backend from ev_embeddable_backends. */
EV_API_DECL void ev_embed_start (EV_P_ ev_embed *w) EV_NOEXCEPT;
EV_API_DECL void ev_embed_stop (EV_P_ ev_embed *w) EV_NOEXCEPT;
/* Handle the other loop's pending events now (runs its callbacks). */
EV_API_DECL void ev_embed_sweep (EV_P_ ev_embed *w) EV_NOEXCEPT;
#endif

#if EV_ASYNC_ENABLE
EV_API_DECL void ev_async_start (EV_P_ ev_async *w) EV_NOEXCEPT;
EV_API_DECL void ev_async_stop (EV_P_ ev_async *w) EV_NOEXCEPT;
/* Wake the loop and make w pending. Safe from other threads and from signal handlers. */
EV_API_DECL void ev_async_send (EV_P_ ev_async *w) EV_NOEXCEPT;
#endif

#endif /* EV_PROTOTYPES */

/* ===================================================================================== *
 * 7. libev 3.x names
 * ===================================================================================== */

#if EV_COMPAT3
# define EVLOOP_NONBLOCK EVRUN_NOWAIT
# define EVLOOP_ONESHOT  EVRUN_ONCE
# define EVUNLOOP_CANCEL EVBREAK_CANCEL
# define EVUNLOOP_ONE    EVBREAK_ONE
# define EVUNLOOP_ALL    EVBREAK_ALL

/* In libev 3.x, ev_loop was the name of the run function. It still is here, which is why
 * loops must be written "struct ev_loop" (there is no typedef while EV_COMPAT3 is on). These
 * wrappers are not exported by the library; they exist only in this header. */
# if EV_PROTOTYPES
EV_INLINE void ev_loop (EV_P_ int flags) { (void) ev_run (EV_A_ flags); }
EV_INLINE void ev_unloop (EV_P_ int how) { ev_break (EV_A_ how); }
EV_INLINE void ev_default_destroy (void) { ev_loop_destroy (EV_DEFAULT); }
EV_INLINE void ev_default_fork (void) { ev_loop_fork (EV_DEFAULT); }
#  if EV_FEATURE_API
EV_INLINE unsigned int ev_loop_count (EV_P) { return ev_iteration (EV_A); }
EV_INLINE unsigned int ev_loop_depth (EV_P) { return ev_depth (EV_A); }
EV_INLINE void ev_loop_verify (EV_P) { ev_verify (EV_A); }
#  endif
# endif
#else
typedef struct ev_loop ev_loop;
#endif

#if defined (__clang__) && defined (__cplusplus)
# pragma clang diagnostic pop
#endif

#ifdef __cplusplus
}
#endif

#endif /* EV_H_ */
