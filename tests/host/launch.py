"""One program, three ways, in the target namespace of a fresh veth (kernel
default offloads, default heap): on ksock through `micropython -m ksock.run`,
and as references on MicroPython's own socket (`micropython prog.py`) or on
CPython, both over the Linux kernel with the veth given ksock's address."""
import os
import socket
import subprocess
import sys

from hil import netns


class Server:
    def __init__(self, impl, binary, prog, args=(), path=(), ready="ready", start=True):
        self.impl, self.binary, self.prog, self.path = impl, binary, prog, path
        self.lk = lk = netns.Link()
        try:
            if impl != "ksock":
                lk.tgt.run("ip", "addr", "add", "%s/%d" % (lk.tgt_ip, lk.prefix), "dev", lk.tgt_if)
                lk.tgt.run("ip", "route", "add", "default", "via", lk.peer_ip)
        except Exception:
            lk.delete()
            raise
        self.p = None
        if start:
            self.start(args, ready)

    def start(self, args=(), ready="ready"):
        """Run the program (with `args`); wait for its `ready` line."""
        impl, binary, prog, path, lk = self.impl, self.binary, self.prog, self.path, self.lk
        try:
            if impl == "cpython":
                cmd = [sys.executable, "-u", prog]
            elif impl == "micropython":
                cmd = [binary, prog]
            else:
                cmd = [binary, "-m", "ksock.run", "--iface", lk.tgt_if,
                       "--addr", "%s/%d" % (lk.tgt_ip, lk.prefix), "--gw", lk.peer_ip, prog]
            env = dict(os.environ)
            mp = [".frozen"] + list(path) + [os.path.dirname(prog)]
            env["MICROPYPATH"] = ":".join(mp)
            env["PYTHONPATH"] = ":".join(path)
            self.p = subprocess.Popen(["ip", "netns", "exec", lk.tgt.name] + cmd + [str(a) for a in args],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        except Exception:
            lk.delete()
            raise
        if ready:
            line = self.p.stdout.readline()
            if line.strip() != ready:
                self.p.kill()
                out, err = self.p.communicate()
                lk.delete()
                raise AssertionError("%s did not start: %r %s %s" % (impl, line, out, err[-3000:]))

    def connect(self, port, timeout=20):
        with self.lk.peer.entered():
            c = socket.socket()
        c.settimeout(timeout)
        c.connect((self.lk.tgt_ip, port))
        return c

    def finish(self, timeout=30):
        """(status, stdout, stderr) once the program has exited by itself."""
        try:
            out, err = self.p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            out, err = self.p.communicate()
            err += "\n[killed after %ss]" % timeout
        return self.p.returncode, out, err

    def kill(self):
        if self.p is None:
            return "", ""
        if self.p.poll() is None:
            self.p.kill()
        out, err = self.p.communicate()
        return out, err

    def delete(self):
        self.lk.delete()
