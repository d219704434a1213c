// kskb: the sk_buff hot path of ksock in C (include/linux/skbuff.h, lib/checksum.c).
// One source, built as a user C module (firmware builds) and, with
// MICROPY_ENABLE_DYNRUNTIME, as a dynamic native module (.mpy) for stock firmware.
// ksock/net/core/skbuff_py.py holds the pure-Python twin: both must agree on every
// call, errors included (same exception type and message). docs/skbuff.md.

#if MICROPY_ENABLE_DYNRUNTIME
#include "py/dynruntime.h"
#else
#include "py/runtime.h"
#include "py/mphal.h"
#endif
#include <string.h>

#if MICROPY_ENABLE_DYNRUNTIME
// No libc in a native module: the compiler may still emit these calls.
void *memset(void *s, int c, size_t n) {
    return mp_fun_table.memset_(s, c, n);
}
void *memmove(void *d, const void *s, size_t n) {
    return mp_fun_table.memmove_(d, s, n);
}
void *memcpy(void *d, const void *s, size_t n) {
    return mp_fun_table.memmove_(d, s, n);
}
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

static inline uint32_t kskb_ld32(const uint8_t *p) {
    uint32_t a;
    memcpy(&a, p, 4);   // unaligned-safe; compiles to one load where allowed
    return a;
}

