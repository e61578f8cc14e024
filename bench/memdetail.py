#!/usr/bin/python3
"""Where tend's supervisor PSS goes: each binary given runs N units as bench/tend_adapter.py
does (the shared harness's start_tree, the same ./run scripts as the peers), and after the
harness's settle time every supervisor process (tend and its fd holder) is broken down by
mapping from /proc/PID/smaps: the executable's text, rodata and data, the anonymous memory
after it (bss), the rest of anonymous memory (Go heap arena, runtime metadata, thread stacks).
Binaries alternate within each N, so old and new are measured in one run.

usage: sudo bench/memdetail.py [--n 100,1000] [--settle 3] BINARY [BINARY ...]
(PEERS_DIR names the shared harness if it is not at ../shared/bench/peers beside the project)
"""
import argparse
import os
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
os.environ["PEERS_EXTRA"] = os.path.join(here, "tend_adapter.py")
peers = os.environ.get("PEERS_DIR", os.path.join(here, "..", "..", "shared", "bench", "peers"))
sys.path.insert(0, os.path.join(peers, "lib"))
import peers as P  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--n", default="100,1000")
ap.add_argument("--settle", type=float, default=3.0)
ap.add_argument("binaries", nargs="+")
a = ap.parse_args()
P.init()


def breakdown(pid):
    """Pss and Rss KiB by kind of mapping."""
    exe = os.readlink(f"/proc/{pid}/exe")
    kinds, cur, exe_end = {}, None, None
    for line in open(f"/proc/{pid}/smaps"):
        f = line.split()
        if not f[0].endswith(":") and "-" in f[0]:
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            path = f[5] if len(f) > 5 else ""
            if path == exe:
                name = {"r-xp": "exe text", "r--p": "exe rodata", "rw-p": "exe data"}.get(f[1], "exe " + f[1])
            elif path:
                name = path
            elif lo == exe_end:
                name = "bss"
            else:
                name = "anon"
            exe_end = hi if path == exe else None
            cur = kinds.setdefault(name, {"Pss": 0, "Rss": 0})
        elif f[0] in ("Pss:", "Rss:"):
            cur[f[0][:-1]] += int(f[1])
    return kinds


for n in (int(x) for x in a.n.split(",")):
    for binary in a.binaries:
        P.TEND_BIN = os.path.abspath(binary)  # read by the adapter's argv()
        d = P.fresh_dir(f"memdetail-{n}")
        p, _, _ = P.start_tree(P.VARIANTS["tend"], d, n)
        time.sleep(a.settle)
        sup, _ = P.split_tree(p.pid)
        m = P.memory(sup)
        print(f"{binary} N={n}: PSS {m['pss_kb']} KiB, RSS {m['rss_kb']} KiB, {m['procs']} processes, {m['threads']} threads")
        for pid in sup:
            args = open(f"/proc/{pid}/cmdline").read().split("\0")[:2]
            kinds = breakdown(pid)
            print(f"  {' '.join(args)}: PSS {P.memory([pid])['pss_kb']} KiB: " + ", ".join(
                f"{k} {v['Pss']}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]["Pss"]) if v["Pss"]))
        sys.stdout.flush()
        P.teardown(p, d)
