#!/usr/bin/env python3
"""The scheduler, side by side: tend and Debian's cron on one crontab.

The same /etc/cron.d-style file of N lines (default 10,000: `M H D * *
root /bin/true`, all at an hour twelve hours away, so nothing is due
while measuring) is read by Debian's cron and by tend (--crontab, every
line a timer and a service). For each: PSS with the file against PSS
with an empty one (the added cost per line), and the context switches of
all the daemon's threads over an idle window (wake-ups; default 30 s).

cron reads fixed paths, so it runs in a private mount namespace where
/etc/crontab, /etc/cron.d, /var/spool/cron/crontabs and /run are the
bench's own: nothing of the machine's is touched. Needs root, util-linux
(unshare) and cron.

The crontab's figure is per line, and a line is two units (timer and
service). The issue's question is the timer's own cost "beyond the unit":
--only units answers it end to end. One unit directory holds N services
and N timers (`j<i>.timer` starting `j<i>.service`, distinct
OnCalendar= times twelve hours away, or --spec for one shared spec) and
two targets that want every timer through `.wants/` symlinks:
timers.target and bench-idle.target. In the "started" run tend starts
timers.target (every timer waits); in the "loaded" run the same
symlinks are in bench-idle.target.wants, and nothing starts that target. Both runs load the same 2N unit
files with the same dependency edges, so what differs is only what a
started, waiting timer holds at run time (its engine state, typed
[Timer] spec, place in the alarm heap, state-file entry). The runs
alternate (--reps rounds), each PSS taken once tend's boot is over (it
returns its free heap then) and settled, after a daemon-reload: it
collects and returns free heap pages too, so both runs are measured at a
full collection rather than wherever the collector's pace left the heap
(without it, --no-trim, runs of one setup differed by up to 20 MB); the
idle window starts --after-trim seconds after the reload. With
--heap-profile the live heap (the runtime's HeapAlloc after the reload's
collection, exact) is reported too: tend writes DIR/heap.pprof and its
text form DIR/heap.pprof.txt.

Firing precision is a Go benchmark (see bench/README.md):
  go test ./cmd/tend -run x -bench BenchmarkTimerPrecision -benchtime 1x
"""
import argparse
import datetime
import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def crontab(n):
    """n distinct lines at an hour twelve hours from now."""
    hour = (datetime.datetime.now().hour + 12) % 24
    lines = ["SHELL=/bin/sh", "PATH=/usr/bin:/bin"]
    for i in range(n):
        lines.append(f"{i % 60} {hour} {1 + (i // 60) % 28} {1 + (i // (60 * 28)) % 12} * root /bin/true")
    return "\n".join(lines) + "\n"


def switches(pid):
    n = 0
    for st in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            with open(st) as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        n += int(line.split()[1])
        except FileNotFoundError:
            pass
    return n


