# The differential case table (gVisor style): each case is a sequence of
# socket-layer calls; the Linux kernel (in a namespace made by the test) and
# ksock.sys must give the same value or errno at every step. See
# socket_runner.py for the step language. Interfaces on both sides:
# lo 127.0.0.1/8 and d0 10.77.0.2/24.
import struct

AF_INET, AF_INET6, AF_UNSPEC = 2, 10, 0
STREAM, DGRAM, RAW, RDM, SEQPACKET = 1, 2, 3, 4, 5
NONBLOCK, CLOEXEC = 0o4000, 0o2000000
SOL_SOCKET, SOL_IP, SOL_TCP = 1, 0, 6
SO_REUSEADDR, SO_TYPE, SO_ERROR, SO_BROADCAST, SO_SNDBUF, SO_RCVBUF = 2, 3, 4, 6, 7, 8
SO_KEEPALIVE, SO_PRIORITY, SO_LINGER, SO_REUSEPORT = 9, 12, 13, 15
SO_RCVLOWAT, SO_SNDLOWAT, SO_RCVTIMEO, SO_SNDTIMEO = 18, 19, 20, 21
SO_ACCEPTCONN, SO_PROTOCOL, SO_DOMAIN = 30, 38, 39
IP_TOS, IP_TTL, IP_HDRINCL, IP_FREEBIND, IP_BIND_ADDRESS_NO_PORT = 1, 2, 3, 15, 24
TCP_NODELAY, TCP_MAXSEG, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT = 1, 2, 4, 5, 6
F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD_CLOEXEC = 0, 1, 2, 3, 4, 1030
O_WRONLY, O_RDWR, O_NONBLOCK, O_APPEND = 1, 2, 0o4000, 0o2000
LO, D0, D0_OTHER, D0_BCAST, TEST_NET = "127.0.0.1", "10.77.0.2", "10.77.0.3", "10.77.0.255", "192.0.2.1"
IFACES = (("d0", D0, 24),)


def sin(host, port, family=AF_INET):
    return struct.pack("<H", family) + struct.pack(">H", port) + bytes(int(x) for x in host.split(".")) + bytes(8)


def tv(sec, usec):
    return struct.pack("<qq", sec, usec)


def ling(on, secs):
    return struct.pack("<ii", on, secs)


TCP = ("socket", AF_INET, STREAM, 0)
UDP = ("socket", AF_INET, DGRAM, 0)
CASES = []


def case(name, *steps):
    CASES.append((name, list(steps)))


def gso(i, opt, level=SOL_SOCKET, *buf):
    return ("getsockopt", "$%d" % i, level, opt) + buf


def sso(i, opt, val, level=SOL_SOCKET, *ln):
    return ("setsockopt", "$%d" % i, level, opt, val) + ln


# ---- socket(): families, types, protocols, flags (__sys_socket, __sock_create, inet_create)
case("socket_tcp_default_proto", TCP, gso(0, SO_TYPE), gso(0, SO_PROTOCOL), gso(0, SO_DOMAIN))
case("socket_tcp_explicit_proto", ("socket", 2, 1, 6), gso(0, SO_PROTOCOL))
case("socket_udp_default_proto", UDP, gso(0, SO_TYPE), gso(0, SO_PROTOCOL))
case("socket_udp_explicit_proto", ("socket", 2, 2, 17), gso(0, SO_PROTOCOL))
case("socket_stream_udp_eprotonosupport", ("socket", 2, 1, 17))
case("socket_dgram_tcp_eprotonosupport", ("socket", 2, 2, 6))
case("socket_stream_proto_255_eprotonosupport", ("socket", 2, 1, 255))
case("socket_raw_proto0_eprotonosupport", ("socket", 2, 3, 0))
case("socket_raw_icmp_wildcard_entry", ("socket", 2, 3, 1), gso(0, SO_PROTOCOL), gso(0, SO_TYPE),
     ("getsockname", "$0"), gso(0, SO_REUSEADDR))
case("socket_raw_ipproto_raw_hdrincl", ("socket", 2, 3, 255), gso(0, IP_HDRINCL, SOL_IP))
case("socket_raw_tcp_proto", ("socket", 2, 3, 6), ("getsockname", "$0"))
case("socket_seqpacket_esocktnosupport", ("socket", 2, SEQPACKET, 0))
case("socket_rdm_esocktnosupport", ("socket", 2, RDM, 0))
case("socket_type0_esocktnosupport", ("socket", 2, 0, 0))
case("socket_type_sock_max_einval", ("socket", 2, 11, 0), ("socket", 2, 15, 0))
case("socket_bad_type_flags_einval", ("socket", 2, 1 | 0x100, 0), ("socket", 2, 1 | 0o40000, 0))
case("socket_negative_type_einval", ("socket", 2, -1, 0))
case("socket_family_nproto_eafnosupport", ("socket", 46, 1, 0), ("socket", 1000, 1, 0), ("socket", -1, 1, 0))
case("socket_family_check_before_type", ("socket", 46, 15, 0))
case("socket_proto_range_einval", ("socket", 2, 1, 256), ("socket", 2, 1, 263), ("socket", 2, 1, -1), ("socket", 2, 2, 1000))
case("socket_nonblock_flag", ("socket", 2, STREAM | NONBLOCK, 0), ("fcntl", "$0", F_GETFL), ("fcntl", "$0", F_GETFD))
case("socket_cloexec_flag", ("socket", 2, STREAM | CLOEXEC, 0), ("fcntl", "$0", F_GETFL), ("fcntl", "$0", F_GETFD))
case("socket_both_flags_dgram", ("socket", 2, DGRAM | CLOEXEC | NONBLOCK, 0), ("fcntl", "$0", F_GETFL),
     ("fcntl", "$0", F_GETFD), gso(0, SO_TYPE))
