# FindLibev.cmake -- locate a libev 4.x compatible library (evring or libev itself).
#
# Usage:
#   list(APPEND CMAKE_MODULE_PATH <dir containing this file>)
#   find_package(Libev 4.11 REQUIRED)
#   target_link_libraries(myprog PRIVATE Libev::Libev)
#
# Hints (all optional):
#   LIBEV_ROOT        CMake or environment variable: the install prefix to search first
#                     (<root>/include/ev.h, <root>/lib/libev.{so,a}). Libev_ROOT and
#                     CMAKE_PREFIX_PATH work as usual too.
#   LIBEV_USE_STATIC  ON: prefer libev.a over the shared library (default OFF: prefer shared).
#   LIBEV_INCLUDE_DIR, LIBEV_LIBRARY
#                     cache variables; set them on the command line to bypass the search
#                     (the same names as the FindLibev.cmake that pgagroal 1.x ships).
#   LIBEV_STATIC_LINK_LIBRARIES
#                     cache variable: the system libraries a static libev.a needs. The
#                     default is the list that `rustc --print native-static-libs` prints
#                     for a Rust staticlib on this platform (see below); override it if
#                     your toolchain prints something else.
#
# Results:
#   LIBEV_FOUND / Libev_FOUND   TRUE when ev.h and the library were found
#   LIBEV_INCLUDE_DIRS          directory of ev.h
#   LIBEV_LIBRARIES             the library file, followed by the system libraries for a
#                               static archive
#   LIBEV_VERSION               "<EV_VERSION_MAJOR>.<EV_VERSION_MINOR>" read from ev.h
#   LIBEV_IS_STATIC             TRUE when LIBEV_LIBRARY is a static archive
#   Libev::Libev                imported target (include dir + library + link deps)
#
# Why the system libraries: evring's libev.a is a Rust `staticlib`. It carries Rust's std,
# which calls into libgcc_s (unwinder), libpthread, libdl, librt, libutil and libm. On
# x86_64-unknown-linux-gnu `rustc --print native-static-libs` reports
#   -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
# With glibc >= 2.34 pthread/dl/rt/util are part of libc (the -l flags still resolve to
# empty stub libraries), so linking them is harmless there and needed on older systems.
# On FreeBSD the list is execinfo, pthread (libthr), gcc_s, m, rt, util; check with
# `cargo rustc --release -- --print native-static-libs` on the build host.

include(FindPackageHandleStandardArgs)

option(LIBEV_USE_STATIC "Prefer the static libev.a over the shared libev" OFF)

# --- hints -----------------------------------------------------------------------------
set(_libev_hints)
foreach(_libev_root IN ITEMS "${LIBEV_ROOT}" "$ENV{LIBEV_ROOT}" "${Libev_ROOT}" "$ENV{Libev_ROOT}")
  if(_libev_root)
    list(APPEND _libev_hints "${_libev_root}")
  endif()
endforeach()

find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND AND NOT _libev_hints)
  pkg_check_modules(PC_LIBEV QUIET libev)
endif()

find_path(LIBEV_INCLUDE_DIR
  NAMES ev.h
  HINTS ${_libev_hints} ${PC_LIBEV_INCLUDEDIR} ${PC_LIBEV_INCLUDE_DIRS}
  PATH_SUFFIXES include include/libev
)

if(LIBEV_USE_STATIC)
  set(_libev_names
    "${CMAKE_STATIC_LIBRARY_PREFIX}ev${CMAKE_STATIC_LIBRARY_SUFFIX}" ev)
else()
  set(_libev_names ev
    "${CMAKE_STATIC_LIBRARY_PREFIX}ev${CMAKE_STATIC_LIBRARY_SUFFIX}")
endif()

find_library(LIBEV_LIBRARY
  NAMES ${_libev_names}
  NAMES_PER_DIR
  HINTS ${_libev_hints} ${PC_LIBEV_LIBDIR} ${PC_LIBEV_LIBRARY_DIRS}
  PATH_SUFFIXES lib lib64
)

