# W5500-EVB-Pico for ksock: an RPI_PICO build (RP2040, 2 MB flash) without lwIP
# or the WIZnet C driver -- ksock's own W5500 MACRAW driver runs the chip.
set(PICO_BOARD "pico")
set(PICO_PLATFORM "rp2040")
set(MICROPY_FROZEN_MANIFEST ${MICROPY_BOARD_DIR}/manifest.py)
# No C++ in MicroPython: skip pico-sdk's operator new/delete and link with gcc,
# not g++ (plus the -lm g++ adds; its -lstdc++ is libstdc++-arm-none-eabi-newlib, 1.5 GB installed).
add_compile_definitions(PICO_CXX_DISABLE_ALLOCATION_OVERRIDES=1)
set(CMAKE_CXX_LINK_EXECUTABLE
    "<CMAKE_C_COMPILER> <FLAGS> <CMAKE_CXX_LINK_FLAGS> <LINK_FLAGS> <OBJECTS> -o <TARGET> <LINK_LIBRARIES> -lm")