case("socket_lowest_free_fd", TCP, TCP, UDP, ("close", "$1"), TCP, ("close", "$0"), UDP)
case("socket_emfile_at_rlimit", ("rlimit", 5), TCP, TCP, TCP, ("close", "$1"), UDP)
case("socket_emfile_rlimit_3", ("rlimit", 3), TCP, ("pipe",))
case("socket_ping_eacces_by_group_range", ("socket", 2, 2, 1))
case("socket_ping_allowed_group", ("sysctl", "net.ipv4.ping_group_range", (0, 0)), ("socket", 2, 2, 1),
     gso(1, SO_PROTOCOL), gso(1, SO_TYPE))
case("socket_many_then_close_all", TCP, UDP, TCP, UDP, ("close", "$0"), ("close", "$2"), TCP, TCP, TCP)

# ---- bind(): move_addr_to_kernel, inet_bind, __inet_bind ------------------------------
case("bind_loopback_getsockname", TCP, ("bind", "$0", (LO, 5001)), ("getsockname", "$0"))
case("bind_any_port0_ephemeral", TCP, ("bind", "$0", ("0.0.0.0", 0)), ("port_in_range", "$0"))
case("bind_short_addrlen_einval", TCP, ("bind", "$0", sin(LO, 5002), 15), ("bind", "$0", sin(LO, 5002), 2))
case("bind_addrlen_zero_einval", TCP, ("bind", "$0", b"", 0))
case("bind_addrlen_129_einval", TCP, ("bind", "$0", sin(LO, 5003) + bytes(113)))
case("bind_addrlen_negative_einval", TCP, ("bind", "$0", sin(LO, 5003), -1))
case("bind_addrlen_128_ok", TCP, ("bind", "$0", sin(LO, 5004) + bytes(112)), ("getsockname", "$0"))
case("bind_udp_short_addrlen_einval", UDP, ("bind", "$0", sin(LO, 5005), 8))
case("bind_af_unspec_any_ok", TCP, ("bind", "$0", sin("0.0.0.0", 5006, AF_UNSPEC)), ("getsockname", "$0"))
case("bind_af_unspec_loopback_eafnosupport", TCP, ("bind", "$0", sin(LO, 5007, AF_UNSPEC)))
case("bind_af_inet6_eafnosupport", TCP, ("bind", "$0", sin(LO, 5008, AF_INET6)))
case("bind_af_unix_family_eafnosupport", UDP, ("bind", "$0", sin("0.0.0.0", 5008, 1)))
case("bind_nonlocal_eaddrnotavail", TCP, ("bind", "$0", (D0_OTHER, 5009)), ("bind", "$0", (TEST_NET, 5009)))
case("bind_nonlocal_udp_eaddrnotavail", UDP, ("bind", "$0", (TEST_NET, 5010)))
case("bind_nonlocal_sysctl_ok", ("sysctl", "net.ipv4.ip_nonlocal_bind", 1), TCP, ("bind", "$1", (TEST_NET, 5011)),
     ("getsockname", "$1"))
case("bind_freebind_ok", TCP, sso(0, IP_FREEBIND, 1, SOL_IP), gso(0, IP_FREEBIND, SOL_IP),
     ("bind", "$0", (TEST_NET, 5012)), ("getsockname", "$0"))
case("bind_d0_address_ok", TCP, ("bind", "$0", (D0, 5013)), ("getsockname", "$0"))
case("bind_d0_broadcast_ok", UDP, ("bind", "$0", (D0_BCAST, 5014)), ("getsockname", "$0"))
case("bind_multicast_ok", UDP, ("bind", "$0", ("224.0.0.1", 5015)), ("getsockname", "$0"))
case("bind_limited_broadcast_ok", UDP, ("bind", "$0", ("255.255.255.255", 5016)), ("getsockname", "$0"))
case("bind_loopback_net_ok", TCP, ("bind", "$0", ("127.1.2.3", 5017)), ("getsockname", "$0"))
case("bind_double_einval", TCP, ("bind", "$0", (LO, 5018)), ("bind", "$0", (LO, 5019)))
case("bind_double_port0_einval", TCP, ("bind", "$0", (LO, 0)), ("bind", "$0", (LO, 0)))
case("bind_after_listen_einval", TCP, ("listen", "$0", 5), ("bind", "$0", (LO, 5020)))
case("bind_privileged_port_root_ok", TCP, ("bind", "$0", (LO, 80)), ("getsockname", "$0"))
case("bind_privileged_port_nocap_eacces", ("nocap",), TCP, ("bind", "$1", (LO, 80)), ("bind", "$1", (LO, 1023)),
     ("bind", "$1", (LO, 1024)))
