"""`micropython -m ksock.run --iface IFACE --addr A/P PROGRAM.py ARGS`: an
unmodified MicroPython program runs on ksock in a namespace, the Linux kernel
on the other end of the veth; exit status, argv, the drop-in modules and the
clean-up are the launcher's."""
import os
import socket
import subprocess
import time

import pytest

from hil import netns
from hil.plugin import require_env
from hil.targets import BUILD

pytestmark = pytest.mark.targets("unix", "unix-nocmod")


def launcher_cmd(lk, binary, prog, *args, gw=True):
    cmd = ["ip", "netns", "exec", lk.tgt.name, binary, "-m", "ksock.run",
           "--iface", lk.tgt_if, "--addr", "%s/%d" % (lk.tgt_ip, lk.prefix)]
    if gw:
        cmd += ["--gw", lk.peer_ip]
    return cmd + [prog] + [str(a) for a in args]


def launcher_env():
    env = dict(os.environ)
    env.setdefault("MICROPYPATH", ".frozen")  # the frozen ksock unless a test run says otherwise
    return env


@pytest.fixture
def veth(netns_ok, target_name):
    require_env(*netns_ok)
    lk = netns.Link()
    yield lk, os.path.join(BUILD, target_name, "micropython")
    lk.delete()


def _write(tmp_path, name, src):
    p = tmp_path / name
    p.write_text(src)
    return str(p)


ECHO = """
import sys, socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(socket.getaddrinfo('0.0.0.0', int(sys.argv[1]))[0][-1])
for i in range(int(sys.argv[2])):
    data, addr = s.recvfrom(2048)
    s.sendto(data, addr)
print('argv', sys.argv[1:], socket.__name__)
s.close()
sys.exit(int(sys.argv[3]))
"""


def test_launcher_udp_echo_with_linux_exit_status_and_argv(veth, tmp_path):
    lk, binary = veth
    prog = _write(tmp_path, "echo.py", ECHO)
    p = subprocess.Popen(launcher_cmd(lk, binary, prog, 7777, 3, 5), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=launcher_env(), cwd=str(tmp_path))
    with lk.peer.entered():
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.settimeout(0.3)
    got = []
    deadline = time.monotonic() + 20
    for payload in (b"", b"x", bytes(range(256)) * 5 + bytes(192)):  # 0, 1, 1472 bytes
        while time.monotonic() < deadline:  # until the program has bound its port
            c.sendto(payload, (lk.tgt_ip, 7777))
            try:
                data, addr = c.recvfrom(2048)
                break
            except socket.timeout:
                continue
        got.append((len(data), data == payload, addr))
    out, err = p.communicate(timeout=20)
    c.close()
    assert got == [(n, True, (lk.tgt_ip, 7777)) for n in (0, 1, 1472)]
    assert p.returncode == 5, err
    assert "argv ['7777', '3', '5'] ksock.socket" in out


def test_launcher_reraises_program_exception_and_status_1(veth, tmp_path):
    lk, binary = veth
    prog = _write(tmp_path, "boom.py", "import socket\ns = socket.socket()\nraise ValueError('boom')\n")
    r = subprocess.run(launcher_cmd(lk, binary, prog), capture_output=True, text=True,
                       env=launcher_env(), cwd=str(tmp_path), timeout=30)
    assert r.returncode == 1
    assert "ValueError: boom" in r.stdout + r.stderr
    assert "boom.py" in r.stdout + r.stderr


def test_launcher_bad_command_line_is_status_2_with_usage(veth, tmp_path):
    lk, binary = veth
    r = subprocess.run(["ip", "netns", "exec", lk.tgt.name, binary, "-m", "ksock.run", "--iface"],
                       capture_output=True, text=True, env=launcher_env(), cwd=str(tmp_path), timeout=30)
    assert r.returncode == 2
    assert "usage: micropython -m ksock.run" in r.stdout


