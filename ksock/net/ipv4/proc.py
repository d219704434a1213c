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
tcp = _Mib("Tcp", ("RtoAlgorithm", "RtoMin", "RtoMax", "MaxConn", "ActiveOpens", "PassiveOpens",
                   "AttemptFails", "EstabResets", "CurrEstab", "InSegs", "OutSegs", "RetransSegs",
                   "InErrs", "OutRsts", "InCsumErrors"))
tcp.RtoAlgorithm, tcp.RtoMin, tcp.RtoMax, tcp.MaxConn = 1, 200, 120000, -1
# /proc/net/netstat's TcpExt: the subset ksock's TCP counts, Linux's names.
tcpext = _Mib("TcpExt", ("SyncookiesSent", "SyncookiesRecv", "SyncookiesFailed", "EmbryonicRsts",
                         "TW", "DelayedACKs", "ListenOverflows", "ListenDrops", "TCPTimeouts",
                         "TCPFastRetrans", "TCPSlowStartRetrans", "TCPLossProbes", "TCPAbortOnData",
                         "TCPAbortOnClose", "TCPAbortOnMemory", "TCPAbortOnTimeout", "TCPAbortOnLinger",
                         "TCPReqQFullDoCookies", "TCPReqQFullDrop", "TCPChallengeACK",
                         "TCPSYNChallenge", "TCPOFOQueue", "TCPOFODrop", "TCPZeroWindowDrop",
                         "TCPRcvQDrop", "TCPKeepAlive", "TCPTimeWaitOverflow", "PAWSEstab",
                         "TCPACKSkippedSynRecv", "TCPWinProbe", "TCPDSACKRecv", "TCPSynRetrans",
                         "PruneCalled", "RcvPruned", "OfoPruned", "TCPMemoryPressures"))
MIBS = [ip, icmp, udp, tcp, arp]
NETSTAT = [tcpext]


def register_mib(mib):
    """Later protocols (Tcp, TcpExt) add their MIBs here."""
    MIBS.append(mib)
    return mib


def snmp():
    """{"Ip": {...}, "Icmp": {...}, "Tcp": {...}, "TcpExt": {...}, ...}"""
    d = {m.title: m.get() for m in MIBS}
    for m in NETSTAT:
        d[m.title] = m.get()
    return d


def mib_seq_show(mibs):
    """/proc/net/snmp or netstat a line at a time (seq_file): a board's heap
    may hold no block for the whole text."""
    for m in mibs:
        yield m.title + ": " + " ".join(m.names)
        yield m.title + ": " + " ".join([str(getattr(m, n)) for n in m.names])


def proc_net_netstat():
    return "\n".join(mib_seq_show(NETSTAT))


def proc_net_snmp():
    return "\n".join(mib_seq_show(MIBS))