case("bind_privileged_nocap_port0_ok", ("nocap",), UDP, ("bind", "$1", (LO, 0)), ("port_in_range", "$1"))
case("bind_unprivileged_port_start_lowered", ("sysctl", "net.ipv4.ip_unprivileged_port_start", 80), ("nocap",),
     TCP, ("bind", "$2", (LO, 80)), TCP, ("bind", "$4", (LO, 79)))
case("bind_unprivileged_port_start_zero", ("sysctl", "net.ipv4.ip_unprivileged_port_start", 0), ("nocap",),
     UDP, ("bind", "$2", (LO, 1)))
case("bind_eacces_checked_before_double_bind", ("nocap",), TCP, ("bind", "$1", (LO, 5021)),
     ("bind", "$1", (LO, 81)))
case("bind_eaddrnotavail_checked_before_double_bind", TCP, ("bind", "$0", (LO, 5022)), ("bind", "$0", (D0_OTHER, 5022)))
case("bind_eafnosupport_checked_before_double_bind", TCP, ("bind", "$0", (LO, 5023)),
     ("bind", "$0", sin(LO, 5023, AF_INET6)))
case("bind_ebadf", ("bind", 100, (LO, 5024)), ("bind", -1, (LO, 5024)))
case("bind_enotsock_pipe", ("pipe",), ("bind", "$0.0", (LO, 5025)), ("bind", "$0.1", (LO, 5025)))
case("bind_closed_fd_ebadf", TCP, ("close", "$0"), ("bind", "$0", (LO, 5026)))
case("bind_ebadf_checked_before_addrlen", ("bind", 100, sin(LO, 1), 200))
case("bind_no_port_keeps_port0", TCP, sso(0, IP_BIND_ADDRESS_NO_PORT, 1, SOL_IP), ("bind", "$0", (LO, 0)),
     ("getsockname", "$0"), gso(0, IP_BIND_ADDRESS_NO_PORT, SOL_IP))

# ---- port sharing: inet_csk_get_port / udp_lib_get_port rules ------------------------
case("tcp_same_port_eaddrinuse", TCP, TCP, ("bind", "$0", (LO, 5101)), ("bind", "$1", (LO, 5101)))
case("tcp_any_then_specific_eaddrinuse", TCP, TCP, ("bind", "$0", ("0.0.0.0", 5102)), ("bind", "$1", (LO, 5102)))
case("tcp_specific_then_any_eaddrinuse", TCP, TCP, ("bind", "$0", (D0, 5103)), ("bind", "$1", ("0.0.0.0", 5103)))
case("tcp_different_addresses_ok", TCP, TCP, ("bind", "$0", (LO, 5104)), ("bind", "$1", (D0, 5104)))
case("tcp_reuseaddr_both_ok", TCP, TCP, sso(0, SO_REUSEADDR, 1), sso(1, SO_REUSEADDR, 1),
     ("bind", "$0", (LO, 5105)), ("bind", "$1", (LO, 5105)))
case("tcp_reuseaddr_second_only_eaddrinuse", TCP, TCP, sso(1, SO_REUSEADDR, 1),
     ("bind", "$0", (LO, 5106)), ("bind", "$1", (LO, 5106)))
case("tcp_reuseaddr_first_listening_eaddrinuse", TCP, TCP, sso(0, SO_REUSEADDR, 1), sso(1, SO_REUSEADDR, 1),
     ("bind", "$0", (LO, 5107)), ("listen", "$0", 1), ("bind", "$1", (LO, 5107)))
case("tcp_reuseaddr_both_bound_second_listen_eaddrinuse", TCP, TCP, sso(0, SO_REUSEADDR, 1),
     sso(1, SO_REUSEADDR, 1), ("bind", "$0", (LO, 5108)), ("bind", "$1", (LO, 5108)), ("listen", "$0", 1),
     ("listen", "$1", 1), gso(1, SO_ACCEPTCONN))
case("tcp_reuseport_both_listen_ok", TCP, TCP, sso(0, SO_REUSEPORT, 1), sso(1, SO_REUSEPORT, 1),
     ("bind", "$0", (LO, 5109)), ("listen", "$0", 1), ("bind", "$1", (LO, 5109)), ("listen", "$1", 1))
case("tcp_reuseport_first_only_eaddrinuse", TCP, TCP, sso(0, SO_REUSEPORT, 1),
     ("bind", "$0", (LO, 5110)), ("bind", "$1", (LO, 5110)))
