"""`make bench`: run every tests/bench/bench_*.py on each available target,
collect the JSON lines they print, write build/bench/results.json and a table.

A bench script is MicroPython code run on the target; it prints lines
`BENCH {"name": ..., "value": ..., "unit": ...}`. Ratios are computed only
between figures measured in the same process, same run.
"""
import argparse
import glob
import json
import os
import shutil
import sys
import time

from hil.targets import make_target

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "build", "bench")


def run_on(spec, scripts):
    rows = []
    t = make_target(spec).start()
    try:
        for path in scripts:
            t.soft_reset()
            out = t.exec(open(path).read(), timeout=900)
            for line in out.splitlines():
                if line.startswith("BENCH "):
                    r = json.loads(line[6:])
                    r["target"] = spec
                    r["script"] = os.path.basename(path)
                    rows.append(r)
    finally:
        t.stop()
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", default="unix,unix-nocmod,qemu")
    ap.add_argument("--only", default="", help="substring of bench script names")
    a = ap.parse_args(argv)
    scripts = sorted(p for p in glob.glob(os.path.join(ROOT, "tests", "bench", "bench_*.py")) if a.only in p)
    targets = [s for s in a.targets.split(",") if s != "qemu" or shutil.which("qemu-system-arm")]
    rows = []
    for spec in targets:
        rows += run_on(spec, scripts)
    os.makedirs(OUT, exist_ok=True)
    res = {"when": time.strftime("%Y-%m-%d %H:%M:%S"), "host": os.uname().nodename, "results": rows}
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    lines = ["| target | benchmark | value | unit |", "|---|---|---|---|"]
    for r in rows:
        v = r["value"]
        lines.append("| %s | %s | %s | %s |" % (r["target"], r["name"], ("%.3g" % v) if isinstance(v, float) else v, r["unit"]))
    table = "\n".join(lines)
    with open(os.path.join(OUT, "results.md"), "w") as f:
        f.write(table + "\n")
    print(table)
    print("\nwritten: build/bench/results.json, build/bench/results.md")


if __name__ == "__main__":
    sys.exit(main())
