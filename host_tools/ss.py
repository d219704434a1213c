"""An `ss -tuan`-like socket table of ksock on a target, read over its serial
line (or pty) through the raw REPL: it evaluates ksock.stack.proc_net("udp") and
("tcp") there and formats them here. Entering the raw REPL stops a running
program (Ctrl-C); the stack's tables stay, so the view shows its sockets.

    python -m host_tools.ss --target=serial:/dev/ttyUSB0 [-t] [-u] [-l]

ksock's /proc/net/{udp,tcp} print addresses as the 32-bit value in network
order (10.0.0.2 is 0A000002), ports in hex, states as Linux's TCP_* numbers.
"""
import argparse
import sys

# include/net/tcp_states.h -> ss's names
STATES = {0x01: "ESTAB", 0x02: "SYN-SENT", 0x03: "SYN-RECV", 0x04: "FIN-WAIT-1", 0x05: "FIN-WAIT-2",
          0x06: "TIME-WAIT", 0x07: "UNCONN", 0x08: "CLOSE-WAIT", 0x09: "LAST-ACK", 0x0A: "LISTEN",
          0x0B: "CLOSING"}

_READ = """
from ksock import stack
for _n in %r:
    print('@@' + _n)
    try:
        for _l in stack.proc_net_lines(_n):
            print(_l)
    except (OSError, ImportError, AttributeError):
        print('@@absent')
"""


def _addr(s):
    a, p = s.split(":")
    v = int(a, 16)  # little-endian Linux's format: the first octet is the low byte
    return "%d.%d.%d.%d" % (v & 255, (v >> 8) & 255, (v >> 16) & 255, v >> 24), int(p, 16)


def parse(proto, text):
    """Rows (proto, state, recv_q, send_q, (local ip, port), (peer ip, port)) of a /proc/net table."""
    rows = []
    for line in text.splitlines()[1:]:
        f = line.split()
        if len(f) < 5 or not f[0].endswith(":"):
            continue
        st = int(f[3], 16)
        txq, rxq = (int(x, 16) for x in f[4].split(":"))
        rows.append((proto, STATES.get(st, "?%02X" % st), rxq, txq, _addr(f[1]), _addr(f[2])))
    return rows


def snapshot(target, tcp=True, udp=True):
    """(rows, absent tables) from a started hil target."""
    names = tuple(n for n, on in (("tcp", tcp), ("udp", udp)) if on)
    out = target.exec(_READ % (names,))
    rows, absent, cur, buf = [], [], None, []

    def flush():
        if cur is None:
            return
        body = "\n".join(buf)
        if body.strip() == "@@absent":
            absent.append(cur)
        else:
            rows.extend(parse(cur, body))
    for line in out.splitlines():
        if line.startswith("@@") and line[2:] in ("tcp", "udp"):
            flush()
            cur, buf = line[2:], []
        else:
            buf.append(line)
    flush()
    return rows, absent


def fmt(rows, listening=None):
    def ep(a, peer):
        ip, port = a
        return "%s:%s" % (ip, "*" if peer and port == 0 else port)
    out = ["%-5s %-10s %6s %6s %-21s %-21s" % ("Netid", "State", "Recv-Q", "Send-Q",
                                               "Local Address:Port", "Peer Address:Port")]
    for proto, st, rq, sq, loc, peer in rows:
        if listening is True and st not in ("LISTEN", "UNCONN"):
            continue
        out.append("%-5s %-10s %6d %6d %-21s %-21s" % (proto, st, rq, sq, ep(loc, False), ep(peer, True)))
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target", required=True, help="serial:/dev/ttyUSB0, qemu's pty as serial:/dev/pts/N, ...")
    ap.add_argument("-t", "--tcp", action="store_true")
    ap.add_argument("-u", "--udp", action="store_true")
    ap.add_argument("-l", "--listening", action="store_true")
    a = ap.parse_args(argv)
    from hil.targets import make_target
    t = make_target(a.target).start()
    try:
        both = not (a.tcp or a.udp)
        rows, absent = snapshot(t, tcp=a.tcp or both, udp=a.udp or both)
    finally:
        t.stop()
    print(fmt(rows, True if a.listening else None))
    for n in absent:
        print("(no /proc/net/%s on this target: its %s is not in this build)" % (n, n.upper()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