def rollup(pid):
    """/proc/PID/smaps_rollup's kB fields by name."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1])
    return out


def pss_kib(pid):
    return rollup(pid).get("Pss", 0)


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def measure(args, proc, ready, trim=None):
    """PSS once ready and settled (and trimmed, with trim), then context
    switches over the window."""
    end = time.time() + 120
    while not ready() and time.time() < end:
        if proc.poll() is not None:
            sys.exit(f"daemon exited with {proc.returncode}")
        time.sleep(0.1)
    time.sleep(args.settle)
    if trim:
        trim()
        # What the reload itself causes is over by then: the Go
        # runtime's work after its collection (within a second) and the
        # journal's sync 5 s after the reload's log line.
        time.sleep(args.after_trim)
    mem = rollup(proc.pid)
    s0 = switches(proc.pid)
    time.sleep(args.idle)
    return mem, switches(proc.pid) - s0


def run_cron(args, d, text):
    write(f"{d}/crontab", "SHELL=/bin/sh\n")
    write(f"{d}/cron.d/bench", text)
    os.makedirs(f"{d}/spool", exist_ok=True)
    os.makedirs(f"{d}/run", exist_ok=True)
    script = ('mount --bind "$0/crontab" /etc/crontab && mount --bind "$0/cron.d" /etc/cron.d && '
              'mount --bind "$0/spool" /var/spool/cron/crontabs && mount --bind "$0/run" /run && exec "$@"')
    p = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script, d, args.cron, "-f"],
                         stderr=open(f"{d}/cron.log", "w"))
    try:
        # cron has read the file when it has written its pid file.
        mem, sw = measure(args, p, lambda: os.path.exists(f"{d}/run/crond.pid"))
        return mem["Pss"], sw
    finally:
        stop(p)


def run_tend(args, d, text):
    write(f"{d}/units/default.target", "[Unit]\nWants=timers.target\n")
    write(f"{d}/cron.d/bench", text)
    p = subprocess.Popen([args.tend, "run", "--units", f"{d}/units", "--runtime-dir", f"{d}/run",
                          "--journal-dir", f"{d}/journal", "--syslog-socket", "", "--inetd-conf", "",
                          "--xinetd-conf", "", "--crontab", f"{d}/cron.d"],
                         stderr=open(f"{d}/tend.log", "w"))

    def ready():
        if not os.path.exists(f"{d}/run/tend.sock"):
            return False
        out = subprocess.run([args.tend, "is-active", "timers.target", "--socket", f"{d}/run/tend.sock"],
                             capture_output=True, text=True).stdout
        return out.strip() == "active"
    try:
        mem, sw = measure(args, p, ready)
        return mem["Pss"], sw
    finally:
        stop(p)


def timer_units(d, n, spec, started):
    """n services and n timers; the timers are wanted by timers.target
    (started) or by bench-idle.target, which nothing starts (loaded)."""
    hour = (datetime.datetime.now().hour + 12) % 24
    u = f"{d}/units"
    write(f"{u}/default.target", "[Unit]\nWants=timers.target\n")
    write(f"{u}/bench-idle.target", "[Unit]\nDescription=never started\n")
    wants = f"{u}/{'timers' if started else 'bench-idle'}.target.wants"
    os.makedirs(wants)
    for i in range(n):
        when = spec or f"*-*-* {hour:02}:{i % 60:02}:{(i // 60) % 60:02}"
        write(f"{u}/j{i}.service", "[Service]\nType=oneshot\nExecStart=/bin/true\n")
        write(f"{u}/j{i}.timer", f"[Timer]\nOnCalendar={when}\n")
        os.symlink(f"../j{i}.timer", f"{wants}/j{i}.timer")


def heap_stats(path):
    """The runtime's figures in the text heap profile tend writes next to
    heap.pprof (HeapAlloc: heap after the reload's collection, with what
    writing the profile allocated; HeapLive, where tend writes it: the
    heap right after a collection, exact; HeapInuse: the spans holding
    it), in KiB; {} without one."""
    out = {}
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 4 and parts[1] in ("HeapAlloc", "HeapInuse", "HeapLive") and parts[2] == "=":
                    out[parts[1]] = int(parts[3]) // 1024
    except FileNotFoundError:
        pass
    return out


def run_units(args, d, started):
    timer_units(d, args.n, args.spec, started)
    p = subprocess.Popen([args.tend, "run", "--units", f"{d}/units", "--runtime-dir", f"{d}/run",
                          "--journal-dir", f"{d}/journal", "--syslog-socket", "", "--inetd-conf", "",
                          "--xinetd-conf", "", "--crontab", ""] +
                         (["--heap-profile", f"{d}/heap.pprof"] if args.heap_profile else []),
                         stderr=open(f"{d}/tend.log", "w"))
    sock = f"{d}/run/tend.sock"

    def ready():
        if not os.path.exists(sock):
            return False
        out = subprocess.run([args.tend, "is-active", "default.target", "--socket", sock],
                             capture_output=True, text=True).stdout
        return out.strip() == "active"
    try:
        def reload():
            subprocess.run([args.tend, "daemon-reload", "--socket", sock], check=True, timeout=600)
        mem, sw = measure(args, p, ready, reload if args.trim else None)
        mem.update(heap_stats(f"{d}/heap.pprof.txt"))
        out = subprocess.run([args.tend, "list-timers", "--socket", sock], capture_output=True, text=True).stdout
        waiting = sum(1 for line in out.splitlines() if ".timer" in line)
        return mem, sw, waiting
    finally:
        stop(p)


def units_main(args, top):
    """Alternating loaded/started runs; PSS per started timer."""
    rows = []
    for rep in range(args.reps):
        cell = {}
        for started in (False, True):
            d = f"{top}/units-{rep}-{'started' if started else 'loaded'}"
            os.makedirs(d)
            cell[started] = run_units(args, d, started)
        (m0, s0, w0), (m1, s1, w1) = cell[False], cell[True]
        if w1 != args.n or w0 != 0:
            sys.exit(f"timers listed: {w0} loaded, {w1} started; want 0 and {args.n}")
        rows.append({"loaded": m0, "started": m1, "switches_loaded": s0, "switches_started": s1,
                     "pss_per_timer": (m1["Pss"] - m0["Pss"]) * 1024 / args.n,
                     "anon_per_timer": (m1["Pss_Anon"] - m0["Pss_Anon"]) * 1024 / args.n,
                     "live_per_timer": (m1.get("HeapAlloc", 0) - m0.get("HeapAlloc", 0)) * 1024 / args.n})
    spec = args.spec or "distinct times"
    print(f"# timers beyond the unit: {args.n} timers + {args.n} services, OnCalendar={spec}, "
          f"idle window {args.idle} s, work dir {top}\n")
    print("| rep | PSS loaded / started KiB | of it anonymous KiB | live heap KiB (--heap-profile) "
          "| added B per started timer: PSS, anonymous, live heap | switches loaded / started |")
    print("|---|---|---|---|---|---|")
    for i, r in enumerate(rows):
        m0, m1 = r["loaded"], r["started"]
        live = f"{m0.get('HeapAlloc', '-')} / {m1.get('HeapAlloc', '-')}"
        print(f"| {i} | {m0['Pss']} / {m1['Pss']} | {m0['Pss_Anon']} / {m1['Pss_Anon']} | {live} | "
              f"{r['pss_per_timer']:.0f}, {r['anon_per_timer']:.0f}, {r['live_per_timer']:.0f} "
              f"| {r['switches_loaded']} / {r['switches_started']} |")
    json.dump(rows, open(f"{top}/timer-units.json", "w"), indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tend", default=f"{HERE}/.bin/tend")
    ap.add_argument("--cron", default="/usr/sbin/cron")
    ap.add_argument("-n", type=int, default=10000, help="crontab lines")
    ap.add_argument("--idle", type=int, default=30, help="idle window, seconds")
    ap.add_argument("--settle", type=float, default=10,
                    help="seconds to wait after start-up (tend syncs its journal 5 s after the last write)")
    ap.add_argument("--only", default="tend,cron", help="tend, cron (the crontab), units (timer units)")
    ap.add_argument("--reps", type=int, default=3, help="rounds of the units measure")
    ap.add_argument("--after-trim", type=float, default=6,
                    help="units: seconds between the daemon-reload and the measure (PSS, then the idle window)")
    ap.add_argument("--no-trim", dest="trim", action="store_false",
                    help="units: measure as boot left it, without the daemon-reload first")
    ap.add_argument("--heap-profile", action="store_true",
                    help="units: each run writes DIR/heap.pprof at its daemon-reload (go tool pprof -diff_base)")
    ap.add_argument("--spec", default="", help="one OnCalendar= for every timer (units; default distinct)")
    ap.add_argument("--no-build", action="store_true", help="use --tend as it is")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (cron runs in a private mount namespace)")
    if not args.no_build:
        os.makedirs(f"{HERE}/.bin", exist_ok=True)
        env = dict(os.environ, CGO_ENABLED="0")
        subprocess.run(["go", "build", "-o", args.tend, "./cmd/tend"], cwd=f"{HERE}/..", check=True, env=env)
    top = tempfile.mkdtemp(prefix="tend-bench-timers-")
    os.chmod(top, 0o755)
    if "units" in args.only.split(","):
        units_main(args, top)
    results = {}
    for tool, run in (("tend", run_tend), ("cron", run_cron)):
        if tool not in args.only.split(","):
            continue
        cells = {}
        for lines in (0, args.n):
            d = f"{top}/{tool}-{lines}"
            os.makedirs(d)
            cells[lines] = run(args, d, crontab(lines))
        (pss0, _), (pss, sw) = cells[0], cells[args.n]
        results[tool] = {"pss_empty_kib": pss0, "pss_kib": pss, "bytes_per_line": (pss - pss0) * 1024 / args.n,
                         "ctxt_switches": sw, "seconds": args.idle}
    if not results:
        return
    print(f"# timers: {args.n} crontab lines, idle window {args.idle} s, work dir {top}\n")
    print("| scheduler | PSS empty KiB | PSS with the crontab KiB | added B per line | context switches |")
    print("|---|---|---|---|---|")
    for tool, r in results.items():
        print(f"| {tool} | {r['pss_empty_kib']} | {r['pss_kib']} | {r['bytes_per_line']:.0f} | {r['ctxt_switches']} |")
    json.dump(results, open(f"{top}/timers.json", "w"), indent=1)


if __name__ == "__main__":
    main()
