# net/ipv4/inet_connection_sock.c: struct inet_connection_sock, port binding
# with Linux's SO_REUSEADDR / SO_REUSEPORT rules, and listen start/stop.
from ksock.uapi.errno import EADDRINUSE, EINVAL, EAGAIN
from ksock.uapi.fcntl import O_NONBLOCK
from ksock.net.core.sock import TCP_LISTEN, TCP_CLOSE, MAX_SCHEDULE_TIMEOUT
from ksock.compat import const

TCP_TIME_WAIT = const(6)
from ksock.net.ipv4.ip_sockglue import inet_sock
from ksock.net.ipv4 import inet_hashtables as ih
from ksock.net.ipv4 import request_sock as rq


class inet_connection_sock(inet_sock):
    icsk_bind_hash = None  # the hashinfo whose bind chain holds us
    icsk_accept_queue = None  # request_sock_queue, from the first listen()
    icsk_bind_connect = 0  # the port came from connect() (Linux: its bucket's fastreuse is -1)


def inet_bind_conflict(sk, sk2, relax, reuseport_ok):
    """inet_bind_conflict(): may sk not share a port with sk2 (addresses aside)?"""
    if sk is sk2:
        return False
    if sk.sk_bound_dev_if and sk2.sk_bound_dev_if and sk.sk_bound_dev_if != sk2.sk_bound_dev_if:
        return False
    same_uid_or_tw = sk2.sk_state == TCP_TIME_WAIT or sk2.sk_uid == sk.sk_uid
    if sk.sk_reuse and sk2.sk_reuse and sk2.sk_state != TCP_LISTEN:
        # both SO_REUSEADDR and the other is not listening: shared unless strict
        return (not relax) or (not reuseport_ok and sk.sk_reuseport and sk2.sk_reuseport
                               and same_uid_or_tw)
    # otherwise only SO_REUSEPORT on both, same owner, lets them share
    return (not reuseport_ok) or (not sk.sk_reuseport) or (not sk2.sk_reuseport) or not same_uid_or_tw


def inet_csk_bind_conflict(sk, tb, relax, reuseport_ok):
    """tb: the owners of the port."""
    for sk2 in tb:
        if ih.inet_rcv_saddr_equal(sk, sk2, True) and inet_bind_conflict(sk, sk2, relax, reuseport_ok):
            return True
    return False


def inet_csk_find_open_port(sk):
    """An ephemeral port from ip_local_port_range nobody overlapping holds, or 0."""
    low, high = ih.inet_get_local_port_range()
    hinfo = sk.sk_prot.h
    for port in ih.inet_port_candidates(low, high, True):
        tb = ih.inet_bind_owners(hinfo, port)
        if not tb or not inet_csk_bind_conflict(sk, tb, False, False):
            return port
    return 0


def inet_csk_get_port(sk, snum):
    """0 if sk now owns `snum` (0: pick one), nonzero if the port is in use."""
    hinfo = sk.sk_prot.h
    if not snum:
        snum = inet_csk_find_open_port(sk)
        if not snum:
            return 1
    else:
        tb = ih.inet_bind_owners(hinfo, snum)
        if tb and inet_csk_bind_conflict(sk, tb, True, True):
            return 1
    if sk.icsk_bind_hash is None:
        ih.inet_bind_hash(sk, hinfo, snum)
    return 0


def inet_csk_listen_start(sk):
    """Become a listener: accept queue, state LISTEN, port re-validated, hashed."""
    sk.icsk_accept_queue = rq.reqsk_queue_alloc(sk.icsk_accept_queue)
    if sk.sk_ack_backlog:
        sk.sk_ack_backlog = 0
    sk.sk_state = TCP_LISTEN  # announced before get_port validates it, as in Linux
    if not sk.sk_prot.get_port(sk, sk.inet_num):
        if sk.inet_sport != sk.inet_num:
            sk.inet_sport = sk.inet_num
        err = sk.sk_prot.hash(sk)
        if not err:
            return 0
    else:
        err = -EADDRINUSE
    sk.sk_state = TCP_CLOSE
    return err


def inet_csk_listen_stop(sk):
    """Children waiting in the accept queue are reset and freed
    (inet_child_forget); request socks in the SYN queue go when their timer or
    their next segment finds the listener gone."""
    q = sk.icsk_accept_queue
    if q is None:
        return
    while True:
        req = rq.reqsk_queue_remove(q, sk)
        if req is None:
            break
        child = req.sk
        if child is not None and child.sk_prot is not None:
            child.sk_prot.disconnect(child, O_NONBLOCK)
            child.sk_prot.close(child, 0)


def inet_csk_wait_for_connect(sk, timeo):
    from ksock.kernel import softirq
    q = sk.icsk_accept_queue
    return softirq.wait_event(lambda: q.rskq_accept_head is not None or sk.sk_state != TCP_LISTEN,
                              -1 if timeo >= MAX_SCHEDULE_TIMEOUT else timeo)


def inet_csk_accept(sk, flags):
    """(child, 0) or (None, -errno): EINVAL unless listening, EAGAIN when empty
    and non-blocking or SO_RCVTIMEO runs out."""
    if sk.sk_state != TCP_LISTEN:
        return None, -EINVAL
    q = sk.icsk_accept_queue
    if rq.reqsk_queue_empty(q):
        timeo = 0 if flags & O_NONBLOCK else sk.sk_rcvtimeo
        if not timeo:
            return None, -EAGAIN
        inet_csk_wait_for_connect(sk, timeo)
        if sk.sk_state != TCP_LISTEN:
            return None, -EINVAL
        if rq.reqsk_queue_empty(q):
            return None, -EAGAIN
    req = rq.reqsk_queue_remove(q, sk)
    return req.sk, 0