SLEEPER = """
import sys, time, socket
# The program only sleeps: the launcher's time.sleep serves ARP and ping meanwhile.
time.sleep(float(sys.argv[1]))
import ksock.stack
print(ksock.stack.proc_net('snmp').split('Icmp:')[2].split()[:3])
"""


def test_launcher_serves_ping_while_program_sleeps(veth, tmp_path):
    lk, binary = veth
    prog = _write(tmp_path, "sleeper.py", SLEEPER)
    p = subprocess.Popen(launcher_cmd(lk, binary, prog, 4), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=launcher_env(), cwd=str(tmp_path))
    time.sleep(1.0)
    r = subprocess.run(["ip", "netns", "exec", lk.peer.name, "ping", "-c", "2", "-i", "0.3", "-W", "2",
                        lk.tgt_ip], capture_output=True, text=True, timeout=20)
    out, err = p.communicate(timeout=20)
    assert r.returncode == 0, r.stdout + r.stderr
    assert p.returncode == 0, err
    in_msgs, in_errs = int(out.split("'")[1]), int(out.split("'")[3])
    assert in_msgs >= 2 and in_errs == 0


POLLER = """
import sys, socket, select
q = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
q.bind(('0.0.0.0', 7011))  # nobody sends here
q.setblocking(False)
try:
    q.recv(10)
except OSError as e:
    print('nonblock', e.errno)
p = select.poll()
p.register(q, select.POLLIN)
print('empty', p.poll(0), p.poll(50))
p.unregister(q)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', 7010))
p.register(s, select.POLLIN)
n = 0
while n < 3:
    for obj, ev in p.poll(5000):
        assert obj is s and ev & select.POLLIN
        d, a = s.recvfrom(100)
        s.sendto(d.upper(), a)
        n += 1
s.settimeout(0.3)
try:
    s.recvfrom(10)
except OSError as e:
    print('timeout', e.errno)
"""


def test_launcher_builtin_select_poll_and_timeouts_on_dropin_socket(veth, tmp_path):
    lk, binary = veth
    prog = _write(tmp_path, "poller.py", POLLER)
    p = subprocess.Popen(launcher_cmd(lk, binary, prog), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=launcher_env(), cwd=str(tmp_path))
    with lk.peer.entered():
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.settimeout(0.3)
    got = []
    deadline = time.monotonic() + 20
    for m in (b"a", b"b", b"c"):
        while time.monotonic() < deadline:
            c.sendto(m, (lk.tgt_ip, 7010))
            try:
                got.append(c.recvfrom(100)[0])
                break
            except socket.timeout:
                continue
    out, err = p.communicate(timeout=20)
    assert p.returncode == 0, err
    assert got == [b"A", b"B", b"C"]
    # recv on a non-blocking socket: EAGAIN; recvfrom after settimeout: EAGAIN, as
    # the unix port's recv family (only read/accept/connect say ETIMEDOUT)
    assert out.split("\n")[:2] == ["nonblock 11", "empty [] []"]
    assert "timeout 11" in out


def test_launcher_board_option_takes_the_board_description(veth, tmp_path):
    """--board UNIX: the NIC driver from boards/UNIX.py (ksock.board), with
    --iface/--addr/--gw overriding the description's interface and addresses."""
    lk, binary = veth
    prog = _write(tmp_path, "board.py", "from ksock import stack\nprint(stack.proc_net('route'))\n")
    cmd = launcher_cmd(lk, binary, prog)
    i = cmd.index("ksock.run") + 1
    cmd[i:i] = ["--board", "UNIX"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=launcher_env(), cwd=str(tmp_path), timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    routes = [line.split() for line in r.stdout.splitlines()[1:] if line.strip()]
    gw_hex = "%08X" % int.from_bytes(socket.inet_aton(lk.peer_ip), "little")
    assert ["eth0", "00000000", gw_hex] in [x[:3] for x in routes], r.stdout
