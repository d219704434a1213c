# kskb as a user C module for make-based ports (unix, qemu).
KSKB_MOD_DIR := $(USERMOD_DIR)
SRC_USERMOD_C += $(KSKB_MOD_DIR)/kskb.c
# ktick: the SysTick background tick (compiles to nothing but on ARMv7-M, the QEMU board)
SRC_USERMOD_C += $(KSKB_MOD_DIR)/ktick.c
CFLAGS_USERMOD += -I$(KSKB_MOD_DIR)