// Ones'-complement sum of p[0..n) as big-endian 16-bit words, odd tail padded.
static uint32_t kskb_csum(const uint8_t *p, size_t n, uint32_t init) {
    uint64_t s = 0;
    // 4 bytes at a time, little-endian loads; byte order is fixed up at the end
    // (a ones'-complement sum commutes with byte swapping).
    while (n >= 16) {
        s += (uint64_t)kskb_ld32(p) + kskb_ld32(p + 4) + kskb_ld32(p + 8) + kskb_ld32(p + 12);
        p += 16; n -= 16;
    }
    while (n >= 4) {
        s += kskb_ld32(p);
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
static const uint8_t *kskb_range3(mp_obj_t buf, mp_int_t off, mp_int_t len, size_t *len_out) {
    mp_buffer_info_t bi;
    mp_get_buffer_raise(buf, &bi, MP_BUFFER_READ);
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
    const uint8_t *p = kskb_range3(args[0], n_args > 1 ? mp_obj_get_int(args[1]) : 0,
        n_args > 2 ? mp_obj_get_int(args[2]) : -1, &n);
    uint32_t init = n_args > 3 ? (uint32_t)mp_obj_get_int(args[3]) : 0;
    return MP_OBJ_NEW_SMALL_INT(kskb_csum(p, n, init & 0xffff));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(kskb_csum_partial_obj, 1, 4, kskb_csum_partial);

// Sums handed back in (csum_fold, csum_add, ...) are non-negative ints of any size
// up to a machine word; negative ones are a caller bug (the twin would loop).
static uint32_t kskb_sumarg(mp_obj_t o) {
    mp_int_t v = mp_obj_get_int(o);
    if (v < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("csum: negative sum"));
    }
    return kskb_fold32((uint64_t)v);
}

// csum_fold(sum) -> complemented 16-bit checksum field value
static mp_obj_t kskb_csum_fold(mp_obj_t s) {
    return MP_OBJ_NEW_SMALL_INT(~kskb_sumarg(s) & 0xffff);
}
static MP_DEFINE_CONST_FUN_OBJ_1(kskb_csum_fold_obj, kskb_csum_fold);

// csum_add(a, b) -> folded ones'-complement sum
static mp_obj_t kskb_csum_add(mp_obj_t a, mp_obj_t b) {
    return MP_OBJ_NEW_SMALL_INT(kskb_fold32((uint64_t)kskb_sumarg(a) + kskb_sumarg(b)));
}
static MP_DEFINE_CONST_FUN_OBJ_2(kskb_csum_add_obj, kskb_csum_add);

// csum_block_add(csum, csum2, offset): a block summed on its own that sits at an
// odd offset has its bytes swapped relative to the whole (ror32(csum2, 8) in Linux).
static mp_obj_t kskb_csum_block_add(mp_obj_t a, mp_obj_t b, mp_obj_t off) {
    uint32_t c2 = kskb_sumarg(b);
    if (mp_obj_get_int(off) & 1) {
        c2 = ((c2 & 0xff) << 8) | (c2 >> 8);
    }
    return MP_OBJ_NEW_SMALL_INT(kskb_fold32((uint64_t)kskb_sumarg(a) + c2));
}
static MP_DEFINE_CONST_FUN_OBJ_3(kskb_csum_block_add_obj, kskb_csum_block_add);

// ip_fast_csum(buf, off, ihl) -> 0 when the IPv4 header of ihl words verifies
static mp_obj_t kskb_ip_fast_csum(mp_obj_t buf, mp_obj_t off, mp_obj_t ihl_in) {
    mp_int_t ihl = mp_obj_get_int(ihl_in);
    if (ihl < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("ip_fast_csum: bad ihl"));
    }
    size_t n;
    const uint8_t *p = kskb_range3(buf, mp_obj_get_int(off), ihl * 4, &n);
    return MP_OBJ_NEW_SMALL_INT(~kskb_csum(p, n, 0) & 0xffff);
}
static MP_DEFINE_CONST_FUN_OBJ_3(kskb_ip_fast_csum_obj, kskb_ip_fast_csum);

// csum_tcpudp_magic(buf, iph_off, length, proto, sum): the pseudo-header's saddr and
// daddr are read in place from the IPv4 header (iph_off+12..20): no address objects.
static mp_obj_t kskb_csum_tcpudp_magic(size_t n_args, const mp_obj_t *args) {
    size_t n;
    const uint8_t *p = kskb_range3(args[0], mp_obj_get_int(args[1]) + 12, 8, &n);
    uint32_t s = kskb_csum(p, n, (uint32_t)mp_obj_get_int(args[4]) & 0xffff);
    s = kskb_fold32((uint64_t)s + kskb_sumarg(args[2]) + kskb_sumarg(args[3]));
    return MP_OBJ_NEW_SMALL_INT(~s & 0xffff);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(kskb_csum_tcpudp_magic_obj, 5, 5, kskb_csum_tcpudp_magic);

// ---- sk_buff, pool, sk_buff_head (include/linux/skbuff.h) ----------------------
// A Pool preallocates every skb and its data area once; alloc/free, the pointer
// helpers and the queues then never touch the heap. Offsets replace pointers:
// head is 0, end is the data area size, data/tail index into buf.

typedef struct _kskb_pool_t kskb_pool_t;

typedef struct _kskb_skb_t {
    mp_obj_base_t base;
    kskb_pool_t *pool;
    uint8_t *head;                  // the bytearray's storage, for the C paths
    mp_obj_t buf, cb, owner, dev, next, prev, list;
    mp_int_t data, len, tail, end;
    mp_int_t protocol, mac_header, network_header, transport_header;
    mp_int_t ip_summed;             // CHECKSUM_NONE/UNNECESSARY/COMPLETE/PARTIAL, set by drivers
    uint8_t *cbp;
    bool freed;
} kskb_skb_t;

struct _kskb_pool_t {
    mp_obj_base_t base;
    mp_int_t count, size, headroom, avail, alloc_fail;
    kskb_skb_t **skbs;              // free stack: skbs[0..avail) are free (LIFO)
};

typedef struct _kskb_queue_t {
    mp_obj_base_t base;
    mp_obj_t next, prev;            // first and last skb, or None
    mp_int_t qlen;
} kskb_queue_t;

#define KSKB_CB_SIZE (16)

#if MICROPY_ENABLE_DYNRUNTIME
mp_obj_full_type_t kskb_type_skb, kskb_type_pool, kskb_type_queue;
#else
extern const mp_obj_type_t kskb_type_skb, kskb_type_pool, kskb_type_queue;
#endif

static inline bool kskb_is(mp_obj_t o, const void *type) {
    return mp_obj_is_obj(o) && ((mp_obj_base_t *)MP_OBJ_TO_PTR(o))->type == (const mp_obj_type_t *)type;
}

// Every skb operation goes through here: a freed skb is never touched again.
static kskb_skb_t *kskb_get(mp_obj_t o) {
    if (!kskb_is(o, &kskb_type_skb)) {
        mp_raise_TypeError(MP_ERROR_TEXT("skb: not an skb"));
    }
    kskb_skb_t *s = MP_OBJ_TO_PTR(o);
    if (s->freed) {
        mp_raise_ValueError(MP_ERROR_TEXT("skb: use after free"));
    }
    return s;
}

static kskb_queue_t *kskb_getq(mp_obj_t o) {
    if (!kskb_is(o, &kskb_type_queue)) {
        mp_raise_TypeError(MP_ERROR_TEXT("skb: not a queue"));
    }
    return MP_OBJ_TO_PTR(o);
}

// -- pool --

static mp_obj_t kskb_pool_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 3, 3, false);
    mp_int_t count = mp_obj_get_int(args[0]), size = mp_obj_get_int(args[1]);
    mp_int_t headroom = mp_obj_get_int(args[2]);
    if (count < 1 || count > 65535 || size < 0 || size > 65535 || headroom < 0 || headroom > size) {
        mp_raise_ValueError(MP_ERROR_TEXT("skb: bad pool geometry"));
    }
    kskb_pool_t *p = mp_obj_malloc(kskb_pool_t, type);
    p->count = p->avail = count;
    p->size = size;
    p->headroom = headroom;
    p->alloc_fail = 0;
    p->skbs = m_malloc(sizeof(kskb_skb_t *) * count);
    for (mp_int_t i = 0; i < count; i++) {
        kskb_skb_t *s = mp_obj_malloc(kskb_skb_t, (const mp_obj_type_t *)&kskb_type_skb);
        s->pool = p;
        s->head = m_malloc(size ? size : 1);
        memset(s->head, 0, size);
        s->buf = mp_obj_new_bytearray_by_ref(size, s->head);
        s->cbp = m_malloc(KSKB_CB_SIZE);
        memset(s->cbp, 0, KSKB_CB_SIZE);
        s->cb = mp_obj_new_bytearray_by_ref(KSKB_CB_SIZE, s->cbp);
        s->owner = s->dev = s->next = s->prev = s->list = mp_const_none;
        s->ip_summed = 0;
        s->end = size;
        s->freed = true;
        // Reverse order so the first alloc() hands out skb 0, as the twin does.
        p->skbs[count - 1 - i] = s;
    }
    return MP_OBJ_FROM_PTR(p);
}

