# inet_protos (net/ipv4/protocol.c): the upward table ip_local_deliver uses, so
# IP never imports UDP/TCP/ICMP. A net_protocol has handler(skb) and
# err_handler(skb, type, code, inner_off) for ICMP errors about our packets.
inet_protos = {}


class net_protocol:
    __slots__ = ("handler", "err_handler")

    def __init__(self, handler, err_handler=None):
        self.handler = handler
        self.err_handler = err_handler


def inet_add_protocol(prot, protocol):
    if protocol in inet_protos:
        return -1
    inet_protos[protocol] = prot
    return 0


def inet_del_protocol(prot, protocol):
    if inet_protos.get(protocol) is prot:
        del inet_protos[protocol]
        return 0
    return -1