# --- version from ev.h -------------------------------------------------------------------
set(LIBEV_VERSION "")
if(LIBEV_INCLUDE_DIR AND EXISTS "${LIBEV_INCLUDE_DIR}/ev.h")
  file(STRINGS "${LIBEV_INCLUDE_DIR}/ev.h" _libev_major
       REGEX "^#[ \t]*define[ \t]+EV_VERSION_MAJOR[ \t]+[0-9]+")
  file(STRINGS "${LIBEV_INCLUDE_DIR}/ev.h" _libev_minor
       REGEX "^#[ \t]*define[ \t]+EV_VERSION_MINOR[ \t]+[0-9]+")
  string(REGEX REPLACE ".*EV_VERSION_MAJOR[ \t]+([0-9]+).*" "\\1" _libev_major "${_libev_major}")
  string(REGEX REPLACE ".*EV_VERSION_MINOR[ \t]+([0-9]+).*" "\\1" _libev_minor "${_libev_minor}")
  if(_libev_major MATCHES "^[0-9]+$" AND _libev_minor MATCHES "^[0-9]+$")
    set(LIBEV_VERSION "${_libev_major}.${_libev_minor}")
  endif()
endif()

# --- static or shared ----------------------------------------------------------------------
set(LIBEV_IS_STATIC FALSE)
if(LIBEV_LIBRARY MATCHES "\\${CMAKE_STATIC_LIBRARY_SUFFIX}$")
  set(LIBEV_IS_STATIC TRUE)
endif()

if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
  set(_libev_sys_default gcc_s util rt pthread m dl)
elseif(CMAKE_SYSTEM_NAME MATCHES "BSD|DragonFly")
  set(_libev_sys_default execinfo pthread gcc_s m rt util)
elseif(APPLE)
  set(_libev_sys_default System c m)
else()
  set(_libev_sys_default pthread m)
endif()
set(LIBEV_STATIC_LINK_LIBRARIES "${_libev_sys_default}" CACHE STRING
    "System libraries linked after a static libev.a (Rust staticlib dependencies)")

find_package_handle_standard_args(Libev
  REQUIRED_VARS LIBEV_LIBRARY LIBEV_INCLUDE_DIR
  VERSION_VAR LIBEV_VERSION
)

if(Libev_FOUND)
  set(LIBEV_FOUND TRUE)
  set(LIBEV_INCLUDE_DIRS "${LIBEV_INCLUDE_DIR}")
  set(LIBEV_LIBRARIES "${LIBEV_LIBRARY}")
  set(_libev_deps)
  if(LIBEV_IS_STATIC)
    foreach(_libev_dep IN LISTS LIBEV_STATIC_LINK_LIBRARIES)
      if(_libev_dep STREQUAL "pthread")
        set(THREADS_PREFER_PTHREAD_FLAG ON)
        find_package(Threads QUIET)
        if(Threads_FOUND)
          list(APPEND _libev_deps Threads::Threads)
          list(APPEND LIBEV_LIBRARIES ${CMAKE_THREAD_LIBS_INIT})
          continue()
        endif()
      endif()
      list(APPEND _libev_deps "${_libev_dep}")
      list(APPEND LIBEV_LIBRARIES "${_libev_dep}")
    endforeach()
  endif()

  if(NOT TARGET Libev::Libev)
    if(LIBEV_IS_STATIC)
      add_library(Libev::Libev STATIC IMPORTED)
    else()
      add_library(Libev::Libev UNKNOWN IMPORTED)
    endif()
    set_target_properties(Libev::Libev PROPERTIES
      IMPORTED_LOCATION "${LIBEV_LIBRARY}"
      IMPORTED_LINK_INTERFACE_LANGUAGES "C"
      INTERFACE_INCLUDE_DIRECTORIES "${LIBEV_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES "${_libev_deps}"
    )
  endif()
endif()

mark_as_advanced(LIBEV_INCLUDE_DIR LIBEV_LIBRARY LIBEV_STATIC_LINK_LIBRARIES)
unset(_libev_hints)
unset(_libev_names)
unset(_libev_major)
unset(_libev_minor)
unset(_libev_deps)
unset(_libev_sys_default)