// pool.alloc() -> skb with data=tail=headroom, len=0; None when the pool is empty
static mp_obj_t kskb_pool_alloc(mp_obj_t self_in) {
    kskb_pool_t *p = MP_OBJ_TO_PTR(self_in);
    if (p->avail == 0) {
        p->alloc_fail++;
        return mp_const_none;
    }
    kskb_skb_t *s = p->skbs[--p->avail];
    s->freed = false;
    s->data = s->tail = p->headroom;
    s->len = 0;
    s->protocol = s->mac_header = s->network_header = s->transport_header = 0;
    s->ip_summed = 0;                  // CHECKSUM_NONE: verify unless a driver says otherwise
    memset(s->cbp, 0, KSKB_CB_SIZE);   // __alloc_skb clears cb too
    return MP_OBJ_FROM_PTR(s);
}
static MP_DEFINE_CONST_FUN_OBJ_1(kskb_pool_alloc_obj, kskb_pool_alloc);

static void kskb_free_to(kskb_pool_t *p, mp_obj_t o) {
    if (!kskb_is(o, &kskb_type_skb)) {
        mp_raise_TypeError(MP_ERROR_TEXT("skb: not an skb"));
    }
    kskb_skb_t *s = MP_OBJ_TO_PTR(o);
    if (s->freed) {
        mp_raise_ValueError(MP_ERROR_TEXT("skb: double free"));
    }
    if (s->pool != p) {
        mp_raise_ValueError(MP_ERROR_TEXT("skb: wrong pool"));
    }
    if (s->list != mp_const_none) {
        mp_raise_ValueError(MP_ERROR_TEXT("skb: free while on a queue"));
    }
    s->freed = true;
    s->owner = s->dev = mp_const_none;   // drop references for the GC
    s->ip_summed = 0;
    p->skbs[p->avail++] = s;
}

