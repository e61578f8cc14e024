#!/usr/bin/python3
"""The shared harness's restart.py (aged scenario), with every tool's tree running at once
and the kills interleaved (tool A, tool B, ... round after round), so that every tool meets
the same machine load: an A/B of two tend builds on a busy machine.

usage (as root, from the repository; the harness beside the project as for run.sh):
  TEND_BIN=new TEND_BASE_BIN=old PEERS_EXTRA=bench/tend_adapter.py \
      bench/restart_ab.py [--samples 40] [--tools tend-base,tend,daemontools]"""
import argparse, os, random, signal, sys, time
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("PEERS_LIB", os.path.join(here, "..", "..", "shared", "bench", "peers", "lib")))
import peers as P

ap = argparse.ArgumentParser()
ap.add_argument("--samples", type=int, default=40)
ap.add_argument("--aged-s", type=float, default=1.5)
ap.add_argument("--tools", default="tend-base,tend,daemontools")
a = ap.parse_args()
P.init()
rng = random.Random(42)
names = a.tools.split(",")
ev = P.ProcEvents()
trees = {}
try:
    for name in names:
        tool = P.VARIANTS[name]
        d = P.fresh_dir(f"restart-ab-{name}")
        tool.prepare(d, {"s0000": P.RUN})
        P.settle_fs(d)
        p = P.launch(tool, d, 1)
        w = P.TreeWatch(p.pid)
        trees[name] = (p, w, d)
    def pump(t):
        evs = ev.read(t)
        for _, w2, _ in trees.values():
            w2.feed(evs)

    def until(cond, timeout, settle=0.05):
        deadline = time.monotonic() + timeout
        while not cond():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            pump(min(left, 0.2))
        end = time.monotonic() + settle
        while time.monotonic() < end:
            pump(max(0.0, end - time.monotonic()))
        return True

    for name, (p, w, d) in trees.items():
        assert until(lambda: len(w.payload) >= 1, 30), f"{name} did not start"
    res = {n: [] for n in names}
    for i in range(a.samples):
        order = names[:] if i % 2 == 0 else names[::-1]
        for name in order:
            p, w, d = trees[name]
            # every tree's service is old enough: kill after a pause of aged-s/len(tools) + jitter
            until(lambda: False, rng.uniform(0, 0.3), settle=0)
            old = max(w.payload, key=w.payload.get)
            until(lambda: time.monotonic_ns() >= w.payload[old] + a.aged_s * 1e9, 10, settle=0)
            t_kill = time.monotonic_ns()
            os.kill(old, signal.SIGKILL)
            fresh = lambda w: any(q != old and w.forked.get(q, (0, 0))[1] > t_kill for q in w.payload)
            if not until(lambda: fresh(w), 5.0):
                P.log(f"{name}: no restart"); continue
            new = max(w.payload, key=w.payload.get)
            res[name].append(((w.forked[new][1] - t_kill) / 1e6, (w.payload[new] - t_kill) / 1e6))
            P.log(f"ab {name:12s} {i:3d} fork {res[name][-1][0]:7.3f} exec {res[name][-1][1]:7.3f}")
finally:
    ev.close()
    for name, (p, w, d) in trees.items():
        P.teardown(p, d)
print("| tool | samples | fork p50 ms | fork p99 ms | exec p50 ms | exec p99 ms |\n|---|---|---|---|---|---|")
for name in names:
    f = [x for x, _ in res[name]]; e = [y for _, y in res[name]]
    print(f"| {name} | {len(f)} | {P.pct(f, 50):.2f} | {P.pct(f, 99):.2f} | {P.pct(e, 50):.2f} | {P.pct(e, 99):.2f} |")
