# kernel/wait + net/core/sock wake-ups on the target: keyed wake-ups reach only
# interested entries, exclusive wake-ups stop early, sk_wait_event honours its
# timeout in simulated time, and an idle socket carries no wait queue.
from ksock.kernel import wait, time as kt
from ksock.net.core import sock as S
from ksock import sys as K
from ksock.fs import fdtable


def _entry(log, name, key=0):
    def f(e, mode, sync, k):
        if key and k and not (k & key):
            return 0
        log.append(name)
        return 1
    return wait.wait_queue_entry(f)


def test_wake_up_key_filters_entries():
    h = wait.wait_queue_head()
    log = []
    wait.add_wait_queue(h, _entry(log, "in", 0x1))
    wait.add_wait_queue(h, _entry(log, "out", 0x4))
    wait.wake_up_interruptible_poll(h, 0x4)
    assert log == ["out"]
    wait.wake_up_interruptible_all(h)  # no key: everyone
    assert sorted(log) == ["in", "out", "out"]


def test_wake_up_exclusive_stops_after_one():
    h = wait.wait_queue_head()
    log = []
    for n in ("a", "b", "c"):
        wait.add_wait_queue_exclusive(h, _entry(log, n))
    wait.add_wait_queue(h, _entry(log, "plain"))
    wait.wake_up_interruptible_poll(h, 0x1)
    assert log == ["plain", "a"]


def test_entry_may_remove_itself_during_wake():
    h = wait.wait_queue_head()
    log = []

    def once(e, mode, sync, key):
        log.append(1)
        wait.remove_wait_queue(h, e)
        return 1
    wait.add_wait_queue(h, wait.wait_queue_entry(once))
    wait.add_wait_queue(h, wait.wait_queue_entry(once))
    wait.wake_up_interruptible_all(h)
    assert log == [1, 1] and not h.head


def test_wait_woken_times_out_in_simulated_time():
    old = kt.set_clock(kt.SimClock(5000))
    try:
        e = wait.wait_queue_entry(wait.woken_wake_function)
        t0 = kt.clock.now_ms()
        assert wait.wait_woken(e, 250) == 0
        assert kt.clock.now_ms() - t0 == 250
        e.flags |= wait.WQ_FLAG_WOKEN
        assert wait.wait_woken(e, 100) == 100 and not e.flags & wait.WQ_FLAG_WOKEN
    finally:
        kt.set_clock(old)


def test_sk_wait_event_woken_by_data_ready():
    from ksock.kernel import timer
    K.close_range(3)
    a, b = K.socketpair(1, 1)
    sk = fdtable.fdget(b).private_data.sk
    old = kt.set_clock(kt.SimClock(0))
    try:
        t = timer.timer_list(lambda *x: K.send(a, b"x"))
        timer.mod_timer(t, kt.clock.now_ms() + 40)
        ok, left = S.sk_wait_event(sk, 1000, lambda: sk.rq)
        assert ok and left == 960
        ok, left = S.sk_wait_event(sk, 30, lambda: len(sk.rq) > 1)
        assert not ok and left == 0
    finally:
        kt.set_clock(old)
        K.close_range(3)


def test_unix_recv_rcvtimeo_eagain_after_exact_time():
    import struct
    K.close_range(3)
    a, b = K.socketpair(1, 1)
    K.setsockopt(b, 1, 20, struct.pack("<qq", 0, 300000))  # SO_RCVTIMEO 300 ms
    old = kt.set_clock(kt.SimClock(0))
    try:
        try:
            K.recv(b, 10)
            assert False
        except OSError as e:
            assert e.args[0] == 11
        assert kt.clock.now_ms() == 300
    finally:
        kt.set_clock(old)
        K.close_range(3)


def test_idle_socket_has_no_wait_queue_until_polled():
    from ksock.net import socket as NS
    K.close_range(3)
    NS.sock_inode_cachep.free = []  # a fresh inode, not a pooled one (those keep an empty queue)
    fd = K.socket(2, 2)
    s = fdtable.fdget(fd).private_data
    assert s.wq is None and s.sk.sk_wq is None
    K.poll([(fd, K.POLLIN)], 0)  # timeout 0: Linux's no-wait case registers nothing
    assert s.wq is None
    K.poll([(fd, K.POLLIN)], 1)  # nothing ready for POLLIN: registers, waits, then frees
    assert s.wq is not None and not s.wq.head
    K.close(fd)


def test_sock_graft_child_gets_new_socket_queue():
    from ksock.net import socket as NS
    parent = NS.sock_alloc()
    parent.wq = wait.wait_queue_head()
    sk = S.sock()
    S.sock_graft(sk, parent)
    assert S.sk_sleep(sk) is parent.wq
    NS.sock_release(parent)


def test_poll_stops_registering_once_ready():
    # do_poll: after the first ready fd, pt->_qproc = NULL (no entries for the rest)
    from ksock.net import socket as NS
    K.close_range(3)
    NS.sock_inode_cachep.free = []
    ready = K.socket(2, 2)
    idle = K.socket(2, 2)
    before = fdtable.fdget(ready).private_data
    assert before.wq is None
    assert K.poll([(ready, K.POLLOUT), (idle, K.POLLIN)], 1000) == [(ready, K.POLLOUT)]
    assert fdtable.fdget(idle).private_data.wq is None  # never registered
    assert K.poll([(idle, K.POLLIN), (ready, K.POLLOUT), (42, K.POLLIN)], 0) == [(ready, K.POLLOUT), (42, K.POLLNVAL)]
    K.close_range(3)