static mp_obj_t kskb_pool_free(mp_obj_t self_in, mp_obj_t skb) {
    kskb_free_to(MP_OBJ_TO_PTR(self_in), skb);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(kskb_pool_free_obj, kskb_pool_free);

// kfree_skb(skb): back to its own pool; kfree_skb(None) is a no-op as in Linux
static mp_obj_t kskb_kfree_skb(mp_obj_t skb) {
    if (skb == mp_const_none) {
        return mp_const_none;
    }
    if (!kskb_is(skb, &kskb_type_skb)) {
        mp_raise_TypeError(MP_ERROR_TEXT("skb: not an skb"));
    }
    kskb_skb_t *s = MP_OBJ_TO_PTR(skb);
    kskb_free_to(s->pool, skb);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(kskb_kfree_skb_obj, kskb_kfree_skb);

static void kskb_pool_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    kskb_pool_t *p = MP_OBJ_TO_PTR(self_in);
    if (dest[0] == MP_OBJ_NULL) {
        // Methods are handed out as (fun, self): pool.alloc() allocates no bound method.
        if (attr == MP_QSTR_alloc) {
            dest[0] = MP_OBJ_FROM_PTR(&kskb_pool_alloc_obj);
            dest[1] = self_in;
        } else if (attr == MP_QSTR_free) {
            dest[0] = MP_OBJ_FROM_PTR(&kskb_pool_free_obj);
            dest[1] = self_in;
        } else if (attr == MP_QSTR_avail) {
            dest[0] = MP_OBJ_NEW_SMALL_INT(p->avail);
        } else if (attr == MP_QSTR_count) {
            dest[0] = MP_OBJ_NEW_SMALL_INT(p->count);
        } else if (attr == MP_QSTR_alloc_fail) {
            dest[0] = mp_obj_new_int(p->alloc_fail);
        } else if (attr == MP_QSTR_size) {
            dest[0] = MP_OBJ_NEW_SMALL_INT(p->size);
        } else if (attr == MP_QSTR_headroom) {
            dest[0] = MP_OBJ_NEW_SMALL_INT(p->headroom);
        }
    } else if (dest[1] != MP_OBJ_NULL && attr == MP_QSTR_alloc_fail) {
        p->alloc_fail = mp_obj_get_int(dest[1]);   // counters may be reset
        dest[0] = MP_OBJ_NULL;
    }
}

// -- skb fields --

static void kskb_skb_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    kskb_skb_t *s = MP_OBJ_TO_PTR(self_in);
    if (dest[0] == MP_OBJ_NULL) {
        // Most used first: wire parsers read buf/data/len on every packet.
        if (attr == MP_QSTR_data) {
            dest[0] = MP_OBJ_NEW_SMALL_INT(s->data);
        } else if (attr == MP_QSTR_buf) {
            dest[0] = s->buf;
        } else if (attr == MP_QSTR_len) {
            dest[0] = MP_OBJ_NEW_SMALL_INT(s->len);
        } else if (attr == MP_QSTR_tail) {
            dest[0] = MP_OBJ_NEW_SMALL_INT(s->tail);
        } else if (attr == MP_QSTR_cb) {
            dest[0] = s->cb;
        } else if (attr == MP_QSTR_network_header) {
            dest[0] = mp_obj_new_int(s->network_header);
        } else if (attr == MP_QSTR_transport_header) {
            dest[0] = mp_obj_new_int(s->transport_header);
        } else if (attr == MP_QSTR_mac_header) {
            dest[0] = mp_obj_new_int(s->mac_header);
        } else if (attr == MP_QSTR_protocol) {
            dest[0] = mp_obj_new_int(s->protocol);
        } else if (attr == MP_QSTR_ip_summed) {
            dest[0] = MP_OBJ_NEW_SMALL_INT(s->ip_summed);
        } else if (attr == MP_QSTR_owner) {
            dest[0] = s->owner;
        } else if (attr == MP_QSTR_dev) {
            dest[0] = s->dev;
        } else if (attr == MP_QSTR_next) {
            dest[0] = s->next;
        } else if (attr == MP_QSTR_prev) {
            dest[0] = s->prev;
        } else if (attr == MP_QSTR_list) {
            dest[0] = s->list;
        } else if (attr == MP_QSTR_head) {
            dest[0] = MP_OBJ_NEW_SMALL_INT(0);
        } else if (attr == MP_QSTR_end) {
            dest[0] = MP_OBJ_NEW_SMALL_INT(s->end);
        } else if (attr == MP_QSTR_pool) {
            dest[0] = MP_OBJ_FROM_PTR(s->pool);
        }
    } else if (dest[1] != MP_OBJ_NULL) {
        // Writable where the kernel's are set by protocol code; data/len/tail only
        // move through skb_put/push/pull/trim/reserve, links only through queues.
        mp_obj_t v = dest[1];
        if (attr == MP_QSTR_network_header) {
            s->network_header = mp_obj_get_int(v);
        } else if (attr == MP_QSTR_transport_header) {
            s->transport_header = mp_obj_get_int(v);
        } else if (attr == MP_QSTR_mac_header) {
            s->mac_header = mp_obj_get_int(v);
        } else if (attr == MP_QSTR_protocol) {
            s->protocol = mp_obj_get_int(v);
        } else if (attr == MP_QSTR_ip_summed) {
            s->ip_summed = mp_obj_get_int(v);
        } else if (attr == MP_QSTR_owner) {
            s->owner = v;
        } else if (attr == MP_QSTR_dev) {
            s->dev = v;
        } else {
            return;
        }
        dest[0] = MP_OBJ_NULL;
    }
}

// -- data pointer helpers (skb_put & co) --
// Linux panics on overflow/underflow; here the same names raise ValueError.
// skb_pull beyond len returns NULL in Linux; here it raises (a silent no-op
// would hide a parser bug).

static mp_obj_t kskb_skb_reserve(mp_obj_t o, mp_obj_t n_in) {
    kskb_skb_t *s = kskb_get(o);
    mp_int_t n = mp_obj_get_int(n_in);
    if (s->tail + n > s->end) {
        mp_raise_ValueError(MP_ERROR_TEXT("skb_over_panic: reserve"));
    }
    if (s->data + n < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("skb_under_panic: reserve"));
    }
    s->data += n;
    s->tail += n;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(kskb_skb_reserve_obj, kskb_skb_reserve);

static mp_int_t kskb_put(kskb_skb_t *s, mp_int_t n) {
    if (n < 0 || s->tail + n > s->end) {
        mp_raise_ValueError(MP_ERROR_TEXT("skb_over_panic: put"));
    }
    mp_int_t off = s->tail;
    s->tail += n;
    s->len += n;
    return off;
}

// skb_put(skb, n) -> offset in buf of the n bytes added at the tail
static mp_obj_t kskb_skb_put(mp_obj_t o, mp_obj_t n) {
    return MP_OBJ_NEW_SMALL_INT(kskb_put(kskb_get(o), mp_obj_get_int(n)));
}
static MP_DEFINE_CONST_FUN_OBJ_2(kskb_skb_put_obj, kskb_skb_put);

