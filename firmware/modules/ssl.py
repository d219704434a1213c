# MicroPython's `ssl` module (the API of docs.micropython.org's library/ssl),
# over the built-in `tls` (extmod/modtls_mbedtls.c). Upstream ports freeze
# micropython-lib's; Debian's DFSG tarball has no micropython-lib, so the
# firmware freezes this one (docs/tls.md). `tls` reads and writes the wrapped
# socket through the stream protocol, so any io.IOBase stream works under it:
# ksock's drop-in sockets, the built-in ones, io.BytesIO.
#
# As MicroPython's: SSLContext(PROTOCOL_TLS_CLIENT) starts with CERT_NONE
# (set verify_mode = CERT_REQUIRED and load a CA to verify the peer; then
# wrap_socket needs server_hostname, checked against the certificate's
# names); errors are OSError (ssl.SSLError does not exist) and ValueError for
# a certificate that fails verification, with mbedtls's text.
#
# MicroPython's mbedtls configuration parses DER only (no MBEDTLS_PEM_PARSE_C);
# PEM (a file or bytes, as CPython programs give) is turned into DER here.
import binascii
import tls
from tls import (CERT_NONE, CERT_OPTIONAL, CERT_REQUIRED, MBEDTLS_VERSION,  # noqa: F401
                 PROTOCOL_TLS_CLIENT, PROTOCOL_TLS_SERVER)

try:
    from tls import PROTOCOL_DTLS_CLIENT, PROTOCOL_DTLS_SERVER  # noqa: F401
except ImportError:
    pass


def _der(x, file=False):
    """DER blocks of x: a file name's contents (file=True) or bytes/str, PEM or DER."""
    if file:
        with open(x, "rb") as f:
            x = f.read()
    if isinstance(x, str):
        x = x.encode()
    if b"-----BEGIN" not in x:
        return [x]
    # "-----BEGIN CERTIFICATE-----\n<base64>\n-----END CERTIFICATE-----": the base64 between
    return [binascii.a2b_base64(p.split(b"-----", 2)[1]) for p in x.split(b"-----BEGIN")[1:]]


class SSLContext:
    def __init__(self, protocol):
        self._ctx = tls.SSLContext(protocol)
        self._ctx.verify_mode = CERT_NONE

    def __repr__(self):
        return "<SSLContext %r>" % self._ctx

    @property
    def verify_mode(self):
        return self._ctx.verify_mode

    @verify_mode.setter
    def verify_mode(self, mode):
        self._ctx.verify_mode = mode

    @property
    def verify_callback(self):
        return self._ctx.verify_callback

    @verify_callback.setter
    def verify_callback(self, cb):
        self._ctx.verify_callback = cb

    def load_cert_chain(self, certfile, keyfile):
        # a str is a file name (as CPython's); bytes are the certificate/key themselves
        self._ctx.load_cert_chain(_der(certfile, isinstance(certfile, str))[0],
                                  _der(keyfile, isinstance(keyfile, str))[0])

    def load_verify_locations(self, cafile=None, cadata=None):
        for der in _der(cafile, True) if cafile else _der(cadata):
            self._ctx.load_verify_locations(der)

    def get_ciphers(self):
        return self._ctx.get_ciphers()

    def set_ciphers(self, ciphers):
        self._ctx.set_ciphers(ciphers)

    def wrap_socket(self, sock, server_side=False, do_handshake_on_connect=True, server_hostname=None):
        return self._ctx.wrap_socket(sock, server_side=server_side,
                                     do_handshake_on_connect=do_handshake_on_connect,
                                     server_hostname=server_hostname)


def wrap_socket(sock, server_side=False, key=None, cert=None, cert_reqs=CERT_NONE, cadata=None,
                server_hostname=None, do_handshake=True):
    """The older one-call form: a context made for this socket."""
    ctx = SSLContext(PROTOCOL_TLS_SERVER if server_side else PROTOCOL_TLS_CLIENT)
    if key or cert:
        ctx.load_cert_chain(cert, key)
    if cadata:
        ctx.load_verify_locations(cadata=cadata)
    ctx.verify_mode = cert_reqs
    return ctx.wrap_socket(sock, server_side=server_side, do_handshake_on_connect=do_handshake,
                           server_hostname=server_hostname)
