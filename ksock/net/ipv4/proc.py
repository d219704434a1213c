# SNMP MIB counters and their /proc/net/snmp view (net/ipv4/proc.c), named
# exactly as Linux prints them so tests can compare with `nstat`/`netstat -s`.


class _Mib:
    def __init__(self, title, names):
        self.title = title
        self.names = names
        for n in names:
            setattr(self, n, 0)

    def get(self):
        return {n: getattr(self, n) for n in self.names}

    def reset(self):
        for n in self.names:
            setattr(self, n, 0)


ip = _Mib("Ip", ("InReceives", "InHdrErrors", "InAddrErrors", "ForwDatagrams", "InUnknownProtos",
                 "InDiscards", "InDelivers", "OutRequests", "OutDiscards", "OutNoRoutes",
                 "ReasmTimeout", "ReasmReqds", "ReasmOKs", "ReasmFails", "FragOKs", "FragFails",
                 "FragCreates", "InTruncatedPkts", "InCsumErrors", "InNoRoutes"))
icmp = _Mib("Icmp", ("InMsgs", "InErrors", "InCsumErrors", "InDestUnreachs", "InTimeExcds",
                     "InParmProbs", "InEchos", "InEchoReps", "OutMsgs", "OutErrors",
                     "OutRateLimitGlobal", "OutRateLimitHost", "OutDestUnreachs", "OutEchos", "OutEchoReps"))
udp = _Mib("Udp", ("InDatagrams", "NoPorts", "InErrors", "OutDatagrams", "RcvbufErrors",
                   "SndbufErrors", "InCsumErrors", "IgnoredMulti", "MemErrors"))
# Not in Linux's /proc/net/snmp: ksock's own ARP counters (Linux keeps neigh stats).
arp = _Mib("Arp", ("InRequests", "InReplies", "OutRequests", "OutReplies", "InErrors",
                   "UnresolvedDiscards", "Failed"))
MIBS = [ip, icmp, udp, arp]


def register_mib(mib):
    """Later protocols (Tcp, TcpExt) add their MIBs here."""
    MIBS.append(mib)
    return mib


def snmp():
    """{"Ip": {...}, "Icmp": {...}, ...}"""
    return {m.title: m.get() for m in MIBS}


def proc_net_snmp():
    out = []
    for m in MIBS:
        out.append(m.title + ": " + " ".join(m.names))
        out.append(m.title + ": " + " ".join(str(getattr(m, n)) for n in m.names))
    return "\n".join(out)