// skb_push(skb, n) -> new data offset (n bytes added in front)
static mp_obj_t kskb_skb_push(mp_obj_t o, mp_obj_t n_in) {
    kskb_skb_t *s = kskb_get(o);
    mp_int_t n = mp_obj_get_int(n_in);
    if (n < 0 || n > s->data) {
        mp_raise_ValueError(MP_ERROR_TEXT("skb_under_panic: push"));
    }
    s->data -= n;
    s->len += n;
    return MP_OBJ_NEW_SMALL_INT(s->data);
}
static MP_DEFINE_CONST_FUN_OBJ_2(kskb_skb_push_obj, kskb_skb_push);

// skb_pull(skb, n) -> new data offset (n bytes removed from the front)
static mp_obj_t kskb_skb_pull(mp_obj_t o, mp_obj_t n_in) {
    kskb_skb_t *s = kskb_get(o);
    mp_int_t n = mp_obj_get_int(n_in);
    if (n < 0 || n > s->len) {
        mp_raise_ValueError(MP_ERROR_TEXT("skb_pull: beyond len"));
    }
    s->data += n;
    s->len -= n;
    return MP_OBJ_NEW_SMALL_INT(s->data);
}
static MP_DEFINE_CONST_FUN_OBJ_2(kskb_skb_pull_obj, kskb_skb_pull);

