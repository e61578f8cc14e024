#!/usr/bin/python3
"""Where the time of a restart after kill -9 goes, step by step, from kernel tracepoints:
one service running the harness's ./run script (exec sleep), its sleep killed N times, a
system-wide `perf record` of scheduler, system call and signal tracepoints meanwhile; then,
for every kill, the microseconds from the victim's sched_process_exit to the supervisor's
first system call, its wait4, the fork event, the child's execve, and the exec events of
./run and of sleep. Tracing adds a few microseconds to every system call: compare
supervisors within one run, and read the quiet samples (a small first step), not the median
of a busy machine's.

usage (as root, from the repository): restart_steps.py N TOOL [TOOL...]
  TOOL: the path of a tend binary (a Restart=always, RestartSec=0 unit), `svdir:BINARY` (the
  same ./run as a service directory under `tend run --svdir`), or `supervise` (daemontools;
  its ./run must be a second old to restart at once, so kills are 1.1 s apart, as for svdir).
  STEPS_DUMP=K also prints the supervisor's events (system calls by thread, wake-ups, switches)
  from the exit to the fork of the first K kills.
Work directories are under $RESTART_STEPS_DIR (default /dev/shm/restart-steps)."""
import os, re, shutil, signal, statistics, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from proctree import children, comm

EVENTS = ("sched:sched_process_exit,sched:sched_process_fork,sched:sched_process_exec,"
          "sched:sched_switch,sched:sched_wakeup,raw_syscalls:sys_enter,raw_syscalls:sys_exit,"
          "signal:signal_deliver")
STEPS = ["first", "wait4", "fork", "execve", "exec_run", "exec_sleep"]
LINE = re.compile(r'^\s*(.+?)\s+(\d+)/(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s*(.*)$')


def record(tool, n, work):
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(f"{work}/sv/s0")
    run = f"{work}/sv/s0/run"
    with open(run, "w") as f:
        f.write("#!/bin/sh\nexec sleep 1000000\n")
    os.chmod(run, 0o755)
    if tool == "supervise":
        argv, gap = ["supervise", f"{work}/sv/s0"], 1.1
    elif tool.startswith("svdir:"):
        # the same directory under `tend run --svdir`: runsv's rule restarts a ./run
        # younger than a second a second later, so kills are 1.1 s apart as for supervise
        os.makedirs(f"{work}/units")
        argv = [tool[len("svdir:"):], "run", "--units", f"{work}/units", "--svdir", f"{work}/sv",
                "--runtime-dir", f"{work}/run", "--journal-dir", f"{work}/journal", "--log-level", "warn"]
        gap = 1.1
    else:
        os.makedirs(f"{work}/units")
        with open(f"{work}/units/s0.service", "w") as f:
            f.write(f"[Unit]\nStartLimitIntervalSec=0\n[Service]\nExecStart={run}\nRestart=always\nRestartSec=0\n")
        with open(f"{work}/units/default.target", "w") as f:
            f.write("[Unit]\nWants=s0.service\n")
        argv = [tool, "run", "--units", f"{work}/units", "--runtime-dir", f"{work}/run",
                "--journal-dir", f"{work}/journal", "--log-level", "warn"]
        gap = 0.3
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    svc = lambda: [c for c in children(p.pid) if comm(c) == "sleep"]
    kills = []
    try:
        while not svc():
            time.sleep(0.01)
        time.sleep(gap + 0.2)
        data = f"{work}.perf.data"
        pr = subprocess.Popen(["perf", "record", "-q", "-a", "-o", data, "-e", EVENTS, "--exclude-perf"], stderr=subprocess.DEVNULL)
        time.sleep(1)
        for _ in range(n):
            old = svc()[0]
            kills.append(old)
            os.kill(old, signal.SIGKILL)
            while not [s for s in svc() if s != old]:
                time.sleep(0.001)
            time.sleep(gap)
        pr.send_signal(signal.SIGINT)
        pr.wait()
    finally:
        for c in children(p.pid):
            os.kill(c, signal.SIGKILL)
        p.send_signal(signal.SIGTERM)
        p.wait()
    out = subprocess.run(["perf", "script", "-i", data, "-F", "comm,pid,tid,cpu,time,event,trace"],
                         capture_output=True, text=True).stdout
    return p.pid, set(kills), out


