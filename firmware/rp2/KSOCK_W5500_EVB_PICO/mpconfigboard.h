// W5500-EVB-Pico running ksock (RPI_PICO based; no lwIP, no WIZnet C driver).
#define MICROPY_HW_BOARD_NAME                   "W5500-EVB-Pico (ksock)"
#define MICROPY_HW_FLASH_STORAGE_BYTES          (1408 * 1024)
