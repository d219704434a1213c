# kskb as a user C module for make-based ports (unix, qemu).
KSKB_MOD_DIR := $(USERMOD_DIR)
SRC_USERMOD_C += $(KSKB_MOD_DIR)/kskb.c
CFLAGS_USERMOD += -I$(KSKB_MOD_DIR)
