# SPDX-License-Identifier: BSD-2-Clause
#
# abi.cmake -- registers evring's ABI and header checks (c-tests/abi) as ctest tests.
#
# Included by c-tests/CMakeLists.txt (include(abi/abi.cmake)); also usable from any CMake
# project with C enabled. Every test runs one check of run-abi-checks.sh, which is also the way
# to run them without CMake (see that script). A test exits 77 (reported as skipped) only when
# something it needs does not exist, e.g. evring's libev.so before the Rust build has run.
#
# Inputs, defaulted here when the includer has not set them:
#   EVRING_INCLUDE_DIR     directory of evring's ev.h               (<repo>/include)
#   EVRING_LIB_DIR         directory of evring's libev.so and libev.a (<repo>/target/release)
#   SYSTEM_EV_INCLUDE_DIR  directory of libev's own ev.h, the oracle  (searched in the
#                          compiler's implicit include directories)
#   SYSTEM_EV_LIB          libev's own libev.so.4                     (searched in the
#                          compiler's implicit link directories)
# <repo> is two levels above this file. An input that stays empty is left to the script,
# which looks for it itself or skips the checks that need it.

get_filename_component(_evring_abi_dir "${CMAKE_CURRENT_LIST_DIR}" ABSOLUTE)
get_filename_component(_evring_abi_repo "${_evring_abi_dir}/../.." ABSOLUTE)

if(NOT EVRING_INCLUDE_DIR)
  set(EVRING_INCLUDE_DIR "${_evring_abi_repo}/include")
endif()
if(NOT EVRING_LIB_DIR)
  set(EVRING_LIB_DIR "${_evring_abi_repo}/target/release")
endif()
if(NOT SYSTEM_EV_INCLUDE_DIR)
  find_path(EVRING_ABI_SYSTEM_EV_INCLUDE_DIR ev.h
            PATHS ${CMAKE_C_IMPLICIT_INCLUDE_DIRECTORIES} NO_DEFAULT_PATH)
  if(EVRING_ABI_SYSTEM_EV_INCLUDE_DIR)
    set(SYSTEM_EV_INCLUDE_DIR "${EVRING_ABI_SYSTEM_EV_INCLUDE_DIR}")
  else()
    set(SYSTEM_EV_INCLUDE_DIR "")
  endif()
endif()
if(NOT SYSTEM_EV_LIB)
  find_file(EVRING_ABI_SYSTEM_EV_LIB libev.so.4
            PATHS ${CMAKE_C_IMPLICIT_LINK_DIRECTORIES} NO_DEFAULT_PATH)
  if(EVRING_ABI_SYSTEM_EV_LIB)
    set(SYSTEM_EV_LIB "${EVRING_ABI_SYSTEM_EV_LIB}")
  else()
    set(SYSTEM_EV_LIB "")
  endif()
endif()
message(STATUS "evring ABI checks: evring ev.h in ${EVRING_INCLUDE_DIR}, libraries in ${EVRING_LIB_DIR}")
message(STATUS "evring ABI checks: oracle ev.h in '${SYSTEM_EV_INCLUDE_DIR}', library '${SYSTEM_EV_LIB}'")

find_program(EVRING_ABI_SH NAMES sh)
if(NOT EVRING_ABI_SH)
  message(WARNING "evring ABI checks: no POSIX sh found, the abi.* tests are not registered")
  return()
endif()

# The script compiles with explicit compilers (gcc, clang, g++, clang++ for the header
# matrix); the programs it runs are built with the project's compilers.
set(_evring_abi_env
  "EVRING_INCLUDE_DIR=${EVRING_INCLUDE_DIR}"
  "EVRING_LIB_DIR=${EVRING_LIB_DIR}"
  "SYSTEM_EV_INCLUDE_DIR=${SYSTEM_EV_INCLUDE_DIR}"
  "SYSTEM_EV_LIB=${SYSTEM_EV_LIB}"
  "ABI_WORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/abi-work"
  "CC=${CMAKE_C_COMPILER}")
if(CMAKE_CXX_COMPILER)
  list(APPEND _evring_abi_env "CXX=${CMAKE_CXX_COMPILER}")
endif()

enable_testing()

# One test per check; keep this list in step with ALL_CHECKS in run-abi-checks.sh.
set(_evring_abi_checks
  version-lines layout layout-cxx macros compile-c compile-cxx compile-strict config-knobs
  evxx embed sysheader-fails symbols symbols-event soname pic static-symbols default-uc
  default-uc-system dlclose-fork)

foreach(_check IN LISTS _evring_abi_checks)
  add_test(NAME abi.${_check}
           COMMAND "${EVRING_ABI_SH}" "${_evring_abi_dir}/run-abi-checks.sh" ${_check})
  set_tests_properties(abi.${_check} PROPERTIES
    ENVIRONMENT "${_evring_abi_env}"
    SKIP_RETURN_CODE 77
    LABELS abi
    TIMEOUT 900)
endforeach()

unset(_check)
unset(_evring_abi_checks)
unset(_evring_abi_env)
