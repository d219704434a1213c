# kskb as a user C module for CMake-based ports (rp2, esp32).
add_library(usermod_kskb INTERFACE)
target_sources(usermod_kskb INTERFACE ${CMAKE_CURRENT_LIST_DIR}/kskb.c)
target_include_directories(usermod_kskb INTERFACE ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(usermod INTERFACE usermod_kskb)