case("tcp_reuseaddr_and_reuseport_mixed", TCP, TCP, sso(0, SO_REUSEADDR, 1), sso(1, SO_REUSEPORT, 1),
     ("bind", "$0", (LO, 5111)), ("bind", "$1", (LO, 5111)))
case("tcp_close_frees_port", TCP, ("bind", "$0", (LO, 5112)), ("close", "$0"), TCP, ("bind", "$3", (LO, 5112)))
case("tcp_listener_close_frees_port", TCP, ("bind", "$0", (LO, 5113)), ("listen", "$0", 4), ("close", "$0"), TCP,
     ("bind", "$4", (LO, 5113)))
case("tcp_listen_on_any_blocks_specific", TCP, TCP, sso(0, SO_REUSEADDR, 1), sso(1, SO_REUSEADDR, 1),
     ("bind", "$0", ("0.0.0.0", 5114)), ("listen", "$0", 1), ("bind", "$1", (D0, 5114)))
case("udp_same_port_eaddrinuse", UDP, UDP, ("bind", "$0", (LO, 5201)), ("bind", "$1", (LO, 5201)))
case("udp_reuseaddr_both_ok", UDP, UDP, sso(0, SO_REUSEADDR, 1), sso(1, SO_REUSEADDR, 1),
     ("bind", "$0", (LO, 5202)), ("bind", "$1", (LO, 5202)))
case("udp_reuseport_both_ok", UDP, UDP, sso(0, SO_REUSEPORT, 1), sso(1, SO_REUSEPORT, 1),
     ("bind", "$0", ("0.0.0.0", 5203)), ("bind", "$1", ("0.0.0.0", 5203)))
case("udp_reuseaddr_one_eaddrinuse", UDP, UDP, sso(0, SO_REUSEADDR, 1),
     ("bind", "$0", (LO, 5204)), ("bind", "$1", (LO, 5204)))
case("udp_any_vs_specific_eaddrinuse", UDP, UDP, ("bind", "$0", (LO, 5205)), ("bind", "$1", ("0.0.0.0", 5205)))
case("udp_and_tcp_share_port_number", TCP, UDP, ("bind", "$0", (LO, 5206)), ("bind", "$1", (LO, 5206)))
case("udp_double_bind_einval", UDP, ("bind", "$0", (LO, 5207)), ("bind", "$0", (LO, 5208)))
case("udp_port0_ephemeral", UDP, ("bind", "$0", (LO, 0)), ("port_in_range", "$0"), ("getsockname", "$0", 2))
case("udp_close_frees_port", UDP, ("bind", "$0", (LO, 5209)), ("close", "$0"), UDP, ("bind", "$3", (LO, 5209)))
case("ephemeral_tcp_range_exhausted", ("sysctl", "net.ipv4.ip_local_port_range", (40000, 40001)), TCP, TCP, TCP,
     ("bind", "$1", (LO, 0)), ("bind", "$2", (LO, 0)), ("bind", "$3", (LO, 0)), ("port_in_range", "$1"),
     ("port_in_range", "$2"))
case("ephemeral_udp_range_exhausted", ("sysctl", "net.ipv4.ip_local_port_range", (40010, 40011)), UDP, UDP, UDP,
     ("bind", "$1", (LO, 0)), ("bind", "$2", (LO, 0)), ("bind", "$3", (LO, 0)))
case("ephemeral_single_port_range", ("sysctl", "net.ipv4.ip_local_port_range", (40020, 40020)), TCP,
     ("listen", "$1", 1), ("getsockname", "$1"))

# ---- listen(): __sys_listen, inet_listen, inet_csk_listen_start -----------------------
case("listen_unbound_autobinds", TCP, ("listen", "$0", 5), ("port_in_range", "$0"), gso(0, SO_ACCEPTCONN))
case("listen_acceptconn_flag", TCP, gso(0, SO_ACCEPTCONN), ("bind", "$0", (LO, 5301)), ("listen", "$0", 1),
     gso(0, SO_ACCEPTCONN), ("getsockname", "$0"))
case("listen_udp_eopnotsupp", UDP, ("listen", "$0", 1))
case("listen_raw_eopnotsupp", ("socket", 2, 3, 1), ("listen", "$0", 1))
case("listen_backlog_readjust", TCP, ("listen", "$0", 5), ("tcp_info", "$0"), ("listen", "$0", 10), ("tcp_info", "$0"))
case("listen_backlog_clamped_to_somaxconn", ("sysctl", "net.core.somaxconn", 16), TCP, ("listen", "$1", 100),
     ("tcp_info", "$1"))
case("listen_negative_backlog_is_somaxconn", ("sysctl", "net.core.somaxconn", 64), TCP, ("listen", "$1", -1),
     ("tcp_info", "$1"))
