#!/usr/bin/env python3
"""tend's CPU samples from a `perf record -g` of a bring-up, by what they were doing.

usage: bench/perf_by_category.py PERF_DATA TEND_PID [START,END] [HZ]

  PERF_DATA   from `perf record -F 2000 -g -o PERF_DATA -- tend run …` (children are followed,
              so the services' samples are there too; only TEND_PID's threads are counted)
  TEND_PID    the tend process (its threads share its pid)
  START,END   perf timestamps (seconds) to keep, e.g. the bring-up without the shutdown
  HZ          the sampling frequency given to perf record (default 2000)

Each sample goes to the first category whose key appears anywhere in its stack, in the
order listed below (so the stats joins count apart from the forker thread that runs them).
"""
import collections
import subprocess
import sys

CATEGORIES = [
    ("stats join (v1 cgroup.procs)", ["Group).join", "StatsSteps"]),
    ("fork (forker thread)", ["Forker).serve", "forkAndExecInChild"]),
    ("cgroup mkdir (v2 + v1 stats)", ["mkdirGroup", "cgroup.(*Manager).makeDir"]),
    ("cgroup open (dir, events)", ["cgroup.(*Manager).newGroup"]),
    ("limits ahead", ["Group).Apply"]),
    ("svdir prepare (workers)", ["svdir.Prepare"]),
    ("ahead other", ["Manager).ahead"]),
    ("svdir write (loop)", ["svdir."]),
    ("log pipes", ["logSink).open", "journal.(*Journal).Pipe"]),
    ("manager messages (journal)", ["logSink).Events", "flushEvents"]),
    ("journal sync", ["syncDirty", "syncDir"]),
    ("fd holder queue", ["fdholder."]),
    ("state file", ["Manager).persist", "saveChanged"]),
    ("spawn.Start (loop)", ["spawn.Start"]),
    ("loop other", ["supervise.(*Manager).Run"]),
    ("daemon set-up", ["daemon.newDaemon", "daemon.Run", "cli.Main"]),
    ("reaper", ["reaper."]),
    ("journal other", ["journal."]),
    ("gc", ["gcBgMarkWorker", "gcDrain", "bgsweep", "bgscavenge"]),
    ("scheduler", ["runtime.schedule", "runtime.mcall", "findRunnable", "runtime.sysmon", "runtime.mstart"]),
]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    data, pid = sys.argv[1], sys.argv[2]
    args = ["perf", "script", "-i", data, "-F", "pid,tid,time,ip,sym", "--pid", pid]
    if len(sys.argv) > 3:
        args += ["--time", sys.argv[3]]
    hz = float(sys.argv[4]) if len(sys.argv) > 4 else 2000
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    count, total = collections.Counter(), 0
    for block in out.split("\n\n"):
        if not block.strip():
            continue
        total += 1
        for name, keys in CATEGORIES:
            if any(k in block for k in keys):
                count[name] += 1
                break
        else:
            count["other"] += 1
    print(f"{'total':30s} {total:6d} {total * 1000 / hz:8.1f} ms")
    for name, n in count.most_common():
        print(f"{name:30s} {n:6d} {n * 1000 / hz:8.1f} ms")


if __name__ == "__main__":
    main()
