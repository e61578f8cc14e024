#!/usr/bin/env python3
"""Syslog daemon throughput, side by side: tend and rsyslog.

Each daemon in turn receives N messages from bench/syslogsend over UDP and
TCP (as a LOGHOST on 127.0.0.1) and over its own /dev/log-style unix
socket, and writes them into files by the same syslog.conf selector lines:

    local0.*                       -OUT/bench.log     every benchmark message
    *.info;local0.none;mail.none   -OUT/messages      none of them (a selector to evaluate)
    mail.*                         -OUT/mail.log      none of them

rsyslog gets the same lines after the RainerScript that loads its inputs
(imudp, imtcp, imuxsock with rate limiting off) and sets the traditional
file format, which is what tend writes; tend runs with --syslog-rate-limit 0.
rsyslog's UDP input gets the 8 MiB receive buffer tend asks for on its own
(rcvbufSize): with the system's default (~208 KiB) rsyslog lost a third of
the datagrams of a run where it lost none with 8 MiB, and the UDP row
compared the buffers, not the daemons.

For each run: messages per second written to bench.log (from the sender's
start to the last line appearing) beside the sender's own rate, lines lost
(UDP may lose; TCP and the unix socket must not), the daemon's CPU time per million messages
(utime+stime from /proc), and its largest PSS sampled during the run.
Every line of bench.log is checked: seq numbers in order, none twice.

Needs root (the daemons' sockets and /proc), rsyslog, Go.
usage: bench/syslog.py [--n 1000000] [--reps 3] [--only tend,rsyslog] [--protos udp,tcp,unix]
                       [--tend BIN] [--tend-base OLDBIN] [--tend-arg=--cpu-profile=/tmp/tend-{proto}.prof] [--keep-lost]
                       [--udp-batch 64] [--udp-gso 16]

The UDP sender hands the kernel 64 datagrams per sendmmsg(2) and, by
default, 16 equal-length messages per datagram for the kernel to cut into
one datagram each (UDP_SEGMENT): the daemons receive ordinary datagrams,
one message each, as from any sender, but the sender's CPU per message
falls from ~3.6 us (one send per datagram) to ~0.6 us, so that on two
cores the daemons, not the sender, set the rate. Both daemons get the same
sender. Faster than either daemon reads, it makes them lose datagrams:
the written rate is then what the daemon keeps up with, and its loss is
reported beside it. --udp-gso 1 --udp-batch 1 is the old sender.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
UDP_PORT, TCP_PORT = 25514, 25515

RULES = """local0.*\t\t\t\t-{out}/bench.log
*.info;local0.none;mail.none\t\t-{out}/messages
mail.*\t\t\t\t\t-{out}/mail.log
"""

RSYSLOG_HEAD = """global(workDirectory="{work}" maxMessageSize="8k")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="{sock}" ratelimit.interval="0" CreatePath="on")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="{udp}" rcvbufSize="8m")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="{tcp}")
module(load="builtin:omfile" template="RSYSLOG_TraditionalFileFormat")
"""


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    fields = s[s.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    except FileNotFoundError:
        return 0


def wait_for(cond, what, proc, limit=20):
    end = time.time() + limit
    while time.time() < end:
        if cond():
            return
        if proc.poll() is not None:
            sys.exit(f"{what}: the daemon exited with {proc.returncode}")
        time.sleep(0.02)
    sys.exit(f"{what}: not ready after {limit} s")


def listening(port, udp=False):
    for path in (("/proc/net/udp",) if udp else ("/proc/net/tcp",)):
        with open(path) as f:
            for line in f.readlines()[1:]:
                fs = line.split()
                if int(fs[1].split(":")[1], 16) == port and (udp or fs[3] == "0A"):
                    return True
    return False


def start(daemon, work, tend_bin, extra=()):
    out, sock = f"{work}/out", f"{work}/log"
    os.makedirs(out)
    rules = RULES.format(out=out)
    if daemon.startswith("tend"):
        units = f"{work}/units"
        os.makedirs(units)
        with open(f"{units}/default.target", "w") as f:
            f.write("[Unit]\n")
        with open(f"{work}/syslog.conf", "w") as f:
            f.write(rules)
        argv = [tend_bin, "run", "--units", units, "--runtime-dir", f"{work}/run", "--journal-dir", f"{work}/journal",
                "--syslog-socket", sock, "--syslog-conf", f"{work}/syslog.conf", "--crontab", "", "--kmsg=false",
                "--syslog-listen", f"udp://127.0.0.1:{UDP_PORT}", "--syslog-listen", f"tcp://127.0.0.1:{TCP_PORT}",
                "--syslog-rate-limit", "0", "--log-level", "warn", *extra]
    else:
        with open(f"{work}/rsyslog.conf", "w") as f:
            f.write(RSYSLOG_HEAD.format(work=work, sock=sock, udp=UDP_PORT, tcp=TCP_PORT) + rules)
        argv = ["rsyslogd", "-n", "-f", f"{work}/rsyslog.conf", "-i", f"{work}/rsyslogd.pid"]
    p = subprocess.Popen(argv, stderr=open(f"{work}/daemon.err", "w"))
    wait_for(lambda: os.path.exists(sock) and listening(TCP_PORT) and listening(UDP_PORT, udp=True), daemon, p)
    return p, out, sock


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


SEQ = re.compile(rb"seq-(\d{10}) ")


def check(path, n):
    """(lines, in order and unique) of bench.log."""
    last, lines, ok = -1, 0, True
    with open(path, "rb") as f:
        for line in f:
            m = SEQ.search(line)
            lines += 1
            if not m:
                ok = False
                continue
            v = int(m.group(1))
            ok = ok and v > last
            last = v
    return lines, ok


def one(daemon, proto, n, tend_bin, sender, extra=(), keep_lost=False, sender_args=()):
    work = tempfile.mkdtemp(prefix=f"syslogbench-{daemon}-")
    lines = n
    try:
        extra = [a.replace("{proto}", proto) for a in extra]
        p, out, sock = start(daemon, work, tend_bin, extra)
        addr = {"udp": f"127.0.0.1:{UDP_PORT}", "tcp": f"127.0.0.1:{TCP_PORT}", "unix": sock}[proto]
        cpu0, pss = cpu_s(p.pid), pss_kib(p.pid)
        t0 = time.monotonic()
        snd = subprocess.Popen([sender, "-proto", proto, "-addr", addr, "-n", str(n), *sender_args],
                               stdout=subprocess.PIPE)
        bench = f"{out}/bench.log"
        last, t_last = -1, t0
        while True:
            size = os.path.getsize(bench) if os.path.exists(bench) else 0
            now = time.monotonic()
            pss = max(pss, pss_kib(p.pid))
            if size != last:
                last, t_last = size, now
            elif snd.poll() is not None and (now - t_last > 3.0 or count_lines(bench) >= n):
                break
            time.sleep(0.005)
        sent = json.loads(snd.stdout.read())
        cpu = cpu_s(p.pid) - cpu0
        lines, ordered = check(bench, n)
        stop(p)
        # Lines that only appear once the daemon stopped were late (a stall
        # longer than the 3 s wait), not lost.
        late = count_lines(bench) - lines
        return {"daemon": daemon, "proto": proto, "sent": n, "written": lines, "lost": n - lines, "late": late,
                "in_order_unique": ordered, "seconds": t_last - t0, "msgs_per_s": lines / (t_last - t0),
                "cpu_s_per_million": cpu / lines * 1e6 if lines else None, "max_pss_mib": pss / 1024,
                "sender_msgs_per_s": sent["msgs_per_s"]}
    finally:
        if keep_lost and lines < n and proto != "udp":
            # The journal and files, to tell where the lines went.
            print(f"{daemon} {proto}: lost lines; kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only", default="tend,rsyslog")
    ap.add_argument("--protos", default="udp,tcp,unix")
    ap.add_argument("--tend", default="", help="tend binary (default: build it)")
    ap.add_argument("--tend-base", default="",
                    help="a second tend binary (an older build), run as daemon tend-base alongside tend")
    ap.add_argument("--tend-arg", action="append", default=[],
                    help="extra argument to tend run, repeatable; {proto} is replaced "
                         "(--tend-arg=--cpu-profile=/tmp/tend-{proto}.prof)")
    ap.add_argument("--keep-lost", action="store_true",
                    help="keep the work directory (journal, files) of a TCP or unix run that lost lines")
    ap.add_argument("--udp-batch", type=int, default=64,
                    help="UDP datagrams per sendmmsg call of the sender (1: one send per datagram)")
    ap.add_argument("--udp-gso", type=int, default=16,
                    help="UDP messages per datagram the sender hands the kernel to cut up "
                         "(UDP_SEGMENT; 1: off, one datagram per message)")
    a = ap.parse_args()
    bindir = os.path.join(HERE, ".bin")
    os.makedirs(bindir, exist_ok=True)
    tend_bin, sender = a.tend or os.path.join(bindir, "tend"), os.path.join(bindir, "syslogsend")
    root = os.path.dirname(HERE)
    env = dict(os.environ, CGO_ENABLED="0")
    if not a.tend:
        subprocess.run(["go", "build", "-o", tend_bin, "./cmd/tend"], cwd=root, env=env, check=True)
    subprocess.run(["go", "build", "-o", sender, "./bench/syslogsend"], cwd=root, env=env, check=True)
    if a.tend_base and "tend-base" not in a.only:
        a.only = "tend-base," + a.only
    results = []
    for rep in range(a.reps):
        for proto in a.protos.split(","):
            for daemon in a.only.split(","):
                bin_ = a.tend_base if daemon == "tend-base" else tend_bin
                r = one(daemon, proto, a.n, bin_, sender, a.tend_arg if daemon.startswith("tend") else (),
                        a.keep_lost, ["-batch", str(a.udp_batch), "-gso", str(a.udp_gso)])
                print(json.dumps(r), file=sys.stderr)
                results.append(r)
    print(f"\n{a.n} messages of ~150 bytes, median of {a.reps}\n")
    # The sender's own rate beside the written one: a daemon that keeps up
    # writes at the sender's rate, and then the rate compares senders.
    print("| daemon | proto | msgs/s written | sender msgs/s | lost (max) | in order, unique | CPU s per 1M msgs | max PSS MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for proto in a.protos.split(","):
        for daemon in a.only.split(","):
            rs = [r for r in results if r["daemon"] == daemon and r["proto"] == proto]
            med = lambda k: sorted(r[k] for r in rs)[len(rs) // 2]
            print(f"| {daemon} | {proto} | {med('msgs_per_s'):,.0f} | {med('sender_msgs_per_s'):,.0f} | {max(r['lost'] for r in rs)} | "
                  f"{all(r['in_order_unique'] for r in rs)} | {med('cpu_s_per_million'):.2f} | {med('max_pss_mib'):.1f} |")


if __name__ == "__main__":
    main()
