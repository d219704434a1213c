# One arch of the kskb native module; run by firmware/natmod/Makefile from
# build/natmod/<arch>/ (symlinked there as Makefile, which dynruntime.mk expects).
MPY_DIR = $(ROOT)/build/micropython
MOD = kskb
SRC = kskb.c
vpath %.c $(ROOT)/firmware/cmodules/kskb
BUILD = obj
include $(MPY_DIR)/py/dynruntime.mk
