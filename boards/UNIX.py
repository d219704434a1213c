# The MicroPython unix port: ksock owns one Linux interface through AF_PACKET.
BOARD = {
    "name": "UNIX",
    "mcu": "host CPU (x86-64)",
    "platform": "linux",          # sys.platform on the target
    "arch": "x64",                # mpy-cross -march= and build/natmod/<arch>
    "nic": {"driver": "packet", "ifname": "veth0"},
    "firmware": {"target": "unix", "image": "build/unix/micropython"},
    "flash": {"method": "none"},
    "serial": None,               # driven through hil/rawrepl_server.py on a pty
    "net": {"mac": None, "ip": "10.0.0.2/24", "gw": "10.0.0.1"},  # mac None: the interface's own
}
