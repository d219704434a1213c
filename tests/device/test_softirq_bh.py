# kernel/softirq.py's bh guard and ksock.sys's syscall boundary, in simulated
# time: a background tick never runs a pass while bh is disabled (it is left
# to the outermost local_bh_enable), a pass inside a syscall counts but does
# not release, and a MemoryError from inside a syscall becomes OSError(ENOMEM)
# (ENOBUFS on sends) with the guard released.
from ksock.kernel import softirq
from ksock.kernel import time as ktime


class _counting_poller:
    def __init__(self):
        self.polls = 0

    def poll(self, budget):
        self.polls += 1
        return 0


def _with_poller(fn):
    old = ktime.set_clock(ktime.SimClock(1000))
    p = _counting_poller()
    softirq.register_poller(p)
    try:
        fn(p)
    finally:
        softirq.unregister_poller(p)
        ktime.set_clock(old)
        assert softirq.bh_count == 0


def test_tick_with_bh_enabled_runs_one_pass():
    def check(p):
        softirq.softirq_tick()
        assert p.polls == 1 and softirq.bh_count == 0
    _with_poller(check)


def test_tick_while_bh_disabled_defers_pass_to_local_bh_enable():
    def check(p):
        softirq.local_bh_disable()
        softirq.local_bh_disable()  # nested, as a syscall inside a wait
        assert softirq.softirq_tick() == 0 and p.polls == 0
        softirq.local_bh_enable()
        assert p.polls == 0  # not the outermost level yet
        softirq.local_bh_enable()
        assert p.polls == 1 and not softirq.bh_pending
    _with_poller(check)


def test_pass_inside_bh_disabled_section_keeps_the_guard():
    def check(p):
        softirq.local_bh_disable()
        softirq.do_softirq()
        assert p.polls == 1 and softirq.bh_count == 1
        assert softirq.softirq_tick() == 0 and p.polls == 1  # the guard still holds
        softirq.local_bh_enable()
        assert p.polls == 2  # the skipped tick's pass
    _with_poller(check)


def _raise_memoryerror(*a):
    raise MemoryError


def test_memoryerror_in_socket_call_is_enomem_and_guard_released():
    from ksock import sys as K
    from ksock.net import socket as S
    saved = S.__sys_socket
    S.__sys_socket = _raise_memoryerror
    try:
        try:
            K.socket(2, 2, 0)
            err = None
        except OSError as e:
            err = e.args[0]
    finally:
        S.__sys_socket = saved
    assert err == 12 and softirq.bh_count == 0


def test_memoryerror_in_send_is_enobufs_and_guard_released():
    from ksock import sys as K
    from ksock.net import socket as S
    saved = S.__sys_sendto
    S.__sys_sendto = _raise_memoryerror
    try:
        try:
            K.send(3, b"x")
            err = None
        except OSError as e:
            err = e.args[0]
    finally:
        S.__sys_sendto = saved
    assert err == 105 and softirq.bh_count == 0
