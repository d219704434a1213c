# net/core/request_sock.c + include/net/request_sock.h: the accept queue (FIFO
# of established children) and the SYN queue counters of a listener. The TCP
# data path fills them later; listen() allocates them here.
from ksock.net.core.sock import sk_acceptq_added, sk_acceptq_removed
from ksock.kernel import fault_inject


class request_sock:
    """A connection in SYN_RECV (or a finished one waiting for accept, sk set).
    In the established hash it answers to the same fields as a sock (inet_num,
    inet_dport, inet_daddr, inet_rcv_saddr; sk_state TCP_NEW_SYN_RECV)."""
    __slots__ = ("dl_next", "sk", "rsk_listener", "num_retrans", "num_timeout", "expires",
                 "sk_state", "inet_num", "inet_dport", "inet_daddr", "inet_rcv_saddr",
                 "snt_isn", "rcv_isn", "mss", "snd_wscale", "rcv_wscale", "wscale_ok",
                 "rcv_wnd", "snd_wnd", "rsk_timer", "acked", "rt", "snt_synack", "batch")

    def __init__(self, listener):
        if fault_inject.fail_nth[0] and fault_inject.should_fail():
            raise MemoryError  # reqsk_alloc failing
        self.dl_next = None
        self.sk = None
        self.rsk_listener = listener
        self.num_retrans = 0
        self.num_timeout = 0
        self.expires = 0
        self.sk_state = 12  # TCP_NEW_SYN_RECV
        self.inet_num = self.inet_dport = 0
        self.inet_daddr = self.inet_rcv_saddr = None
        self.snt_isn = self.rcv_isn = self.mss = 0
        self.snd_wscale = self.rcv_wscale = self.wscale_ok = 0
        self.rcv_wnd = self.snd_wnd = 0
        self.rsk_timer = None
        self.acked = 0
        self.rt = None
        self.snt_synack = 0  # ms the first SYN-ACK left: the final ACK's RTT sample
        self.batch = 0  # the receive pass that made it (reqsk_queue_unanswered)


class request_sock_queue:
    """Class-level zeros: an idle listener's queue stores nothing (MicroPython
    keeps instance attributes in a per-object map, so no __slots__ here)."""
    rskq_accept_head = None
    rskq_accept_tail = None
    qlen = 0  # request socks in the SYN queue
    young = 0  # of which have not had a SYN-ACK retransmitted
    synflood_warned = 0
    rskq_defer_accept = 0
    batch = 0  # the receive pass `unanswered` counts for
    unanswered = 0  # request socks made in that pass and still in the SYN queue


# ksock meets frames in receive passes, late: a burst of SYNs is met together,
# before any of their final ACKs can have come back. When a later SYN of the
# same pass is checked (tcp_conn_request), a request sock made in this pass
# counts as the child it is about to become (accept queue), not as a request
# (SYN queue), so the burst is answered as Linux answers the same SYNs met one
# by one: the accept queue fills and the rest are dropped, not given cookies.
_pass = [1]


def reqsk_rx_pass_end():
    """softirq's post-receive hook: the requests made so far have had their
    SYN-ACK on the wire for a whole pass."""
    _pass[0] += 1


def reqsk_queue_unanswered(queue):
    return queue.unanswered if queue.batch == _pass[0] else 0


def reqsk_queue_alloc(queue=None):
    """A fresh, empty queue (the listener keeps it across listen() re-adjusts)."""
    if queue is None:
        return request_sock_queue()
    if queue.rskq_accept_head is not None or queue.qlen:
        queue.rskq_accept_head = queue.rskq_accept_tail = None
        queue.qlen = queue.young = queue.unanswered = 0
    return queue


def reqsk_queue_empty(queue):
    return queue.rskq_accept_head is None


def reqsk_queue_len(queue):
    return queue.qlen


def reqsk_queue_added(queue, req=None):
    queue.young += 1
    queue.qlen += 1
    if req is not None:
        p = _pass[0]
        if queue.batch != p:
            queue.batch = p
            queue.unanswered = 0
        queue.unanswered += 1
        req.batch = p


def reqsk_queue_removed(queue, req):
    if req.num_timeout == 0:
        queue.young -= 1
    queue.qlen -= 1
    if req.batch == queue.batch == _pass[0]:
        queue.unanswered -= 1


def reqsk_queue_add(queue, req, parent, child):
    """inet_csk_reqsk_queue_add(): append a finished connection for accept()."""
    req.sk = child
    req.dl_next = None
    if queue.rskq_accept_head is None:
        queue.rskq_accept_head = req
    else:
        queue.rskq_accept_tail.dl_next = req
    queue.rskq_accept_tail = req
    sk_acceptq_added(parent)
    return child


def reqsk_queue_remove(queue, parent):
    req = queue.rskq_accept_head
    if req is not None:
        sk_acceptq_removed(parent)
        queue.rskq_accept_head = req.dl_next
        if queue.rskq_accept_head is None:
            queue.rskq_accept_tail = None
    return req
