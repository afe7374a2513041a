# evringConfig.cmake -- lets `find_package(evring CONFIG)` work as well as
# `find_package(Libev CONFIG)`; both give the imported target Libev::Libev.
# Installed as <prefix>/lib/cmake/evring/evringConfig.cmake next to ../Libev/.
include("${CMAKE_CURRENT_LIST_DIR}/../Libev/LibevConfig.cmake")
set(evring_FOUND "${LIBEV_FOUND}")
