// ktick: a periodic SysTick interrupt that schedules a Python callback with
// mp_sched_schedule -- the background tick of ksock's softirq loop
// (ksock/kernel/ksoftirqd.py) on a Cortex-M3/M4 port with no machine.Timer,
// the QEMU mps2-an385 board. Its vector table sits in flash with a fault stub
// for SysTick, so start() copies the table into aligned RAM, points the
// SysTick entry at our handler and moves SCB->VTOR there.
//
//   import ktick; ktick.start(period_us, callback, [cpu_hz]); ktick.stop()
//
// At most one callback is outstanding: a tick that finds the previous one not
// yet run schedules nothing (so the scheduler queue never fills with ticks).
// Built only for ARMv7-M; elsewhere the file is empty and `import ktick` fails.
#include "py/runtime.h"

#if (defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__)) && MICROPY_ENABLE_SCHEDULER

#include <string.h>

#define SCB_VTOR (*(volatile uint32_t *)0xE000ED08)
#define SCB_SHPR3 (*(volatile uint32_t *)0xE000ED20)
#define SYST_CSR (*(volatile uint32_t *)0xE000E010)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018)
#define SYST_CSR_ENABLE (1u << 0)
#define SYST_CSR_TICKINT (1u << 1)
#define SYST_CSR_CLKSOURCE (1u << 2) // the processor clock
#define KTICK_VECTORS (16 + 32) // the system exceptions + the board's IRQs
#define KTICK_SYSTICK (15)
#define KTICK_CPU_HZ (25000000) // mps2-an385

static uint32_t ktick_vectors[KTICK_VECTORS] __attribute__((aligned(256)));
static uint32_t ktick_vtor_saved;
static volatile uint8_t ktick_outstanding;
static volatile uint32_t ktick_count;

MP_REGISTER_ROOT_POINTER(mp_obj_t ktick_callback);
MP_REGISTER_ROOT_POINTER(mp_obj_t ktick_guard); // its finaliser stops the tick at soft reset

static void ktick_off(void);

// gc_sweep_all() at a soft reset runs this before the heap (and the callback
// in it) goes away: no tick may schedule a dangling callback afterwards.
static mp_obj_t ktick_guard_del(mp_obj_t self) {
    ktick_off();
    MP_STATE_VM(ktick_callback) = MP_OBJ_NULL;
    MP_STATE_VM(ktick_guard) = MP_OBJ_NULL;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(ktick_guard_del_obj, ktick_guard_del);

static const mp_rom_map_elem_t ktick_guard_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___del__), MP_ROM_PTR(&ktick_guard_del_obj) },
};
static MP_DEFINE_CONST_DICT(ktick_guard_locals, ktick_guard_locals_table);
static MP_DEFINE_CONST_OBJ_TYPE(ktick_guard_type, MP_QSTR_ktick_guard, MP_TYPE_FLAG_NONE,
    locals_dict, &ktick_guard_locals);

static mp_obj_t ktick_run(mp_obj_t arg) {
    ktick_outstanding = 0;
    mp_obj_t cb = MP_STATE_VM(ktick_callback);
    if (cb != MP_OBJ_NULL && cb != mp_const_none) {
        mp_call_function_1(cb, arg);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(ktick_run_obj, ktick_run);

static void ktick_handler(void) {
    ktick_count++;
    if (!ktick_outstanding && MP_STATE_VM(ktick_callback) != MP_OBJ_NULL) {
        ktick_outstanding = 1;
        if (!mp_sched_schedule(MP_OBJ_FROM_PTR(&ktick_run_obj), mp_const_none)) {
            ktick_outstanding = 0; // queue full: try again next tick
        }
    }
}

static void ktick_off(void) {
    SYST_CSR = 0;
    ktick_outstanding = 0;
    if (ktick_vtor_saved || SCB_VTOR == (uint32_t)ktick_vectors) {
        SCB_VTOR = ktick_vtor_saved;
    }
}

static mp_obj_t ktick_start(size_t n_args, const mp_obj_t *args) {
    mp_int_t period_us = mp_obj_get_int(args[0]);
    mp_int_t hz = n_args > 2 ? mp_obj_get_int(args[2]) : KTICK_CPU_HZ;
    if (period_us <= 0 || period_us > 1000000 || hz < 1000) {
        mp_raise_ValueError(MP_ERROR_TEXT("period out of range"));
    }
    // hz * period_us / 1e6 in 32 bits (a 64-bit division would pull in libgcc's unwinder)
    uint32_t khz = (uint32_t)hz / 1000u, p = (uint32_t)period_us;
    uint32_t reload = khz * (p / 1000u) + khz * (p % 1000u) / 1000u;
    if (reload < 2 || reload > 0x1000000) {
        mp_raise_ValueError(MP_ERROR_TEXT("period out of range"));
    }
    SYST_CSR = 0;
    if (MP_STATE_VM(ktick_guard) == MP_OBJ_NULL) {
        MP_STATE_VM(ktick_guard) = MP_OBJ_FROM_PTR(mp_obj_malloc_with_finaliser(mp_obj_base_t, &ktick_guard_type));
    }
    MP_STATE_VM(ktick_callback) = args[1];
    ktick_outstanding = 0;
    if (SCB_VTOR != (uint32_t)ktick_vectors) {
        ktick_vtor_saved = SCB_VTOR;
        memcpy(ktick_vectors, (const void *)ktick_vtor_saved, 16 * sizeof(uint32_t));
        ktick_vectors[KTICK_SYSTICK] = (uint32_t)&ktick_handler; // Thumb bit set by the linker
        __asm volatile ("dsb");
        SCB_VTOR = (uint32_t)ktick_vectors;
        __asm volatile ("dsb\n isb");
    }
    SCB_SHPR3 = (SCB_SHPR3 & 0x00FFFFFFu) | 0xF0000000u; // lowest priority: never pre-empts a fault
    SYST_RVR = reload - 1;
    SYST_CVR = 0;
    SYST_CSR = SYST_CSR_CLKSOURCE | SYST_CSR_TICKINT | SYST_CSR_ENABLE;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(ktick_start_obj, 2, 3, ktick_start);

static mp_obj_t ktick_stop(void) {
    ktick_off();
    MP_STATE_VM(ktick_callback) = MP_OBJ_NULL;
    MP_STATE_VM(ktick_guard) = MP_OBJ_NULL;
    ktick_outstanding = 0;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_0(ktick_stop_obj, ktick_stop);

static mp_obj_t ktick_ticks(void) {
    return mp_obj_new_int_from_uint(ktick_count);
}
static MP_DEFINE_CONST_FUN_OBJ_0(ktick_ticks_obj, ktick_ticks);

static const mp_rom_map_elem_t ktick_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_ktick) },
    { MP_ROM_QSTR(MP_QSTR_start), MP_ROM_PTR(&ktick_start_obj) },
    { MP_ROM_QSTR(MP_QSTR_stop), MP_ROM_PTR(&ktick_stop_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks), MP_ROM_PTR(&ktick_ticks_obj) },
};
static MP_DEFINE_CONST_DICT(ktick_module_globals, ktick_module_globals_table);

const mp_obj_module_t ktick_user_cmodule = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&ktick_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR_ktick, ktick_user_cmodule);

#endif
