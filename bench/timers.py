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


def pss_kib(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def measure(args, proc, ready):
    """PSS once ready and settled, then context switches over the window."""
    end = time.time() + 120
    while not ready() and time.time() < end:
        if proc.poll() is not None:
            sys.exit(f"daemon exited with {proc.returncode}")
        time.sleep(0.1)
    time.sleep(args.settle)
    pss = pss_kib(proc.pid)
    s0 = switches(proc.pid)
    time.sleep(args.idle)
    return pss, switches(proc.pid) - s0


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
        return measure(args, p, lambda: os.path.exists(f"{d}/run/crond.pid"))
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
        return measure(args, p, ready)
    finally:
        stop(p)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tend", default=f"{HERE}/.bin/tend")
    ap.add_argument("--cron", default="/usr/sbin/cron")
    ap.add_argument("-n", type=int, default=10000, help="crontab lines")
    ap.add_argument("--idle", type=int, default=30, help="idle window, seconds")
    ap.add_argument("--settle", type=float, default=10,
                    help="seconds to wait after start-up (tend syncs its journal 5 s after the last write)")
    ap.add_argument("--only", default="tend,cron")
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
    print(f"# timers: {args.n} crontab lines, idle window {args.idle} s, work dir {top}\n")
    print("| scheduler | PSS empty KiB | PSS with the crontab KiB | added B per line | context switches |")
    print("|---|---|---|---|---|")
    for tool, r in results.items():
        print(f"| {tool} | {r['pss_empty_kib']} | {r['pss_kib']} | {r['bytes_per_line']:.0f} | {r['ctxt_switches']} |")
    json.dump(results, open(f"{top}/timers.json", "w"), indent=1)


if __name__ == "__main__":
    main()
