# bench: net targets=unix,qemu peer=dnsmasq
# Heap cost of joining a network (gc.mem_alloc() after gc.collect(), bytes):
# importing the DHCP client and holding a lease from dnsmasq (the client, its
# kernel socket, address and routes), importing the stub resolver and resolving
# one name (with its cache entry), importing `network` and making the NIC object.
import gc
import json
from ksock import stack
import ksock.sys  # noqa: F401 (the socket layer: counted elsewhere, bench_socket.py)

stack.init()
if IFACE == "lan9118":  # noqa: F821 (defined by run.py)
    from ksock.drivers.lan9118 import Lan9118
    stack.add_dev(Lan9118("eth0"))
else:
    stack.add_packet_dev(IFACE, "eth0")  # noqa: F821


def mem():
    gc.collect()
    return gc.mem_alloc()


def bench(name, value, unit="B"):
    print("BENCH " + json.dumps({"name": name, "value": value, "unit": unit}))


m0 = mem()
from ksock.net.ipv4 import ipconfig as ic  # noqa: E402
m1 = mem()
c = ic.ic_dhcp_start("eth0", hostname="bench")
ok = ic.ic_dhcp_wait(c, 30000)
m2 = mem()
from ksock import resolv  # noqa: E402
m3 = mem()
r = resolv.getaddrinfo("peer.ks.test", 80)
m4 = mem()
import network  # noqa: E402
m5 = mem()
nic = network.LAN()
cfg = nic.ifconfig()
m6 = mem()
if ok and not isinstance(r, int):
    bench("netcfg_heap_dhcp_import", m1 - m0)
    bench("netcfg_heap_dhcp_lease", m2 - m1)
    bench("netcfg_heap_resolv_import", m3 - m2)
    bench("netcfg_heap_resolv_first_lookup", m4 - m3)
    bench("netcfg_heap_network_import", m5 - m4)
    bench("netcfg_heap_network_nic", m6 - m5)
    bench("netcfg_heap_total", m6 - m0)
else:
    print("netcfg: no lease or no answer", ok, r)
