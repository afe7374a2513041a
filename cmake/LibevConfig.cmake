# LibevConfig.cmake -- CMake package configuration for evring (libev 4.33 compatible).
#
# Installed by cmake/install.sh as <prefix>/lib/cmake/Libev/LibevConfig.cmake. It locates
# everything relative to its own directory, so the installed tree can be moved.
#
#   find_package(Libev 4.11 CONFIG REQUIRED)        # CMAKE_PREFIX_PATH=<prefix>, or Libev_DIR
#   target_link_libraries(myprog PRIVATE Libev::Libev)
#
# Targets:
#   Libev::ev_shared   <prefix>/lib/libev.so (SONAME libev.so.4), if installed
#   Libev::ev_static   <prefix>/lib/libev.a plus the system libraries a Rust staticlib needs
#   Libev::Libev       one of the two: the static one if LIBEV_USE_STATIC is ON (or if no
#                      shared library is installed), the shared one otherwise
# Variables (for projects written against FindLibev.cmake):
#   LIBEV_FOUND, LIBEV_INCLUDE_DIRS, LIBEV_LIBRARIES, LIBEV_VERSION, LIBEV_IS_STATIC
#
# LIBEV_STATIC_LINK_LIBRARIES (cache) lists the system libraries; the default is what
# `rustc --print native-static-libs` prints for the platform (see FindLibev.cmake).

get_filename_component(_libev_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
set(_libev_incdir "${_libev_prefix}/include")
get_filename_component(_libev_libdir "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)

set(LIBEV_VERSION "${Libev_VERSION}")
if(NOT LIBEV_VERSION)
  include("${CMAKE_CURRENT_LIST_DIR}/LibevConfigVersion.cmake")
  set(LIBEV_VERSION "${PACKAGE_VERSION}")
endif()

if(NOT EXISTS "${_libev_incdir}/ev.h")
  set(Libev_FOUND FALSE)
  set(Libev_NOT_FOUND_MESSAGE "ev.h not found in ${_libev_incdir}")
  return()
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
mark_as_advanced(LIBEV_STATIC_LINK_LIBRARIES)

set(_libev_shared "")
foreach(_libev_cand IN ITEMS
    "${_libev_libdir}/${CMAKE_SHARED_LIBRARY_PREFIX}ev${CMAKE_SHARED_LIBRARY_SUFFIX}"
    "${_libev_libdir}/libev.so.4")
  if(EXISTS "${_libev_cand}")
    set(_libev_shared "${_libev_cand}")
    break()
  endif()
endforeach()
set(_libev_static "${_libev_libdir}/${CMAKE_STATIC_LIBRARY_PREFIX}ev${CMAKE_STATIC_LIBRARY_SUFFIX}")
if(NOT EXISTS "${_libev_static}")
  set(_libev_static "")
endif()

if(_libev_shared AND NOT TARGET Libev::ev_shared)
  add_library(Libev::ev_shared SHARED IMPORTED)
  set_target_properties(Libev::ev_shared PROPERTIES
    IMPORTED_LOCATION "${_libev_shared}"
    IMPORTED_SONAME "libev.so.4"
    INTERFACE_INCLUDE_DIRECTORIES "${_libev_incdir}")
endif()

set(_libev_static_deps)
if(_libev_static)
  foreach(_libev_dep IN LISTS LIBEV_STATIC_LINK_LIBRARIES)
    if(_libev_dep STREQUAL "pthread")
      set(THREADS_PREFER_PTHREAD_FLAG ON)
      find_package(Threads QUIET)
      if(Threads_FOUND)
        list(APPEND _libev_static_deps Threads::Threads)
        continue()
      endif()
    endif()
    list(APPEND _libev_static_deps "${_libev_dep}")
  endforeach()
  if(NOT TARGET Libev::ev_static)
    add_library(Libev::ev_static STATIC IMPORTED)
    set_target_properties(Libev::ev_static PROPERTIES
      IMPORTED_LOCATION "${_libev_static}"
      IMPORTED_LINK_INTERFACE_LANGUAGES "C"
      INTERFACE_INCLUDE_DIRECTORIES "${_libev_incdir}"
      INTERFACE_LINK_LIBRARIES "${_libev_static_deps}")
  endif()
endif()

if((LIBEV_USE_STATIC AND _libev_static) OR (_libev_static AND NOT _libev_shared))
  set(_libev_pick Libev::ev_static)
  set(LIBEV_IS_STATIC TRUE)
  set(LIBEV_LIBRARIES "${_libev_static}")
  foreach(_libev_dep IN LISTS LIBEV_STATIC_LINK_LIBRARIES)
    if(_libev_dep STREQUAL "pthread" AND Threads_FOUND)
      list(APPEND LIBEV_LIBRARIES ${CMAKE_THREAD_LIBS_INIT})
    else()
      list(APPEND LIBEV_LIBRARIES "${_libev_dep}")
    endif()
  endforeach()
elseif(_libev_shared)
  set(_libev_pick Libev::ev_shared)
  set(LIBEV_IS_STATIC FALSE)
  set(LIBEV_LIBRARIES "${_libev_shared}")
else()
  set(Libev_FOUND FALSE)
  set(Libev_NOT_FOUND_MESSAGE "neither libev.a nor libev.so found in ${_libev_libdir}")
  return()
endif()

if(NOT TARGET Libev::Libev)
  # An INTERFACE library forwarding to the chosen target (ALIAS of an imported target
  # needs CMake >= 3.18; this works from 3.11 on).
  add_library(Libev::Libev INTERFACE IMPORTED)
  set_target_properties(Libev::Libev PROPERTIES INTERFACE_LINK_LIBRARIES "${_libev_pick}")
endif()

set(LIBEV_FOUND TRUE)
set(LIBEV_INCLUDE_DIR "${_libev_incdir}")
set(LIBEV_INCLUDE_DIRS "${_libev_incdir}")
if(_libev_pick STREQUAL "Libev::ev_static")
  set(LIBEV_LIBRARY "${_libev_static}")
else()
  set(LIBEV_LIBRARY "${_libev_shared}")
endif()

unset(_libev_prefix)
unset(_libev_libdir)
unset(_libev_incdir)
unset(_libev_cand)
unset(_libev_pick)
unset(_libev_dep)
unset(_libev_static_deps)
unset(_libev_sys_default)
unset(_libev_shared)
unset(_libev_static)
