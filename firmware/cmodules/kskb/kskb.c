// kskb: the sk_buff hot path of ksock in C (include/linux/skbuff.h, lib/checksum.c).
// One source, built as a user C module (firmware builds) and, with
// MICROPY_ENABLE_DYNRUNTIME, as a dynamic native module (.mpy) for stock firmware.
// ksock/net/core/skbuff.py holds the pure-Python twin: both must agree on every call.

#include "py/runtime.h"
#if !MICROPY_ENABLE_DYNRUNTIME
#include "py/mphal.h"
#endif

// ---- checksum (lib/checksum.c) ------------------------------------------------
// Sums are kept in network byte order and folded to 16 bits, so a partial sum
// is a small int on every port (no long ints on 32-bit MCUs).

static inline uint32_t kskb_fold32(uint64_t s) {
    s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffffffffu) + (s >> 32);
    uint32_t t = (uint32_t)s;
    t = (t & 0xffff) + (t >> 16);
    t = (t & 0xffff) + (t >> 16);   // second pass catches 0x1ffff -> 0x10000 -> 1
    return t;
}

// Ones'-complement sum of p[0..n) as big-endian 16-bit words, odd tail padded.
static uint32_t kskb_csum(const uint8_t *p, size_t n, uint32_t init) {
    uint64_t s = 0;
    // 4 bytes at a time, little-endian loads; byte order is fixed up at the end
    // (a ones'-complement sum commutes with byte swapping).
    while (n >= 16) {
        uint32_t a, b, c, d;
        memcpy(&a, p, 4); memcpy(&b, p + 4, 4); memcpy(&c, p + 8, 4); memcpy(&d, p + 12, 4);
        s += (uint64_t)a + b + c + d;
        p += 16; n -= 16;
    }
    while (n >= 4) {
        uint32_t a;
        memcpy(&a, p, 4);
        s += a;
        p += 4; n -= 4;
    }
    uint32_t t = 0;
    if (n >= 2) { t = (uint32_t)p[0] | ((uint32_t)p[1] << 8); p += 2; n -= 2; }
    if (n) { t += p[0]; }
    s += t;
    uint32_t le = kskb_fold32(s);
    uint32_t be = ((le & 0xff) << 8) | (le >> 8);
    return kskb_fold32((uint64_t)be + init);
}

// Resolve (buf, off, len) into a byte range with the same errors as the Python twin.
static const uint8_t *kskb_range(size_t n_args, const mp_obj_t *args, size_t *len_out) {
    mp_buffer_info_t bi;
    mp_get_buffer_raise(args[0], &bi, MP_BUFFER_READ);
    mp_int_t off = n_args > 1 ? mp_obj_get_int(args[1]) : 0;
    mp_int_t len = n_args > 2 ? mp_obj_get_int(args[2]) : -1;
    if (off < 0 || (size_t)off > bi.len) {
        mp_raise_ValueError(MP_ERROR_TEXT("csum: offset out of range"));
    }
    if (len < 0) {
        len = bi.len - off;
    } else if ((size_t)(off + len) > bi.len) {
        mp_raise_ValueError(MP_ERROR_TEXT("csum: length out of range"));
    }
    *len_out = len;
    return (const uint8_t *)bi.buf + off;
}

// csum_partial(buf, off=0, len=-1, sum=0) -> folded 16-bit partial sum (not complemented)
static mp_obj_t kskb_csum_partial(size_t n_args, const mp_obj_t *args) {
    size_t n;
    const uint8_t *p = kskb_range(n_args, args, &n);
    uint32_t init = n_args > 3 ? (uint32_t)mp_obj_get_int(args[3]) : 0;
    return MP_OBJ_NEW_SMALL_INT(kskb_csum(p, n, init & 0xffff));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(kskb_csum_partial_obj, 1, 4, kskb_csum_partial);

// ---- clock -------------------------------------------------------------------
// ticks_us() with MicroPython's ticks semantics (wraps at 2**30), for ports
// whose firmware has no `time` module (the QEMU mps2 board). On the mps2 board
// the LAN9118's 25 MHz FREE_RUN counter is the time base; elsewhere the port's HAL.
#if !MICROPY_ENABLE_DYNRUNTIME
#if defined(QEMU_SOC_MPS2)
#define KSKB_FREE_RUN (*(volatile uint32_t *)(0x40200000 + 0x9c))
static uint32_t kskb_last_raw, kskb_cyc_rem, kskb_us, kskb_us_rem, kskb_ms;
// Must run at least once per 171 s (2**32 / 25 MHz); the softirq loop does.
// 32-bit arithmetic only: 64-bit division would drag libgcc's unwinder in.
static void kskb_clock_update(void) {
    uint32_t raw = KSKB_FREE_RUN;
    uint32_t d = raw - kskb_last_raw;
    kskb_last_raw = raw;
    uint32_t q = d / 25;
    kskb_cyc_rem += d % 25;
    if (kskb_cyc_rem >= 25) { q++; kskb_cyc_rem -= 25; }
    kskb_us += q;
    kskb_us_rem += q;
    kskb_ms += kskb_us_rem / 1000;
    kskb_us_rem %= 1000;
}
static mp_uint_t kskb_ticks_us_raw(void) {
    kskb_clock_update();
    return kskb_us;
}
static mp_uint_t kskb_ticks_ms_raw(void) {
    kskb_clock_update();
    return kskb_ms;
}
#else
static mp_uint_t kskb_ticks_us_raw(void) {
    return mp_hal_ticks_us();
}
static mp_uint_t kskb_ticks_ms_raw(void) {
    return mp_hal_ticks_ms();
}
#endif
static mp_obj_t kskb_ticks_us(void) {
    return MP_OBJ_NEW_SMALL_INT(kskb_ticks_us_raw() & ((1u << 30) - 1));
}
static MP_DEFINE_CONST_FUN_OBJ_0(kskb_ticks_us_obj, kskb_ticks_us);
static mp_obj_t kskb_ticks_ms(void) {
    return MP_OBJ_NEW_SMALL_INT(kskb_ticks_ms_raw() & ((1u << 30) - 1));
}
static MP_DEFINE_CONST_FUN_OBJ_0(kskb_ticks_ms_obj, kskb_ticks_ms);
#endif

// ---- module registration -------------------------------------------------------
#if MICROPY_ENABLE_DYNRUNTIME
mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    MP_DYNRUNTIME_INIT_ENTRY
    mp_store_global(MP_QSTR_csum_partial, MP_OBJ_FROM_PTR(&kskb_csum_partial_obj));
    mp_store_global(MP_QSTR_IMPL, MP_OBJ_NEW_QSTR(MP_QSTR_natmod));
    MP_DYNRUNTIME_INIT_EXIT
}
#else
static const mp_rom_map_elem_t kskb_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_kskb) },
    { MP_ROM_QSTR(MP_QSTR_IMPL), MP_ROM_QSTR(MP_QSTR_cmodule) },
    { MP_ROM_QSTR(MP_QSTR_csum_partial), MP_ROM_PTR(&kskb_csum_partial_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks_us), MP_ROM_PTR(&kskb_ticks_us_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks_ms), MP_ROM_PTR(&kskb_ticks_ms_obj) },
};
static MP_DEFINE_CONST_DICT(kskb_module_globals, kskb_module_globals_table);

const mp_obj_module_t kskb_user_cmodule = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&kskb_module_globals,
};
MP_REGISTER_MODULE(MP_QSTR_kskb, kskb_user_cmodule);
#endif
