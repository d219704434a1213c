# USER_C_MODULES entry point for CMake ports: every module under firmware/cmodules.
include(${CMAKE_CURRENT_LIST_DIR}/kskb/micropython.cmake)
