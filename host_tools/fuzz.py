"""`make fuzz`: hostile frames at ksock, seeded and reproducible (docs/fuzz.md).

    python -m host_tools.fuzz --mode=inproc --target=unix --frames=1000000 --seed=1
    python -m host_tools.fuzz --mode=wire --target=unix --seconds=10 --seed=1

inproc: ksock.testing.fuzz on the target builds and mutates frames and feeds them
straight to netif_receive_skb (fast: what makes a million frames feasible).
wire: frames built with scapy and mutated here are sent from the Linux peer's
side of a veth (default offloads) while ksock runs tests/host/programs/
ordinary_server.py through ksock.run's launcher (host_tools/fuzz_wire.py).

After each run: the interpreter answers (no crash), a ping and a TCP echo work
(no hang), skb pool / fds / sockets back to baseline and the heap within
HEAP_SLACK after settling, and every frame accounted for by a conservation law
over Linux-named counters (ksock.testing.fuzz.unaccounted). A frame that raised
is written as a replayable case under tests/fuzz_cases/. Exit status 0: clean.
"""
import argparse
import json
import os
import sys
import time

from hil.targets import ROOT, make_target

CASES = os.path.join(ROOT, "tests", "fuzz_cases")
# Heap after settling (less the TCP ring pool, a bounded cache of closed
# connections' rings) may exceed the baseline by what the run legitimately left:
# ARP entries learnt from fuzzed senders (a few hundred bytes each, bounded by the
# neighbour table), the interned strings and bound methods of paths first taken
# under fuzzing, and the fragmentation the GC cannot compact. A leak per frame
# would be megabytes over a run (>= 1 B x 1e6), far above this.
HEAP_SLACK = {"unix": 64 * 1024, "qemu": 32 * 1024}


def write_case(crash, seed, target, why):
    os.makedirs(CASES, exist_ok=True)
    idx, hexf, cs, err = crash
    name = "seed%d_frame%d.case" % (seed, idx)
    with open(os.path.join(CASES, name), "w") as f:
        f.write("# fuzz case: seed %d frame %d on %s: %s\n" % (seed, idx, target, why))
        f.write("".join("# %s\n" % ln for ln in err.strip().split("\n")))
        f.write("frame %s %d\n" % (hexf, cs))
    return name


def read_case(path):
    """[(hex, ip_summed)] of a case file."""
    out = []
    for line in open(path):
        f = line.split()
        if f and f[0] == "frame":
            out.append((f[1], int(f[2]) if len(f) > 2 else 0))
    return out


def inproc(t, seed, frames, chunk, log=print):
    """Run `frames` in-process frames of run `seed` on target t; returns a report dict."""
    t.exec("from ksock.testing import fuzz\nfuzz.world()\nfuzz.settle(100)")
    base = t.eval("fuzz.baseline()")
    rep = {"mode": "inproc", "seed": seed, "frames": 0, "crashes": 0, "hangs": 0, "nopool": 0,
           "unaccounted": {}, "target_ms": 0, "cases": []}
    t0 = time.time()
    i = 0
    while i < frames:
        n = min(chunk, frames - i)
        try:
            r = t.eval("fuzz.run(%d, %d, %d)" % (seed, n, i), timeout=max(60, n / 500))
        except Exception as e:  # the REPL did not answer in time, or the target died
            rep["hangs"] += 1
            rep["error"] = "chunk %d..%d: %r" % (i, i + n, e)
            break
        rep["frames"] += r["frames"]
        rep["nopool"] += r["nopool"]
        rep["target_ms"] += r["ms"]
        for k, v in r["unaccounted"].items():
            rep["unaccounted"][k] = rep["unaccounted"].get(k, 0) + v
        if r["crash"]:
            rep["crashes"] += 1
            rep["cases"].append(write_case(r["crash"], seed, t.name, "raised"))
            log("crash at frame %d:\n%s" % (r["crash"][0], r["crash"][3]))
            i = r["crash"][0] + 1
            continue
        i += n
        el = time.time() - t0
        log("%9d frames  %7.0f frames/s (target %.0f)" % (i, i / el, rep["frames"] * 1000.0 / max(1, rep["target_ms"])))
    rep["wall_s"] = round(time.time() - t0, 1)
    rep["frames_per_s"] = round(rep["frames"] * 1000.0 / max(1, rep["target_ms"]))
    check_after(t, base, rep)
    return rep


def check_after(t, base, rep):
    """No crash (it answers), no hang (ping + TCP echo), back to baseline."""
    try:
        alive = t.eval("1+1") == 2
    except Exception:
        alive = False
    if not alive:
        rep["crashes"] += 1
        rep["ok"] = False
        return
    t.exec("fuzz.settle(300)", timeout=60)  # the fuzzing peer resets its connections
    ping, echo = t.eval("fuzz.alive_checks()", timeout=60)
    rep["ping"], rep["tcp_echo"] = ping, echo
    if ping is not True or echo is not True:
        rep["hangs"] += 1
    t.exec("fuzz.settle(3000)", timeout=60)
    after = t.eval("fuzz.baseline()")
    rep["baseline"], rep["after"] = base, after
    rep["neigh"] = t.eval("len(__import__('ksock.net.ipv4.arp').net.ipv4.arp.arp_tbl)")
    slack = HEAP_SLACK["qemu" if t.name == "qemu" else "unix"]
    rep["leaks"] = [k for k in ("skb_free", "fds", "sockets") if after[k] != base[k]]
    if after["heap"] - base["heap"] > slack:
        rep["leaks"].append("heap +%d > %d" % (after["heap"] - base["heap"], slack))
    rep["ok"] = (not rep["crashes"] and not rep["hangs"] and not rep["leaks"]
                 and not any(rep["unaccounted"].values()))


def replay(t, path):
    """Replay one case file on target t; (unaccounted, alive)."""
    t.exec("from ksock.testing import fuzz\nfuzz.world()")
    u = t.eval("fuzz.replay(%r)" % (read_case(path),))
    return u, t.eval("1+1") == 2


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=("inproc", "wire"), default="inproc")
    ap.add_argument("--target", default="unix")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--frames", type=int, default=100000)
    ap.add_argument("--seconds", type=float, default=10, help="wire mode: how long to inject")
    ap.add_argument("--chunk", type=int, default=0, help="inproc frames per REPL call")
    ap.add_argument("--json", help="write the report here")
    a = ap.parse_args(argv)
    if a.mode == "wire":
        from host_tools import fuzz_wire
        rep = fuzz_wire.run(a.target, a.seed, a.seconds)
    else:
        t = make_target(a.target)
        t.start()
        try:
            rep = inproc(t, a.seed, a.frames, a.chunk or (50000 if t.name != "qemu" else 5000))
        finally:
            t.stop()
    print(json.dumps(rep, indent=1, sort_keys=True))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rep, f, indent=1, sort_keys=True)
    return 0 if rep.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
