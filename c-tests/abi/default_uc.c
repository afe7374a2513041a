/* SPDX-License-Identifier: BSD-2-Clause
 *
 * default_uc.c -- EV_DEFAULT_UC, ev_default_loop_uc_ and ev_is_default_loop read the library's
 * exported data object ev_default_loop_ptr from inline code compiled into the program.
 *
 * Executables reference that object through a copy relocation (with -no-pie, and usually with
 * -pie too), so the library must write the program's copy of it, not a private one. This
 * program checks that the inline readers see what ev_default_loop returned, before and after
 * destroying and re-creating the default loop. run-abi-checks.sh builds it -pie and -no-pie
 * and runs it against evring's libev.so.4 and against Debian's.
 *
 * Usage: default_uc EXPECTED-LIBRARY-FILE
 * The first argument names the libev the program is meant to run with; the program checks
 * (through the dynamic linker's list of loaded objects) that the libev.so.4 it was given is
 * that file, so a wrong library search path cannot make the test pass against the wrong
 * library.
 */
#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <link.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* <link.h> pulls in <elf.h>, whose EV_NONE macro (ELF version "none") would clobber libev's
 * EV_NONE enumerator; this program needs neither. */
#undef EV_NONE
#include <ev.h>

static int failures;

static void
check (int ok, const char *what)
{
  printf ("%s: %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok)
    failures++;
}

int
main (int argc, char **argv)
{
  void *handle;
  struct link_map *map = 0;
  char want[PATH_MAX];
  char got[PATH_MAX];
  struct ev_loop *loop;
  struct ev_loop *other;
  struct ev_loop *again;

  if (argc != 2)
    {
      fprintf (stderr, "usage: %s EXPECTED-LIBRARY-FILE\n", argv[0]);
      return 2;
    }

  /* which libev.so.4 did the dynamic linker load? (RTLD_NOLOAD: only if already loaded) */
  handle = dlopen ("libev.so.4", RTLD_LAZY | RTLD_NOLOAD);
  if (!handle || dlinfo (handle, RTLD_DI_LINKMAP, &map) != 0 || !map || !map->l_name
      || !realpath (map->l_name, got) || !realpath (argv[1], want))
    {
      fprintf (stderr, "cannot find the loaded libev.so.4 or the expected library\n");
      return 2;
    }
  check (strcmp (got, want) == 0, "the loaded libev.so.4 is the library under test");
  if (strcmp (got, want) != 0)
    fprintf (stderr, "  loaded %s\n  wanted %s\n", got, want);

  check (ev_default_loop_uc_ () == 0, "ev_default_loop_uc_ () is NULL before the default loop exists");

  loop = ev_default_loop (0);
  check (loop != 0, "ev_default_loop (0) returns a loop");
  check (EV_DEFAULT_UC == loop, "EV_DEFAULT_UC is the loop ev_default_loop returned");
  check (ev_default_loop_uc_ () == loop, "ev_default_loop_uc_ () is that loop");
  check (ev_is_default_loop (loop) != 0, "ev_is_default_loop (default loop) is true");
  check (ev_default_loop (0) == loop, "a second ev_default_loop (0) returns the same loop");

  other = ev_loop_new (0);
  check (other != 0 && !ev_is_default_loop (other), "ev_is_default_loop (ev_loop_new loop) is false");
  check (EV_DEFAULT_UC == loop, "EV_DEFAULT_UC unchanged by ev_loop_new");
  ev_loop_destroy (other);

  ev_loop_destroy (loop);
  check (ev_default_loop_uc_ () == 0, "ev_default_loop_uc_ () is NULL after destroying the default loop");

  again = ev_default_loop (0);
  check (again != 0 && EV_DEFAULT_UC == again && ev_is_default_loop (again),
         "a re-created default loop is seen by EV_DEFAULT_UC");
  ev_loop_destroy (again);
  dlclose (handle);

  printf ("%s\n", failures ? "FAILED" : "all checks passed");
  return failures ? 1 : 0;
}