case("listen_backlog_zero", TCP, ("listen", "$0", 0), ("tcp_info", "$0"))
case("listen_somaxconn_zero", ("sysctl", "net.core.somaxconn", 0), TCP, ("listen", "$1", 5), ("tcp_info", "$1"))
case("listen_ebadf_enotsock", ("listen", 77, 1), ("pipe",), ("listen", "$1.0", 1))
case("listen_shutdown_rd_stops_listening", TCP, ("bind", "$0", (LO, 5302)), ("listen", "$0", 3),
     ("shutdown", "$0", 0), gso(0, SO_ACCEPTCONN), ("getsockname", "$0"), ("listen", "$0", 2), gso(0, SO_ACCEPTCONN))
case("listen_shutdown_wr_keeps_listening", TCP, ("listen", "$0", 3), ("shutdown", "$0", 1), gso(0, SO_ACCEPTCONN))
case("listen_shutdown_rdwr_frees_autobound_port", TCP, ("listen", "$0", 3), ("shutdown", "$0", 2),
     gso(0, SO_ACCEPTCONN), ("tcp_info", "$0"))
case("listen_closed_fd_ebadf", TCP, ("close", "$0"), ("listen", "$0", 1))

# ---- getsockname / getpeername: inet_getname, move_addr_to_user -----------------------
case("getsockname_unbound_tcp", TCP, ("getsockname", "$0"))
case("getsockname_unbound_udp", UDP, ("getsockname", "$0"))
case("getsockname_truncated_to_4", TCP, ("bind", "$0", (LO, 5401)), ("getsockname", "$0", 4))
case("getsockname_buflen_zero", TCP, ("bind", "$0", (LO, 5402)), ("getsockname", "$0", 0))
case("getsockname_buflen_negative_einval", TCP, ("getsockname", "$0", -1))
case("getsockname_buflen_large", UDP, ("bind", "$0", (D0, 5403)), ("getsockname", "$0", 100))
case("getsockname_ebadf_enotsock", ("getsockname", 99), ("pipe",), ("getsockname", "$1.1"))
case("getpeername_unconnected_enotconn", TCP, UDP, ("getpeername", "$0"), ("getpeername", "$1"))
case("getpeername_listener_enotconn", TCP, ("listen", "$0", 1), ("getpeername", "$0", 16))

# ---- SOL_SOCKET options: sk_setsockopt / sk_getsockopt --------------------------------
case("so_rcvbuf_doubled", TCP, sso(0, SO_RCVBUF, 5000), gso(0, SO_RCVBUF))
case("so_rcvbuf_minimum", UDP, sso(0, SO_RCVBUF, 1), gso(0, SO_RCVBUF), sso(0, SO_RCVBUF, 0), gso(0, SO_RCVBUF))
case("so_sndbuf_doubled_and_minimum", TCP, sso(0, SO_SNDBUF, 3000), gso(0, SO_SNDBUF), sso(0, SO_SNDBUF, 1),
     gso(0, SO_SNDBUF))
case("so_rcvbuf_clamped_to_rmem_max", TCP, sso(0, SO_RCVBUF, 10 ** 8), gso(0, SO_RCVBUF))
case("so_sndbuf_negative_clamps_to_max", UDP, sso(0, SO_SNDBUF, -1), gso(0, SO_SNDBUF))
case("so_buffers_default_tcp", TCP, gso(0, SO_RCVBUF), gso(0, SO_SNDBUF))
case("so_buffers_default_udp", UDP, gso(0, SO_RCVBUF), gso(0, SO_SNDBUF))
case("so_reuseaddr_is_boolean", TCP, gso(0, SO_REUSEADDR), sso(0, SO_REUSEADDR, 5), gso(0, SO_REUSEADDR),
     sso(0, SO_REUSEADDR, 0), gso(0, SO_REUSEADDR))
case("so_reuseport_is_boolean", UDP, gso(0, SO_REUSEPORT), sso(0, SO_REUSEPORT, 7), gso(0, SO_REUSEPORT))
case("so_keepalive_and_broadcast", TCP, gso(0, SO_KEEPALIVE), sso(0, SO_KEEPALIVE, 1), gso(0, SO_KEEPALIVE),
     sso(0, SO_BROADCAST, 1), gso(0, SO_BROADCAST), sso(0, SO_BROADCAST, 0), gso(0, SO_BROADCAST))
case("so_type_domain_protocol_raw", ("socket", 2, 3, 17), gso(0, SO_TYPE), gso(0, SO_DOMAIN), gso(0, SO_PROTOCOL))
case("so_readonly_options_enoprotoopt", TCP, sso(0, SO_TYPE, 1), sso(0, SO_ERROR, 0), sso(0, SO_ACCEPTCONN, 1),
     sso(0, SO_PROTOCOL, 6), sso(0, SO_DOMAIN, 2), sso(0, SO_SNDLOWAT, 1))