// skb_trim(skb, newlen): shorten to newlen; a longer newlen is a no-op, as in Linux
static mp_obj_t kskb_skb_trim(mp_obj_t o, mp_obj_t n_in) {
    kskb_skb_t *s = kskb_get(o);
    mp_int_t n = mp_obj_get_int(n_in);
    if (n < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("skb_trim: negative length"));
    }
    if (n < s->len) {
        s->len = n;
        s->tail = s->data + n;
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(kskb_skb_trim_obj, kskb_skb_trim);

static mp_obj_t kskb_skb_headroom(mp_obj_t o) {
    return MP_OBJ_NEW_SMALL_INT(kskb_get(o)->data);
}
static MP_DEFINE_CONST_FUN_OBJ_1(kskb_skb_headroom_obj, kskb_skb_headroom);

static mp_obj_t kskb_skb_tailroom(mp_obj_t o) {
    kskb_skb_t *s = kskb_get(o);
    return MP_OBJ_NEW_SMALL_INT(s->end - s->tail);
}
static MP_DEFINE_CONST_FUN_OBJ_1(kskb_skb_tailroom_obj, kskb_skb_tailroom);

// -- copies: straight between the caller's buffer and buf, no intermediate objects --

// skb_put_data(skb, src) -> offset of the copy (skb_put + memcpy)
static mp_obj_t kskb_skb_put_data(mp_obj_t o, mp_obj_t src) {
    kskb_skb_t *s = kskb_get(o);
    mp_buffer_info_t bi;
    mp_get_buffer_raise(src, &bi, MP_BUFFER_READ);
    mp_int_t off = kskb_put(s, bi.len);
    memmove(s->head + off, bi.buf, bi.len);
    return MP_OBJ_NEW_SMALL_INT(off);
}
static MP_DEFINE_CONST_FUN_OBJ_2(kskb_skb_put_data_obj, kskb_skb_put_data);

// Shared by copy_bits/store_bits: range checks in the twin's order, then memmove.
static mp_obj_t kskb_xfer(const mp_obj_t *args, bool store) {
    kskb_skb_t *s = kskb_get(args[0]);
    mp_int_t off = mp_obj_get_int(args[1]), boff = mp_obj_get_int(args[3]);
    mp_int_t n = mp_obj_get_int(args[4]);
    if (off < 0 || n < 0 || off + n > s->len) {
        mp_raise_ValueError(store ? MP_ERROR_TEXT("skb_store_bits: out of range")
            : MP_ERROR_TEXT("skb_copy_bits: out of range"));
    }
    mp_buffer_info_t bi;
    mp_get_buffer_raise(args[2], &bi, store ? MP_BUFFER_READ : MP_BUFFER_WRITE);
    if (boff < 0 || (size_t)(boff + n) > bi.len) {
        mp_raise_ValueError(store ? MP_ERROR_TEXT("skb_store_bits: src out of range")
            : MP_ERROR_TEXT("skb_copy_bits: dst out of range"));
    }
    uint8_t *p = s->head + s->data + off, *b = (uint8_t *)bi.buf + boff;
    if (store) {
        memmove(p, b, n);
    } else {
        memmove(b, p, n);
    }
    return MP_OBJ_NEW_SMALL_INT(n);
}

// skb_copy_bits(skb, offset, dst, dst_off, n) -> n: payload at data+offset -> dst
static mp_obj_t kskb_skb_copy_bits(size_t n_args, const mp_obj_t *args) {
    return kskb_xfer(args, false);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(kskb_skb_copy_bits_obj, 5, 5, kskb_skb_copy_bits);

// skb_store_bits(skb, offset, src, src_off, n) -> n: src -> payload at data+offset
static mp_obj_t kskb_skb_store_bits(size_t n_args, const mp_obj_t *args) {
    return kskb_xfer(args, true);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(kskb_skb_store_bits_obj, 5, 5, kskb_skb_store_bits);

// skb_checksum(skb, offset, length, sum) -> csum_partial over payload
static mp_obj_t kskb_skb_checksum(size_t n_args, const mp_obj_t *args) {
    kskb_skb_t *s = kskb_get(args[0]);
    mp_int_t off = mp_obj_get_int(args[1]), n = mp_obj_get_int(args[2]);
    if (off < 0 || n < 0 || off + n > s->len) {
        mp_raise_ValueError(MP_ERROR_TEXT("skb_checksum: out of range"));
    }
    uint32_t init = (uint32_t)mp_obj_get_int(args[3]) & 0xffff;
    return MP_OBJ_NEW_SMALL_INT(kskb_csum(s->head + s->data + off, n, init));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(kskb_skb_checksum_obj, 4, 4, kskb_skb_checksum);

// -- sk_buff_head: a doubly linked list through the skbs' own next/prev --

static mp_obj_t kskb_queue_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 0, 0, false);
    kskb_queue_t *q = mp_obj_malloc(kskb_queue_t, type);
    q->next = q->prev = mp_const_none;
    q->qlen = 0;
    return MP_OBJ_FROM_PTR(q);
}

static void kskb_queue_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    kskb_queue_t *q = MP_OBJ_TO_PTR(self_in);
    if (dest[0] == MP_OBJ_NULL) {
        if (attr == MP_QSTR_qlen) {
            dest[0] = MP_OBJ_NEW_SMALL_INT(q->qlen);
        } else if (attr == MP_QSTR_next) {
            dest[0] = q->next;
        } else if (attr == MP_QSTR_prev) {
            dest[0] = q->prev;
        }
    }
}

static kskb_skb_t *kskb_get_unqueued(mp_obj_t o) {
    kskb_skb_t *s = kskb_get(o);
    if (s->list != mp_const_none) {
        mp_raise_ValueError(MP_ERROR_TEXT("skb: already on a queue"));
    }
    return s;
}

static mp_obj_t kskb_skb_queue_tail(mp_obj_t q_in, mp_obj_t o) {
    kskb_queue_t *q = kskb_getq(q_in);
    kskb_skb_t *s = kskb_get_unqueued(o);
    s->list = q_in;
    s->next = mp_const_none;
    s->prev = q->prev;
    if (q->prev == mp_const_none) {
        q->next = o;
    } else {
        ((kskb_skb_t *)MP_OBJ_TO_PTR(q->prev))->next = o;
    }
    q->prev = o;
    q->qlen++;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(kskb_skb_queue_tail_obj, kskb_skb_queue_tail);

static mp_obj_t kskb_skb_queue_head(mp_obj_t q_in, mp_obj_t o) {
    kskb_queue_t *q = kskb_getq(q_in);
    kskb_skb_t *s = kskb_get_unqueued(o);
    s->list = q_in;
    s->prev = mp_const_none;
    s->next = q->next;
    if (q->next == mp_const_none) {
        q->prev = o;
    } else {
        ((kskb_skb_t *)MP_OBJ_TO_PTR(q->next))->prev = o;
    }
    q->next = o;
    q->qlen++;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(kskb_skb_queue_head_obj, kskb_skb_queue_head);

static void kskb_unlink(kskb_skb_t *s, kskb_queue_t *q) {
    if (s->prev == mp_const_none) {
        q->next = s->next;
    } else {
        ((kskb_skb_t *)MP_OBJ_TO_PTR(s->prev))->next = s->next;
    }
    if (s->next == mp_const_none) {
        q->prev = s->prev;
    } else {
        ((kskb_skb_t *)MP_OBJ_TO_PTR(s->next))->prev = s->prev;
    }
    s->next = s->prev = s->list = mp_const_none;
    q->qlen--;
}

// skb_unlink(skb, q): remove skb from q, which it must be on
static mp_obj_t kskb_skb_unlink(mp_obj_t o, mp_obj_t q_in) {
    kskb_queue_t *q = kskb_getq(q_in);
    kskb_skb_t *s = kskb_get(o);
    if (s->list != q_in) {
        mp_raise_ValueError(MP_ERROR_TEXT("skb_unlink: not on this queue"));
    }
    kskb_unlink(s, q);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(kskb_skb_unlink_obj, kskb_skb_unlink);

static mp_obj_t kskb_skb_dequeue(mp_obj_t q_in) {
    kskb_queue_t *q = kskb_getq(q_in);
    mp_obj_t o = q->next;
    if (o != mp_const_none) {
        kskb_unlink(MP_OBJ_TO_PTR(o), q);
    }
    return o;
}
static MP_DEFINE_CONST_FUN_OBJ_1(kskb_skb_dequeue_obj, kskb_skb_dequeue);

static mp_obj_t kskb_skb_dequeue_tail(mp_obj_t q_in) {
    kskb_queue_t *q = kskb_getq(q_in);
    mp_obj_t o = q->prev;
    if (o != mp_const_none) {
        kskb_unlink(MP_OBJ_TO_PTR(o), q);
    }
    return o;
}
static MP_DEFINE_CONST_FUN_OBJ_1(kskb_skb_dequeue_tail_obj, kskb_skb_dequeue_tail);

static mp_obj_t kskb_skb_peek(mp_obj_t q_in) {
    return kskb_getq(q_in)->next;
}
static MP_DEFINE_CONST_FUN_OBJ_1(kskb_skb_peek_obj, kskb_skb_peek);

static mp_obj_t kskb_skb_peek_tail(mp_obj_t q_in) {
    return kskb_getq(q_in)->prev;
}
static MP_DEFINE_CONST_FUN_OBJ_1(kskb_skb_peek_tail_obj, kskb_skb_peek_tail);

static mp_obj_t kskb_skb_queue_len(mp_obj_t q_in) {
    return MP_OBJ_NEW_SMALL_INT(kskb_getq(q_in)->qlen);
}
static MP_DEFINE_CONST_FUN_OBJ_1(kskb_skb_queue_len_obj, kskb_skb_queue_len);

static mp_obj_t kskb_skb_queue_empty(mp_obj_t q_in) {
    return mp_obj_new_bool(kskb_getq(q_in)->qlen == 0);
}
static MP_DEFINE_CONST_FUN_OBJ_1(kskb_skb_queue_empty_obj, kskb_skb_queue_empty);

// skb_queue_purge(q): dequeue and free every skb to its own pool
static mp_obj_t kskb_skb_queue_purge(mp_obj_t q_in) {
    kskb_queue_t *q = kskb_getq(q_in);
    while (q->next != mp_const_none) {
        mp_obj_t o = q->next;
        kskb_skb_t *s = MP_OBJ_TO_PTR(o);
        kskb_unlink(s, q);
        kskb_free_to(s->pool, o);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(kskb_skb_queue_purge_obj, kskb_skb_queue_purge);

// skb_queue_splice_tail_init(src, dst): move all of src to dst's tail, src emptied
static mp_obj_t kskb_skb_queue_splice_tail_init(mp_obj_t src_in, mp_obj_t dst_in) {
    kskb_queue_t *src = kskb_getq(src_in), *dst = kskb_getq(dst_in);
    if (src == dst) {
        mp_raise_ValueError(MP_ERROR_TEXT("skb_queue_splice: same queue"));
    }
    if (src->qlen == 0) {
        return mp_const_none;
    }
    for (mp_obj_t o = src->next; o != mp_const_none; o = ((kskb_skb_t *)MP_OBJ_TO_PTR(o))->next) {
        ((kskb_skb_t *)MP_OBJ_TO_PTR(o))->list = dst_in;
    }
    ((kskb_skb_t *)MP_OBJ_TO_PTR(src->next))->prev = dst->prev;
    if (dst->prev == mp_const_none) {
        dst->next = src->next;
    } else {
        ((kskb_skb_t *)MP_OBJ_TO_PTR(dst->prev))->next = src->next;
    }
    dst->prev = src->prev;
    dst->qlen += src->qlen;
    src->next = src->prev = mp_const_none;
    src->qlen = 0;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(kskb_skb_queue_splice_tail_init_obj, kskb_skb_queue_splice_tail_init);

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
// Literal MP_QSTR_ tokens: mpy_ld finds a native module's qstrs by scanning the source.
#define KSKB_FUNCS(X) \
    X(MP_QSTR_csum_partial, csum_partial) X(MP_QSTR_csum_fold, csum_fold) \
    X(MP_QSTR_csum_add, csum_add) X(MP_QSTR_csum_block_add, csum_block_add) \
    X(MP_QSTR_ip_fast_csum, ip_fast_csum) X(MP_QSTR_csum_tcpudp_magic, csum_tcpudp_magic) \
    X(MP_QSTR_skb_checksum, skb_checksum) X(MP_QSTR_kfree_skb, kfree_skb) \
    X(MP_QSTR_skb_reserve, skb_reserve) X(MP_QSTR_skb_put, skb_put) \
    X(MP_QSTR_skb_push, skb_push) X(MP_QSTR_skb_pull, skb_pull) \
    X(MP_QSTR_skb_trim, skb_trim) X(MP_QSTR_skb_headroom, skb_headroom) \
    X(MP_QSTR_skb_tailroom, skb_tailroom) X(MP_QSTR_skb_put_data, skb_put_data) \
    X(MP_QSTR_skb_copy_bits, skb_copy_bits) X(MP_QSTR_skb_store_bits, skb_store_bits) \
    X(MP_QSTR_skb_queue_tail, skb_queue_tail) X(MP_QSTR_skb_queue_head, skb_queue_head) \
    X(MP_QSTR_skb_dequeue, skb_dequeue) X(MP_QSTR_skb_dequeue_tail, skb_dequeue_tail) \
    X(MP_QSTR_skb_peek, skb_peek) X(MP_QSTR_skb_peek_tail, skb_peek_tail) \
    X(MP_QSTR_skb_unlink, skb_unlink) X(MP_QSTR_skb_queue_len, skb_queue_len) \
    X(MP_QSTR_skb_queue_empty, skb_queue_empty) X(MP_QSTR_skb_queue_purge, skb_queue_purge) \
    X(MP_QSTR_skb_queue_splice_tail_init, skb_queue_splice_tail_init)

#if MICROPY_ENABLE_DYNRUNTIME
#define KSKB_STORE(q, name) mp_store_global(q, MP_OBJ_FROM_PTR(&kskb_##name##_obj));

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    MP_DYNRUNTIME_INIT_ENTRY
    kskb_type_skb.base.type = (void *)&mp_type_type;
    kskb_type_skb.name = MP_QSTR_sk_buff;
    MP_OBJ_TYPE_SET_SLOT(&kskb_type_skb, attr, kskb_skb_attr, 0);
    kskb_type_pool.base.type = (void *)&mp_type_type;
    kskb_type_pool.name = MP_QSTR_Pool;
    MP_OBJ_TYPE_SET_SLOT(&kskb_type_pool, make_new, kskb_pool_make_new, 0);
    MP_OBJ_TYPE_SET_SLOT(&kskb_type_pool, attr, kskb_pool_attr, 1);
    kskb_type_queue.base.type = (void *)&mp_type_type;
    kskb_type_queue.name = MP_QSTR_sk_buff_head;
    MP_OBJ_TYPE_SET_SLOT(&kskb_type_queue, make_new, kskb_queue_make_new, 0);
    MP_OBJ_TYPE_SET_SLOT(&kskb_type_queue, attr, kskb_queue_attr, 1);
    KSKB_FUNCS(KSKB_STORE)
    mp_store_global(MP_QSTR_skb_copy_datagram, MP_OBJ_FROM_PTR(&kskb_skb_copy_bits_obj));
    mp_store_global(MP_QSTR_sk_buff, MP_OBJ_FROM_PTR(&kskb_type_skb));
    mp_store_global(MP_QSTR_Pool, MP_OBJ_FROM_PTR(&kskb_type_pool));
    mp_store_global(MP_QSTR_Queue, MP_OBJ_FROM_PTR(&kskb_type_queue));
    mp_store_global(MP_QSTR_sk_buff_head, MP_OBJ_FROM_PTR(&kskb_type_queue));
    mp_store_global(MP_QSTR_IMPL, MP_OBJ_NEW_QSTR(MP_QSTR_natmod));
    MP_DYNRUNTIME_INIT_EXIT
}
#else
MP_DEFINE_CONST_OBJ_TYPE(kskb_type_skb, MP_QSTR_sk_buff, MP_TYPE_FLAG_NONE, attr, kskb_skb_attr);
MP_DEFINE_CONST_OBJ_TYPE(kskb_type_pool, MP_QSTR_Pool, MP_TYPE_FLAG_NONE,
    make_new, kskb_pool_make_new, attr, kskb_pool_attr);
MP_DEFINE_CONST_OBJ_TYPE(kskb_type_queue, MP_QSTR_sk_buff_head, MP_TYPE_FLAG_NONE,
    make_new, kskb_queue_make_new, attr, kskb_queue_attr);

#define KSKB_ROM(q, name) { MP_ROM_QSTR(q), MP_ROM_PTR(&kskb_##name##_obj) },
static const mp_rom_map_elem_t kskb_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_kskb) },
    { MP_ROM_QSTR(MP_QSTR_IMPL), MP_ROM_QSTR(MP_QSTR_cmodule) },
    KSKB_FUNCS(KSKB_ROM)
    { MP_ROM_QSTR(MP_QSTR_skb_copy_datagram), MP_ROM_PTR(&kskb_skb_copy_bits_obj) },
    { MP_ROM_QSTR(MP_QSTR_sk_buff), MP_ROM_PTR(&kskb_type_skb) },
    { MP_ROM_QSTR(MP_QSTR_Pool), MP_ROM_PTR(&kskb_type_pool) },
    { MP_ROM_QSTR(MP_QSTR_Queue), MP_ROM_PTR(&kskb_type_queue) },
    { MP_ROM_QSTR(MP_QSTR_sk_buff_head), MP_ROM_PTR(&kskb_type_queue) },
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
