#!/usr/bin/python3
"""Bring-up (the shared harness's start_tree) with the machine's busy and idle core time around
each one, from /proc/stat: a supervisor that waits on itself (a grace period, a thread hand-over)
leaves cores idle while services wait to be started. Tools interleaved, rep after rep.

usage (as root, from the repository; the harness beside the project as for run.sh):
  TEND_BIN=new [TEND_BASE_BIN=old] PEERS_EXTRA=$PWD/bench/tend_adapter.py \\
      bench/bringup_idle.py TOOL[,TOOL...] N REPS
prints one line per bring-up, then per tool the median and mean of all N running, the median of the
first service running, and the median idle core time (ms; jiffies, so 10 ms steps)."""
import os, statistics, sys, time
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("PEERS_LIB", os.path.join(here, "..", "..", "shared", "bench", "peers", "lib")))
import peers as P


def cpu():
    v = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return sum(v) - v[3] - v[4], v[3] + v[4]   # busy, idle+iowait


def main():
    P.init()
    tools = P.pick_tools(sys.argv[1])
    n, reps = int(sys.argv[2]), int(sys.argv[3])
    tick = 1000 / os.sysconf("SC_CLK_TCK")
    res = {t.name: [] for t in tools}
    for rep in range(reps):
        for tool in tools:
            d = P.fresh_dir(f"bringup-idle-{tool.name}")
            tool.prepare(d, {s: P.RUN for s in P.service_names(n)})
            P.settle_fs(d)
            ev = P.ProcEvents()
            try:
                b0, i0 = cpu()
                t0 = time.monotonic_ns()
                p = P.launch(tool, d, n)
                w = P.TreeWatch(p.pid)
                ok = P.wait_until(ev, w, lambda w: len(w.payload) >= n, 180, batch=0.05)
                b1, i1 = cpu()
            finally:
                ev.close()
            if not ok:
                P.teardown(p, d)
                sys.exit(f"{tool.name}: only {len(w.payload)}/{n} services came up; see {d}/tool.log")
            ts = sorted((t - t0) / 1e6 for t in w.payload.values())
            r = (ts[-1], ts[0], (b1 - b0) * tick, (i1 - i0) * tick)
            res[tool.name].append(r)
            print(f"{tool.name:16s} rep {rep + 1}: all {r[0]:7.1f} ms  first {r[1]:6.1f}  busy {r[2]:5.0f}  idle {r[3]:5.0f}", flush=True)
            P.teardown(p, d)
    print(f"\n| tool | N | reps | all running p50 ms | mean | first p50 ms | idle p50 ms |\n|---|---|---|---|---|---|---|")
    for name, rs in res.items():
        col = lambda i: [r[i] for r in rs]
        print(f"| {name} | {n} | {len(rs)} | {statistics.median(col(0)):.1f} | {statistics.mean(col(0)):.1f} "
              f"| {statistics.median(col(1)):.1f} | {statistics.median(col(3)):.0f} |")


if __name__ == "__main__":
    main()
