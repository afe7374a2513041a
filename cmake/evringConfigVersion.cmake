# evringConfigVersion.cmake -- the libev API version evring implements (see
# ../Libev/LibevConfigVersion.cmake); find_package(evring 4.33) is checked against it.
include("${CMAKE_CURRENT_LIST_DIR}/../Libev/LibevConfigVersion.cmake")
