// W5500-EVB-Pico running ksock (RPI_PICO based; no lwIP, no WIZnet C driver).
#define MICROPY_HW_BOARD_NAME                   "W5500-EVB-Pico (ksock)"
#define MICROPY_HW_FLASH_STORAGE_BYTES          (1408 * 1024)
// MicroPython's tls module on the mbedtls the rp2 port links anyway (ssl.py frozen
// over it; docs/tls.md has its cost). Off in the stock build without MICROPY_PY_NETWORK.
#define MICROPY_PY_SSL                          (1)