case("so_error_zero", TCP, gso(0, SO_ERROR))
case("so_unknown_option_enoprotoopt", TCP, gso(0, 999), sso(0, 999, 1))
case("so_short_optlen_einval", TCP, sso(0, SO_REUSEADDR, b"\x01\x00"), sso(0, SO_RCVBUF, b""), gso(0, SO_REUSEADDR))
case("so_negative_optlen_einval", TCP, sso(0, SO_REUSEADDR, 1, SOL_SOCKET, -1))
case("so_linger_roundtrip", TCP, sso(0, SO_LINGER, ling(1, 5)), gso(0, SO_LINGER, SOL_SOCKET, 8),
     sso(0, SO_LINGER, ling(0, 10)), gso(0, SO_LINGER, SOL_SOCKET, 8), gso(0, SO_LINGER, SOL_SOCKET, 4))
case("so_linger_short_optlen_einval", TCP, sso(0, SO_LINGER, 1))
case("so_rcvtimeo_roundtrip", TCP, gso(0, SO_RCVTIMEO, SOL_SOCKET, 16), sso(0, SO_RCVTIMEO, tv(2, 500000)),
     gso(0, SO_RCVTIMEO, SOL_SOCKET, 16))
case("so_rcvtimeo_bad_usec_edom", UDP, sso(0, SO_RCVTIMEO, tv(1, 1000000)), sso(0, SO_RCVTIMEO, tv(1, -1)))
case("so_rcvtimeo_short_optlen_einval", UDP, sso(0, SO_RCVTIMEO, struct.pack("<ii", 1, 0)))
case("so_sndtimeo_negative_sec_is_zero", TCP, sso(0, SO_SNDTIMEO, tv(3, 0)), sso(0, SO_SNDTIMEO, tv(-5, 0)),
     gso(0, SO_SNDTIMEO, SOL_SOCKET, 16), sso(0, SO_SNDTIMEO, tv(7, 248000)), gso(0, SO_SNDTIMEO, SOL_SOCKET, 16))
case("so_getsockopt_short_buffers", TCP, gso(0, SO_TYPE, SOL_SOCKET, 2), gso(0, SO_TYPE, SOL_SOCKET, 0),
     gso(0, SO_TYPE, SOL_SOCKET, 8), gso(0, SO_TYPE, SOL_SOCKET, -1))
case("so_priority_roundtrip", UDP, sso(0, SO_PRIORITY, 3), gso(0, SO_PRIORITY))
case("so_rcvlowat_udp", UDP, gso(0, SO_RCVLOWAT), sso(0, SO_RCVLOWAT, 10), gso(0, SO_RCVLOWAT),
     sso(0, SO_RCVLOWAT, 0), gso(0, SO_RCVLOWAT), gso(0, SO_SNDLOWAT))
case("so_options_on_pipe_enotsock", ("pipe",), ("setsockopt", "$0.0", 1, 2, 1), ("getsockopt", "$0.1", 1, 3))
case("so_options_ebadf", ("setsockopt", 55, 1, 2, 1), ("getsockopt", 55, 1, 3))

# ---- IPPROTO_TCP and IPPROTO_IP options ----------------------------------------------
case("tcp_nodelay_roundtrip", TCP, gso(0, TCP_NODELAY, SOL_TCP), sso(0, TCP_NODELAY, 1, SOL_TCP),
     gso(0, TCP_NODELAY, SOL_TCP), sso(0, TCP_NODELAY, 0, SOL_TCP), gso(0, TCP_NODELAY, SOL_TCP))
case("tcp_maxseg_limits", TCP, gso(0, TCP_MAXSEG, SOL_TCP), sso(0, TCP_MAXSEG, 1000, SOL_TCP),
     gso(0, TCP_MAXSEG, SOL_TCP), sso(0, TCP_MAXSEG, 50, SOL_TCP), sso(0, TCP_MAXSEG, 40000, SOL_TCP),
     sso(0, TCP_MAXSEG, 0, SOL_TCP), gso(0, TCP_MAXSEG, SOL_TCP))
case("tcp_keepidle_limits", TCP, gso(0, TCP_KEEPIDLE, SOL_TCP), sso(0, TCP_KEEPIDLE, 60, SOL_TCP),
     gso(0, TCP_KEEPIDLE, SOL_TCP), sso(0, TCP_KEEPIDLE, 0, SOL_TCP), sso(0, TCP_KEEPIDLE, 32768, SOL_TCP))
case("tcp_keepintvl_keepcnt_limits", TCP, gso(0, TCP_KEEPINTVL, SOL_TCP), gso(0, TCP_KEEPCNT, SOL_TCP),
     sso(0, TCP_KEEPINTVL, 10, SOL_TCP), sso(0, TCP_KEEPCNT, 128, SOL_TCP), sso(0, TCP_KEEPCNT, 5, SOL_TCP),
     gso(0, TCP_KEEPINTVL, SOL_TCP), gso(0, TCP_KEEPCNT, SOL_TCP))