def events(script):
    """The tracepoints of perf script's text: (pid, tid, cpu, µs, event, rest)."""
    for line in script.splitlines():
        m = LINE.match(line)
        if m:
            _, pid, tid, cpu, t, ev, rest = m.groups()
            yield int(pid), tid, cpu, float(t) * 1e6, ev, rest


def killed(pid, ev, rest, kills):
    """Whether the event is the exit of a killed service's process."""
    return ev == "sched:sched_process_exit" and pid in kills and "group_dead=true" in rest


def dump(sup, kills, script, k):
    """The supervisor's events from each of the first k kills' exit to its fork."""
    t0, left = None, k
    tids = {tid for pid, tid, *_ in events(script) if pid == sup}
    woken = re.compile(r"pid=(\d+) ")
    for pid, tid, cpu, t, ev, rest in events(script):
        if killed(pid, ev, rest, kills):
            if left == 0:
                return
            left -= 1
            t0 = t
            print(f"--- kill of {pid}")
        if t0 is None:
            continue
        if pid == sup or (ev == "sched:sched_wakeup" and woken.search(rest) and woken.search(rest).group(1) in tids):
            print(f"  {t - t0:8.0f} cpu{cpu} {tid:>7} {ev.split(':')[1]:<20} {rest[:90]}")
        if pid == sup and ev == "sched:sched_process_fork":
            t0 = None


def steps(sup, kills, script):
    res, cur = [], None
    for pid, _, _, t, ev, rest in events(script):
        if killed(pid, ev, rest, kills):
            cur = {"t0": t, "child": None}
            res.append(cur)
            continue
        if cur is None or "exec_sleep" in cur or t - cur["t0"] > 50000:
            continue
        at = t - cur["t0"]
        if pid == sup and ev == "raw_syscalls:sys_exit":
            cur.setdefault("first", at)
        if pid == sup and ev == "raw_syscalls:sys_enter" and rest.startswith("NR 61 "):
            cur.setdefault("wait4", at)
        if pid == sup and ev == "sched:sched_process_fork" and cur["child"] is None:
            cur["child"] = int(re.search(r"child_pid=(\d+)", rest).group(1))
            cur["fork"] = at
        child = cur["child"]
        if child and pid == child and ev == "raw_syscalls:sys_enter" and rest.startswith("NR 59 "):
            cur.setdefault("execve", at)
        if child and ev == "sched:sched_process_exec" and f"pid={child} " in rest:
            # by file name: a pid trampoline (/proc/self/fd/N) may come before ./run
            name = re.search(r"filename=(\S+)", rest).group(1)
            if name.endswith("/sleep"):
                cur["exec_sleep"] = at
            elif name.endswith("/run"):
                cur["exec_run"] = at
    return res


def main():
    n, tools = int(sys.argv[1]), sys.argv[2:]
    base = os.environ.get("RESTART_STEPS_DIR", "/dev/shm/restart-steps")
    for k, tool in enumerate(tools):
        sup, kills, script = record(tool, n, f"{base}/{k}")
        if os.environ.get("STEPS_DUMP"):
            dump(sup, kills, script, int(os.environ["STEPS_DUMP"]))
        res = [r for r in steps(sup, kills, script) if all(s in r for s in STEPS)]
        print(f"{tool}: {len(res)} of {n} kills traced to the exec of sleep; µs from the exit, each step's increment")
        print("  " + " ".join(f"{s:>10}" for s in STEPS))
        for r in sorted(res, key=lambda r: r["first"]):
            print("  " + " ".join(f"{r[s] - (r[STEPS[i - 1]] if i else 0):10.0f}" for i, s in enumerate(STEPS)))
        if res:
            print("  median " + " ".join(f"{statistics.median(r[s] - (r[STEPS[i - 1]] if i else 0) for r in res):.0f}"
                                          for i, s in enumerate(STEPS)))


if __name__ == "__main__":
    main()
