# The Python twin of kskb (ksock/net/core/skbuff_py.py) on CPython, with hypothesis:
# checksums against a plain reference on random buffers, offsets and lengths, and
# random sk_buff operation sequences against a model. Device tests compare the
# twin with the C module on the target (tests/device/test_skbuff.py).
import pytest
from hypothesis import given, settings, strategies as st

from ksock.net.core import skbuff_py as S


def ref_sum(b, init=0):
    s = init
    for i in range(0, len(b) - 1, 2):
        s += (b[i] << 8) | b[i + 1]
    if len(b) & 1:
        s += b[-1] << 8
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


@st.composite
def buf_range(draw):
    b = draw(st.binary(max_size=3000))
    off = draw(st.integers(0, len(b)))
    ln = draw(st.integers(-1, len(b) - off))
    return b, off, ln


@given(buf_range(), st.integers(0, 0xFFFF), st.sampled_from([bytes, bytearray, memoryview]))
def test_csum_partial_matches_reference(r, init, kind):
    b, off, ln = r
    end = len(b) if ln < 0 else off + ln
    assert S.csum_partial(kind(b), off, ln, init) == ref_sum(b[off:end], init)


@given(st.binary(max_size=200), st.binary(max_size=200))
def test_csum_block_add_joins_blocks_at_any_offset(a, b):
    assert S.csum_block_add(S.csum_partial(a), S.csum_partial(b), len(a)) == S.csum_partial(a + b)


@given(st.integers(0, 1 << 40))
def test_csum_fold_keeps_the_end_around_carry(v):
    f = v
    while f >> 16:
        f = (f & 0xFFFF) + (f >> 16)
    assert S.csum_fold(v) == ~f & 0xFFFF
    assert S.csum_fold(0x1FFFF) == 0xFFFE


@given(st.binary(min_size=20, max_size=20), st.binary(max_size=100), st.integers(0, 5), st.sampled_from([6, 17]))
def test_ip_fast_csum_and_tcpudp_magic(hdr, seg, off, proto):
    h = bytearray(hdr)
    h[10:12] = b"\0\0"
    c = S.csum_fold(S.csum_partial(h))
    h[10:12] = bytes([c >> 8, c & 255])
    assert S.ip_fast_csum(bytes(off) + h, off, 5) == 0
    pseudo = bytes(h[12:20]) + bytes([0, proto, len(seg) >> 8, len(seg) & 255])
    want = ~ref_sum(pseudo + seg) & 0xFFFF
    assert S.csum_tcpudp_magic(bytes(off) + h, off, len(seg), proto, S.csum_partial(seg)) == want


def test_errors_are_valueerrors_with_the_kernel_names():
    with pytest.raises(ValueError, match="csum: negative sum"):
        S.csum_fold(-1)
    with pytest.raises(ValueError, match="csum: length out of range"):
        S.ip_fast_csum(bytes(20), 0, 6)
    p = S.Pool(1, 32, 8)
    s = p.alloc()
    with pytest.raises(ValueError, match="skb_under_panic: push"):
        S.skb_push(s, 9)
    p.free(s)
    with pytest.raises(ValueError, match="skb: double free"):
        p.free(s)
    with pytest.raises(ValueError, match="skb: use after free"):
        S.skb_put(s, 1)


OPS = st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7), st.integers(-2, 40), st.binary(max_size=40)),
               max_size=120)


@settings(max_examples=150)
@given(OPS)
def test_random_operations_against_a_model(ops):
    NP, SZ, HR = 4, 64, 16
    p, q = S.Pool(NP, SZ, HR), S.Queue()
    live, model, mq = [], [], []  # model entry: [data, payload bytes]; mq holds live indices' entries
    for op, i, n, data in ops:
        if op == 0:
            s = p.alloc()
            assert (s is None) == (len(live) == NP)
            if s is not None:
                live.append(s)
                model.append([HR, b""])
            continue
        if not live:
            continue
        i %= len(live)
        s, m = live[i], model[i]
        if op == 1:
            if len(data) > SZ - m[0] - len(m[1]):
                with pytest.raises(ValueError, match="skb_over_panic: put"):
                    S.skb_put_data(s, data)
            else:
                assert S.skb_put_data(s, memoryview(data)) == m[0] + len(m[1])
                m[1] += data
        elif op == 2:
            if n < 0 or n > m[0]:
                with pytest.raises(ValueError, match="skb_under_panic: push"):
                    S.skb_push(s, n)
            else:
                assert S.skb_push(s, n) == m[0] - n
                S.skb_store_bits(s, 0, bytes(range(n)), 0, n)
                m[0] -= n
                m[1] = bytes(range(n)) + m[1]
        elif op == 3:
            if n < 0 or n > len(m[1]):
                with pytest.raises(ValueError, match="skb_pull: beyond len"):
                    S.skb_pull(s, n)
            else:
                assert S.skb_pull(s, n) == m[0] + n
                m[0] += n
                m[1] = m[1][n:]
        elif op == 4 and n >= 0:
            S.skb_trim(s, n)
            m[1] = m[1][:n]
        elif op == 5:
            if any(e is m for e in mq):
                with pytest.raises(ValueError, match="already on a queue"):
                    S.skb_queue_tail(q, s)
            else:
                S.skb_queue_tail(q, s)
                mq.append(m)
        elif op == 6:
            x = S.skb_dequeue(q)
            assert (x is None) == (not mq)
            if x is not None:
                assert model[live.index(x)] is mq.pop(0)
        elif op == 7:
            if any(e is m for e in mq):
                with pytest.raises(ValueError, match="free while on a queue"):
                    p.free(s)
            else:
                p.free(s)
                live.pop(i)
                model.pop(i)
        for x, (d, pl) in zip(live, model):
            assert (x.data, x.len, x.tail) == (d, len(pl), d + len(pl))
            out = bytearray(len(pl) + 3)
            assert S.skb_copy_bits(x, 0, memoryview(out), 3, len(pl)) == len(pl)
            assert bytes(out[3:]) == pl
            assert S.skb_checksum(x, 0, len(pl), 0) == ref_sum(pl)
    assert q.qlen == len(mq)
    rest = [x for x in live if x.list is None]
    S.skb_queue_purge(q)
    for x in rest:
        S.kfree_skb(x)
    assert p.avail == p.count == NP
