/* SPDX-License-Identifier: BSD-2-Clause
 *
 * knobs.c -- configuration macros set by the including code before #include <ev.h>.
 *
 * Compile-only; run-abi-checks.sh (check "config-knobs") compiles it once per case, selected
 * with -DKNOB_<case>:
 *   cases that must compile with evring's ev.h and with libev's:
 *     COMPAT3_OFF      EV_COMPAT3 0: "ev_loop" is a typedef, the 3.x names are gone
 *     PROTOTYPES_OFF   EV_PROTOTYPES 0: no function is declared (so we may define our own)
 *     COMMON_RENAMED   EV_COMMON with the same layout under another member name
 *     SET_CB_OVERRIDE  ev_set_cb predefined by the user is used by ev_init
 *     STAT_OFF         EV_STAT_ENABLE 0: no ev_stat, and the union shrinks accordingly
 *   cases that must NOT compile with evring's ev.h (the prebuilt library cannot follow them):
 *     BAD_COMMON       EV_COMMON that changes the watcher layout
 *     NO_MULTIPLICITY  EV_MULTIPLICITY 0
 *     FLOAT_TSTAMP     EV_TSTAMP_T float
 *     API_STATIC       EV_API_STATIC
 *     NO_PRIORITIES    EV_MINPRI == EV_MAXPRI
 */
#if defined (KNOB_COMPAT3_OFF)
# define EV_COMPAT3 0
#elif defined (KNOB_PROTOTYPES_OFF)
# define EV_PROTOTYPES 0
#elif defined (KNOB_COMMON_RENAMED) || defined (KNOB_BAD_COMMON)
# ifdef KNOB_BAD_COMMON
#  define EV_COMMON void *data; int extra;
# else
#  define EV_COMMON void *user_data;
# endif
#elif defined (KNOB_SET_CB_OVERRIDE)
static int set_cb_calls;
# define ev_set_cb(ev, cb_) (set_cb_calls++, (ev)->cb = (cb_))
#elif defined (KNOB_STAT_OFF)
# define EV_STAT_ENABLE 0
#elif defined (KNOB_NO_MULTIPLICITY)
# define EV_MULTIPLICITY 0
#elif defined (KNOB_FLOAT_TSTAMP)
# define EV_TSTAMP_T float
#elif defined (KNOB_API_STATIC)
# define EV_API_STATIC 1
#elif defined (KNOB_NO_PRIORITIES)
# define EV_MINPRI 0
# define EV_MAXPRI 0
#else
# error "select a case with -DKNOB_<case>"
#endif

#include <ev.h>

int knob_use (void);

#if defined (KNOB_COMPAT3_OFF)
# ifdef EVLOOP_NONBLOCK
#  error "EV_COMPAT3 0 must remove the 3.x names"
# endif
int
knob_use (void)
{
  ev_loop *l = ev_default_loop (0);  /* the typedef */
  return ev_run (l, EVRUN_NOWAIT);
}
#elif defined (KNOB_PROTOTYPES_OFF)
/* would conflict with the library's declaration if one were visible */
static long ev_run (long x) { return x; }
int
knob_use (void)
{
  ev_io w;
  w.fd = 1;
  return (int) ev_run (w.fd);
}
#elif defined (KNOB_COMMON_RENAMED) || defined (KNOB_BAD_COMMON)
int
knob_use (void)
{
  ev_timer t;
  ev_timer_init (&t, 0, 1., 0.);
# ifdef KNOB_BAD_COMMON
  t.extra = 0;
  return t.extra;
# else
  t.user_data = 0;
  return t.user_data == 0;
# endif
}
#elif defined (KNOB_SET_CB_OVERRIDE)
int
knob_use (void)
{
  ev_idle w;
  ev_idle_init (&w, 0);
  return set_cb_calls;
}
#elif defined (KNOB_STAT_OFF)
typedef char union_without_stat[sizeof (union ev_any_watcher) == sizeof (ev_embed) ? 1 : -1];
int
knob_use (void)
{
  union_without_stat u;
  u[0] = 0;
  return u[0];
}
#else
int
knob_use (void)
{
  return 0;
}
#endif
