"""labgrid: a board on a lab's place, found through labgrid's coordinator.

    labgrid-client -p esp32-1 acquire
    pytest tests --target=labgrid --lg-env lab.yaml [--lg-coordinator HOST:PORT]
    labgrid-client -p esp32-1 release

`lab.yaml` names the place (labgrid's own environment format):

    targets:
      main:
        resources:
          RemotePlace: {name: esp32-1}

The place's exporter exports the board's serial port (`USBSerialPort` or
`RawSerialPort`; labgrid serves it over RFC 2217 through ser2net) and the host
NIC cabled to the board (`NetworkInterface`). The board's description is the
place's `board` tag (`labgrid-client -p esp32-1 set-tags board=ESP32_W5500`)
unless --board names it. The serial line works from any host; the NIC is moved
into a test namespace (hil/netns.RigLink), so network tests need pytest on the
exporter that holds it; elsewhere they skip and say so. A local environment
(RawSerialPort/USBSerialPort and NetworkInterface resources, no coordinator)
works the same way.
"""
import os
import socket


class LabError(Exception):
    pass


def _env(config):
    """labgrid's Environment for --lg-env / LG_ENV. Built here rather than by
    labgrid's pytest plugin, which hil.plugin blocks: its `target` fixture
    would shadow ours."""
    env = getattr(config, "_hil_lg_env", None)
    if env is not None:
        return env
    path = config.getoption("--lg-env") or os.environ.get("LG_ENV")
    if not path:
        raise LabError("--target=labgrid needs a labgrid environment: --lg-env FILE (or LG_ENV=FILE)")
    try:
        from labgrid import Environment
    except ImportError as e:
        raise LabError("--target=labgrid needs labgrid (in requirements.txt: run `make deps`): %s" % e)
    try:
        env = Environment(config_file=path)
    except Exception as e:  # labgrid's InvalidConfigError, a missing file
        raise LabError("labgrid environment %s: %s" % (path, e)) from e
    coord = config.getoption("--lg-coordinator")
    if coord:
        env.config.set_option("coordinator_address", coord)
    config._hil_lg_env = env
    return env


def _is_local(host):
    """Does `host` (an exporter's published name) name this machine?"""
    if not host or host in ("localhost", socket.gethostname(), socket.getfqdn()):
        return True
    try:
        addrs = {ai[4][0] for ai in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    if any(a.startswith("127.") or a == "::1" for a in addrs):
        return True
    try:
        mine = {ai[4][0] for ai in socket.getaddrinfo(socket.gethostname(), None)}
    except OSError:
        mine = set()
    return bool(addrs & mine)


def resolve(config, role="main"):
    """What the suite needs from the place: a dict with `url` (pyserial URL or
    device path), `board` (or None), `iface` (local ifname or None) and
    `why_no_iface` (why network tests cannot run here)."""
    from labgrid.exceptions import NoResourceFoundError
    from labgrid.resource import NetworkInterface, NetworkSerialPort, RawSerialPort, RemotePlace, USBSerialPort
    from labgrid.resource.remote import RemoteNetworkInterface

    env = _env(config)
    try:
        t = env.get_target(role)
    except Exception as e:  # coordinator unreachable, place not acquired, ...
        raise LabError("labgrid target %r: %s" % (role, e)) from e
    if t is None:
        raise LabError("the labgrid environment has no target %r" % role)
    info = {"url": None, "board": None, "iface": None, "why_no_iface": None, "place": None}
    for cls in (NetworkSerialPort, RawSerialPort, USBSerialPort):
        try:
            r = t.get_resource(cls, wait_avail=False)
        except NoResourceFoundError:
            continue
        if cls is NetworkSerialPort:
            # ign_set_control: ser2net on a pty (or some USB bridges) refuses the
            # DTR/RTS options pyserial sends while opening; labgrid does the same.
            info["url"] = ("rfc2217://%s:%d?ign_set_control" % (r.host, r.port) if r.protocol == "rfc2217"
                           else "socket://%s:%d" % (r.host, r.port))
        else:
            info["url"] = r.port
        break
    if info["url"] is None:
        raise LabError("labgrid target %r has no serial port resource (NetworkSerialPort, RawSerialPort, "
                       "USBSerialPort): is the place acquired, its exporter running?" % role)
    try:
        place = t.get_resource(RemotePlace, wait_avail=False)
        info["place"] = place.name
        info["board"] = (place.tags or {}).get("board")
    except NoResourceFoundError:  # a local environment: --board names the board
        pass
    for cls in (RemoteNetworkInterface, NetworkInterface):
        try:
            nic = t.get_resource(cls, wait_avail=False)
        except NoResourceFoundError:
            continue
        host = getattr(nic, "host", None)
        if _is_local(host):
            info["iface"] = nic.ifname
        else:
            info["why_no_iface"] = ("the place's NIC %s is on exporter %s, not here: network tests need pytest "
                                    "on that host (docs/rig.md)" % (nic.ifname, host))
        break
    else:
        info["why_no_iface"] = "the labgrid place exports no NetworkInterface cabled to the board"
    return info