case("tcp_short_optlen_einval", TCP, sso(0, TCP_NODELAY, b"\x01\x00", SOL_TCP))
case("tcp_unknown_option_enoprotoopt", TCP, sso(0, 9999, 1, SOL_TCP), gso(0, 9999, SOL_TCP))
case("tcp_options_on_udp", UDP, sso(0, TCP_NODELAY, 1, SOL_TCP), gso(0, TCP_NODELAY, SOL_TCP))
case("tcp_getsockopt_buflen_clamped", TCP, gso(0, TCP_MAXSEG, SOL_TCP, 2), gso(0, TCP_MAXSEG, SOL_TCP, 16),
     gso(0, TCP_MAXSEG, SOL_TCP, -1))
case("unknown_level_on_tcp", TCP, sso(0, 1, 1, 200), gso(0, 1, 200))
case("ip_ttl_limits", TCP, gso(0, IP_TTL, SOL_IP), sso(0, IP_TTL, 10, SOL_IP), gso(0, IP_TTL, SOL_IP),
     sso(0, IP_TTL, 0, SOL_IP), sso(0, IP_TTL, 256, SOL_IP), sso(0, IP_TTL, -1, SOL_IP), gso(0, IP_TTL, SOL_IP))
case("ip_ttl_one_byte_forms", UDP, sso(0, IP_TTL, b"\x05", SOL_IP), gso(0, IP_TTL, SOL_IP),
     gso(0, IP_TTL, SOL_IP, 1), gso(0, IP_TTL, SOL_IP, 2), gso(0, IP_TTL, SOL_IP, 0), sso(0, IP_TTL, b"", SOL_IP))
case("ip_tos_tcp_keeps_ecn_bits", TCP, sso(0, IP_TOS, 0x13, SOL_IP), gso(0, IP_TOS, SOL_IP))
case("ip_tos_udp", UDP, sso(0, IP_TOS, 0x13, SOL_IP), gso(0, IP_TOS, SOL_IP))
case("ip_unknown_option", UDP, sso(0, 9999, 1, SOL_IP), gso(0, 9999, SOL_IP))
case("ip_freebind_roundtrip", UDP, gso(0, IP_FREEBIND, SOL_IP), sso(0, IP_FREEBIND, 3, SOL_IP),
     gso(0, IP_FREEBIND, SOL_IP), sso(0, IP_FREEBIND, b"", SOL_IP))

# ---- shutdown / close -------------------------------------------------------------------
case("shutdown_unconnected_tcp_enotconn", TCP, ("shutdown", "$0", 2), ("shutdown", "$0", 0))
case("shutdown_bad_how_einval", TCP, ("shutdown", "$0", 3), ("shutdown", "$0", -1), ("shutdown", "$0", 100))
case("shutdown_udp_enotconn", UDP, ("bind", "$0", (LO, 5501)), ("shutdown", "$0", 1))
case("shutdown_ebadf_enotsock", ("shutdown", 60, 0), ("pipe",), ("shutdown", "$1.0", 0))
case("close_twice_ebadf", TCP, ("close", "$0"), ("close", "$0"))
case("close_bad_fds_ebadf", ("close", -1), ("close", 9999), ("close", 50))
case("close_pipe_ends", ("pipe",), ("close", "$0.0"), ("close", "$0.1"), ("close", "$0.0"))

# ---- fcntl ---------------------------------------------------------------------------
case("fcntl_getfl_setfl_nonblock", TCP, ("fcntl", "$0", F_GETFL), ("fcntl", "$0", F_SETFL, O_NONBLOCK),
     ("fcntl", "$0", F_GETFL), ("fcntl", "$0", F_SETFL, 0), ("fcntl", "$0", F_GETFL))
case("fcntl_setfl_ignores_access_mode", UDP, ("fcntl", "$0", F_SETFL, O_WRONLY | O_NONBLOCK), ("fcntl", "$0", F_GETFL))
case("fcntl_setfd_cloexec", TCP, ("fcntl", "$0", F_GETFD), ("fcntl", "$0", F_SETFD, 1), ("fcntl", "$0", F_GETFD),
     ("fcntl", "$0", F_SETFD, 6), ("fcntl", "$0", F_GETFD), ("fcntl", "$0", F_SETFD, 0), ("fcntl", "$0", F_GETFD))
case("fcntl_dupfd_lowest_above", TCP, ("fcntl", "$0", F_DUPFD, 10), ("fcntl", "$0", F_DUPFD_CLOEXEC, 10),
     ("fcntl", "$2", F_GETFD), ("fcntl", "$1", F_GETFD), gso(2, SO_TYPE))
case("fcntl_dupfd_past_rlimit_einval", ("rlimit", 20), TCP, ("fcntl", "$1", F_DUPFD, 20), ("fcntl", "$1", F_DUPFD, -1),
     ("fcntl", "$1", F_DUPFD, 19))
case("fcntl_bad_cmd_einval", TCP, ("fcntl", "$0", 9999))
case("fcntl_ebadf", ("fcntl", 88, F_GETFL), ("fcntl", -3, F_GETFD))
case("fcntl_pipe_access_modes", ("pipe",), ("fcntl", "$0.0", F_GETFL), ("fcntl", "$0.1", F_GETFL))
case("pipe2_flags", ("pipe2", O_NONBLOCK), ("fcntl", "$0.0", F_GETFL), ("pipe2", CLOEXEC), ("fcntl", "$2.1", F_GETFD),
     ("pipe2", 1))

