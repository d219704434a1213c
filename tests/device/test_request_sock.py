# net/core/request_sock.c + include/net/tcp_states.h: accept/SYN queue
# structures and counters, TCP state names and masks, tcp_set_state.
from ksock.net.ipv4 import request_sock as rq
from ksock.net.ipv4 import tcp
from ksock import sys as K


class Parent:
    sk_ack_backlog = 0


def test_reqsk_queue_fifo_and_backlog_counters():
    p = Parent()
    q = rq.reqsk_queue_alloc()
    assert rq.reqsk_queue_empty(q)
    r1, r2 = rq.request_sock(p), rq.request_sock(p)
    rq.reqsk_queue_add(q, r1, p, "c1")
    rq.reqsk_queue_add(q, r2, p, "c2")
    assert p.sk_ack_backlog == 2
    assert rq.reqsk_queue_remove(q, p).sk == "c1"
    assert rq.reqsk_queue_remove(q, p).sk == "c2"
    assert rq.reqsk_queue_remove(q, p) is None and q.rskq_accept_tail is None
    assert p.sk_ack_backlog == 0


def test_reqsk_queue_syn_counters():
    q = rq.reqsk_queue_alloc()
    r = rq.request_sock(None)
    rq.reqsk_queue_added(q)
    assert (q.qlen, q.young) == (1, 1)
    rq.reqsk_queue_removed(q, r)
    assert (q.qlen, q.young) == (0, 0)


def test_tcp_states_linux_numbers_and_masks():
    assert (tcp.TCP_ESTABLISHED, tcp.TCP_CLOSE, tcp.TCP_LISTEN, tcp.TCP_NEW_SYN_RECV) == (1, 7, 10, 12)
    assert tcp.TCPF_LISTEN == 1 << tcp.TCP_LISTEN and tcp.TCPF_CLOSE == 128
    assert tcp.TCP_STATE_NAMES[tcp.TCP_TIME_WAIT] == "TIME_WAIT"


def test_tcp_set_state_close_releases_autobound_port():
    from ksock.net import socket as S
    K.close_range(3)
    fd = K.socket(2, 1)
    K.listen(fd, 1)
    sk = S.sock_from_file(S.fdtable.fdget(fd)).sk
    port = sk.inet_num
    tcp.tcp_set_state(sk, tcp.TCP_CLOSE)
    assert sk.inet_num == 0 and not tcp.ih.inet_bind_owners(tcp.tcp_hashinfo, port)
    K.close(fd)


def test_inet_csk_listen_start_allocates_accept_queue_once():
    from ksock.net import socket as S
    K.close_range(3)
    fd = K.socket(2, 1)
    K.listen(fd, 2)
    sk = S.sock_from_file(S.fdtable.fdget(fd)).sk
    q = sk.icsk_accept_queue
    K.listen(fd, 5)
    assert sk.icsk_accept_queue is q and sk.sk_max_ack_backlog == 5
    K.close(fd)