# ---- dup, dup2, dup3 -------------------------------------------------------------------
case("dup_lowest_free", TCP, UDP, ("close", "$0"), ("dup", "$1"), gso(3, SO_TYPE))
case("dup_shares_file_status_flags", TCP, ("dup", "$0"), ("fcntl", "$0", F_SETFL, O_NONBLOCK),
     ("fcntl", "$1", F_GETFL))
case("dup_does_not_copy_cloexec", ("socket", 2, STREAM | CLOEXEC, 0), ("dup", "$0"), ("fcntl", "$1", F_GETFD))
case("dup_ebadf", ("dup", 70), ("dup", -1))
case("dup_emfile", ("rlimit", 4), TCP, ("dup", "$1"))
case("dup2_same_fd", TCP, ("dup2", "$0", "$0"), ("dup2", 40, 40))
case("dup2_replaces_open_fd", TCP, UDP, ("dup2", "$0", "$1"), gso(1, SO_TYPE), gso(0, SO_TYPE))
case("dup2_clears_cloexec", TCP, ("socket", 2, STREAM | CLOEXEC, 0), ("dup2", "$1", 9), ("fcntl", 9, F_GETFD))
case("dup2_newfd_out_of_range_ebadf", ("rlimit", 16), TCP, ("dup2", "$1", 16), ("dup2", "$1", -1), ("dup2", "$1", 15))
case("dup3_checks", TCP, ("dup3", "$0", "$0", 0), ("dup3", "$0", 8, 1), ("dup3", "$0", 8, CLOEXEC),
     ("fcntl", 8, F_GETFD), ("dup3", 66, 8, 0))
case("dup_keeps_socket_bound", TCP, ("bind", "$0", (LO, 5601)), ("dup", "$0"), ("close", "$0"), ("getsockname", "$2"),
     TCP, ("bind", "$5", (LO, 5601)), ("close", "$2"), ("bind", "$5", (LO, 5601)))
case("dup_pipe_enotsock_still", ("pipe",), ("dup", "$0.0"), ("bind", "$1", (LO, 5602)))

# ---- socketcall(2) ---------------------------------------------------------------------
case("socketcall_socket", ("socketcall", 1, (2, 1, 0)), gso(0, SO_TYPE))
case("socketcall_bad_call_einval", ("socketcall", 0, (2, 1, 0)), ("socketcall", 21, (2, 1, 0)),
     ("socketcall", -1, ()))
case("socketcall_bind_listen_getsockname", ("socketcall", 1, (2, 1, 0)), ("socketcall", 2, ("$0", (LO, 5701))),
     ("socketcall", 4, ("$0", 7)), ("socketcall", 6, ("$0", 16)), ("tcp_info", "$0"))
case("socketcall_options_and_shutdown", ("socketcall", 1, (2, 2, 0)), ("socketcall", 14, ("$0", 1, SO_RCVBUF, 4000)),
     ("socketcall", 15, ("$0", 1, SO_RCVBUF, 4)), ("socketcall", 13, ("$0", 2)))
case("socketcall_socket_errors", ("socketcall", 1, (2, 1, 17)), ("socketcall", 1, (46, 1, 0)),
     ("socketcall", 1, (2, 5, 0)))

# ---- sysctl validation -------------------------------------------------------------------
case("sysctl_port_range_inverted_einval", ("sysctl", "net.ipv4.ip_local_port_range", (60000, 50000)),
     ("sysctl", "net.ipv4.ip_local_port_range"))
case("sysctl_port_range_below_unprivileged_einval", ("sysctl", "net.ipv4.ip_local_port_range", (1000, 2000)))
case("sysctl_unprivileged_start_above_range_einval", ("sysctl", "net.ipv4.ip_unprivileged_port_start", 40000),
     ("sysctl", "net.ipv4.ip_unprivileged_port_start"))
case("sysctl_somaxconn_negative_einval", ("sysctl", "net.core.somaxconn", -1), ("sysctl", "net.core.somaxconn", 100),
     ("sysctl", "net.core.somaxconn"))

# ---- raw sockets: raw_bind -----------------------------------------------------------------
case("raw_bind_local_and_nonlocal", ("socket", 2, 3, 1), ("bind", "$0", (LO, 0)), ("getsockname", "$0"),
     ("bind", "$0", (D0_OTHER, 0)), ("bind", "$0", sin(LO, 0), 8), ("bind", "$0", (D0, 7)), ("getsockname", "$0"))
case("raw_options", ("socket", 2, 3, 1), gso(0, SO_RCVBUF), sso(0, SO_RCVBUF, 4096), gso(0, SO_RCVBUF),
     gso(0, IP_TTL, SOL_IP), ("shutdown", "$0", 2))
