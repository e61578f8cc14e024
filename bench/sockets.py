#!/usr/bin/env python3
"""Socket activation, side by side: tend, openbsd-inetd and xinetd.

The same echo service on 127.0.0.1 under each super-server, one at a
time: an external server per connection (/bin/cat on the socket, the
inetd "nowait" way; under tend an Accept=yes instance generated from
the very same inetd.conf line) and the in-process "internal" echo; plus
an Accept=no service under tend (a small python3 server that gets the
listener through LISTEN_FDS). bench/sockclient makes the connections
(one byte out, first byte back, close) and reports conn/s and the
p50/p99 of connect-to-first-byte latency; the script adds the
super-server's own CPU time per connection (from /proc/PID/stat: its
forks count, the servers it runs do not).

Then tend's idle cost: context switches of all its threads over 30 s
with 200 listening socket units, and its PSS per socket unit: the
growth when a second batch of 100 units is added (daemon-reload +
start), the first batch having paid the one-time costs; measured as
started (wherever the collector stands then: ±4 KiB per unit from run to
run) and after a no-op daemon-reload, which ends, as boot does, with a
collection that gives free pages back (the steady figure, with its
anonymous part); and as booted: a tend that boots with 200 socket units
wanted by its default target against one that boots with 100, once boot
settled (tend collects and gives free pages back then too). With
--heap-profile, tend's live heap per socket unit after the reloads (the
text heap profile's HeapLive), and DIR/idle/heap-100.pprof and
heap-200.pprof for `go tool pprof -diff_base`. --only minisuper runs the C floor (bench/minisuper.c:
accept, vfork, dup2, exec; no bookkeeping) on the external service.

Every rate limit is lifted for all three (inetd -R, nowait.MAX, xinetd
cps/instances; tend reads the same files). inetd's "internal" services
are looked up by name in /etc/services, so each daemon runs in a
private mount namespace where a bench services file maps echo to a high
port: nothing of the machine's is touched. Needs root, python3,
util-linux (unshare), xinetd, and openbsd-inetd (its binary may also be
unpacked from the .deb: see --openbsd-inetd).
"""
import argparse
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from timers import heap_stats

HERE = os.path.dirname(os.path.abspath(__file__))
# Below the ephemeral port range, where the client's TIME_WAIT sockets live.
EXT, INT, NOACC, IDLE = 24011, 24012, 24013, 24100

NOACCEPT_SERVER = r'''import os, socket
s = socket.socket(fileno=3)
while True:
    c, _ = s.accept()
    c.recv(16)
    c.sendall(b"x")
    c.close()
'''


def listening(port):
    """Whether something listens on TCP port (from /proc/net/tcp)."""
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(path) as f:
            for line in f.readlines()[1:]:
                fs = line.split()
                if fs[3] == "0A" and int(fs[1].split(":")[1], 16) == port:
                    return True
    return False


def wait_listening(port, proc, what):
    end = time.time() + 20
    while time.time() < end:
        if listening(port):
            return
        if proc.poll() is not None:
            sys.exit(f"{what} exited with {proc.returncode}")
        time.sleep(0.05)
    sys.exit(f"{what}: nothing listens on {port} after 20 s")


def in_namespace(services, argv, **kw):
    """Runs argv in a private mount namespace where /etc/services is
    the bench's; the pid is the daemon's (unshare and sh exec it)."""
    script = 'mount --bind "$0" /etc/services && exec "$@"'
    return subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script, services] + argv, **kw)


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def cpu_seconds(pid):
    """User + system CPU of process pid itself (not its waited-for
    children), from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def client(args, port, pid):
    """Measures with sockclient; adds the super-server's own CPU time per
    connection (its forks included, the servers' runs not)."""
    subprocess.run([args.client, "-addr", f"127.0.0.1:{port}", "-n", "50", "-c", "1"], check=True,
                   stdout=subprocess.DEVNULL)  # warm-up
    before = cpu_seconds(pid)
    out = subprocess.run([args.client, "-addr", f"127.0.0.1:{port}", "-n", str(args.n), "-c", str(args.c),
                          "-t", f"{args.t}s"], check=True, capture_output=True, text=True).stdout
    r = json.loads(out)
    r["cpu_ms_per_conn"] = (cpu_seconds(pid) - before) * 1000 / max(r["done"], 1)
    return r


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def tend_argv(args, d, units, inetd_conf):
    return [args.tend, "run", "--units", units, "--runtime-dir", f"{d}/run", "--journal-dir", f"{d}/journal",
            "--syslog-socket", f"{d}/syslog", "--inetd-conf", inetd_conf, "--xinetd-conf", ""]


def ctl(args, d, *verb):
    subprocess.run([args.tend, *verb, "--socket", f"{d}/run/tend.sock"], check=True, stdout=subprocess.DEVNULL)


def run_tend(args, d, services, inetd_conf, results):
    units = f"{d}/units"
    write(f"{units}/default.target", "[Unit]\nWants=noacc.socket sockets.target\n")
    write(f"{units}/noacc.socket", f"[Socket]\nListenStream=127.0.0.1:{NOACC}\nTriggerLimitIntervalSec=0\n")
    write(f"{d}/noacc.py", NOACCEPT_SERVER)
    write(f"{units}/noacc.service", f"[Service]\nExecStart=/usr/bin/python3 {d}/noacc.py\n")
    p = in_namespace(services, tend_argv(args, d, units, inetd_conf), stderr=open(f"{d}/tend.log", "w"))
    try:
        for port in (EXT, INT, NOACC):
            wait_listening(port, p, "tend")
        results["tend", "external"] = client(args, EXT, p.pid)
        results["tend", "internal"] = client(args, INT, p.pid)
        results["tend", "Accept=no"] = client(args, NOACC, p.pid)
    finally:
        stop(p)


def run_openbsd(args, d, services, inetd_conf, results):
    p = in_namespace(services, [args.openbsd_inetd, "-i", "-R", "1000000", inetd_conf],
                     stderr=open(f"{d}/openbsd-inetd.log", "w"))
    try:
        for port in (EXT, INT):
            wait_listening(port, p, "openbsd-inetd")
        results["openbsd-inetd", "external"] = client(args, EXT, p.pid)
        results["openbsd-inetd", "internal"] = client(args, INT, p.pid)
    finally:
        stop(p)


def run_xinetd(args, d, services, results):
    conf = f"{d}/xinetd.conf"
    write(conf, f"""defaults
{{
	instances = UNLIMITED
	per_source = UNLIMITED
	cps = 1000000 1
	log_type = FILE {d}/xinetd.log
	log_on_success =
	log_on_failure =
}}
service bench-ext
{{
	type = UNLISTED
	port = {EXT}
	bind = 127.0.0.1
	socket_type = stream
	protocol = tcp
	wait = no
	user = root
	server = /bin/cat
}}
service echo
{{
	type = INTERNAL UNLISTED
	id = echo-stream
	port = {INT}
	bind = 127.0.0.1
	socket_type = stream
	protocol = tcp
	wait = no
	user = root
}}
""")
    p = in_namespace(services, [args.xinetd, "-dontfork", "-f", conf, "-pidfile", f"{d}/xinetd.pid"],
                     stderr=open(f"{d}/xinetd.stderr", "w"))
    try:
        for port in (EXT, INT):
            wait_listening(port, p, "xinetd")
        results["xinetd", "external"] = client(args, EXT, p.pid)
        results["xinetd", "internal"] = client(args, INT, p.pid)
    finally:
        stop(p)


def run_minisuper(args, results, label="minisuper (C floor)", env=None):
    """The floor: bench/minisuper.c accepts, forks, dup2s and execs the
    same /bin/cat and does nothing else (no logging, limits or cgroup
    unless env asks for one per connection)."""
    p = subprocess.Popen([args.minisuper, "127.0.0.1", str(EXT), "/bin/cat", "cat"], env=env)
    try:
        wait_listening(EXT, p, "minisuper")
        results[label, "external"] = client(args, EXT, p.pid)
    finally:
        stop(p)


def own_cgroup2_dir():
    """This process's cgroup v2 directory (the unified hierarchy of a
    hybrid machine or the only one), or None without cgroup v2."""
    mnt = None
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            if fields[2] == "cgroup2":
                mnt = fields[1]
                break
    if mnt is None:
        return None
    with open("/proc/self/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                return mnt + line[3:].strip()
    return None


def run_minisuper_cg(args, results):
    """The floor with a cgroup per connection (minisuper with
    MINISUPER_CGROUP): what systemd-style per-instance groups cost a
    super-server that does nothing else. The groups live under a group of
    the run's own, removed at the end."""
    own = own_cgroup2_dir()
    if own is None:
        print("minisuper-cg: no cgroup v2 here; skipped", file=sys.stderr)
        return
    base = f"{own}/minisuper-cg-{os.getpid()}"
    os.mkdir(base)
    try:
        run_minisuper(args, results, "minisuper + cgroup each (C floor)",
                      dict(os.environ, MINISUPER_CGROUP=base))
    finally:
        # Best effort: a group still busy is named, not raised over the
        # measurement's own error.
        for sub in glob.glob(f"{base}/*/") + [base]:
            try:
                os.rmdir(sub)
            except OSError as e:
                if sub == base:
                    print(f"minisuper-cg: cannot remove {base}: {e}", file=sys.stderr)


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


def pss_kib(pid, field="Pss:"):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def pss_trimmed(args, d, pid, tag):
    """PSS and anonymous PSS after a daemon-reload with nothing changed:
    tend collects and gives back free pages after each reload (and
    after boot), so this is its steady figure, not wherever the
    collector stood after the last start."""
    ctl(args, d, "daemon-reload")
    time.sleep(args.settle)
    if os.path.exists(f"{d}/heap.pprof"):
        # Kept per batch for go tool pprof -diff_base.
        os.replace(f"{d}/heap.pprof", f"{d}/heap-{tag}.pprof")
    return pss_kib(pid), pss_kib(pid, "Pss_Anon:"), heap_stats(f"{d}/heap.pprof.txt")



def pss_booted(args, d, n):
    """PSS of a tend that booted with n listening socket units wanted by
    its default target, once boot settled (tend trims then)."""
    units = f"{d}/units"
    write(f"{units}/idle.service", "[Service]\nExecStart=/bin/true\n")
    wants = []
    for i in range(n):
        write(f"{units}/idle-{i}.socket",
              f"[Socket]\nListenStream=127.0.0.1:{IDLE + i}\nService=idle.service\n")
        wants.append(f"idle-{i}.socket")
    write(f"{units}/default.target", "[Unit]\nWants=" + " ".join(wants) + "\n")
    p = subprocess.Popen(tend_argv(args, d, units, ""), stderr=open(f"{d}/tend.log", "w"))
    try:
        for i in range(n):
            wait_listening(IDLE + i, p, "tend")
        time.sleep(args.settle)
        return pss_kib(p.pid), pss_kib(p.pid, "Pss_Anon:")
    finally:
        stop(p)


def run_booted(args, d, n=100):
    """PSS per socket unit as booted: tend booted with 2n units against
    tend booted with n, each a fresh daemon."""
    small = pss_booted(args, f"{d}/boot{n}", n)
    large = pss_booted(args, f"{d}/boot{2 * n}", 2 * n)
    return {"pss_booted_kib": [small[0], large[0]], "pss_anon_booted_kib": [small[1], large[1]],
            "pss_booted_per_socket_kib": (large[0] - small[0]) / n,
            "pss_anon_booted_per_socket_kib": (large[1] - small[1]) / n}


def run_idle(args, d, n=100):
    """PSS cost of n socket units, then wake-ups over args.idle s.

    A first batch of n units is added (daemon-reload + start) and only
    then is PSS taken before and after a second batch of n: the first
    reload and start fault in code and grow pools once, which is not a
    cost of each unit. Both batches' figures are reported."""
    units = f"{d}/units"
    write(f"{units}/default.target", "[Unit]\n")
    write(f"{units}/idle.service", "[Service]\nExecStart=/bin/true\n")
    heap = ["--heap-profile", f"{d}/heap.pprof"] if args.heap_profile else []
    p = subprocess.Popen(tend_argv(args, d, units, "") + heap, stderr=open(f"{d}/tend.log", "w"))

    def add(batch):
        wants = []
        for i in range(batch * n, (batch + 1) * n):
            write(f"{units}/idle-{i}.socket",
                  f"[Socket]\nListenStream=127.0.0.1:{IDLE + i}\nService=idle.service\n")
            wants.append(f"idle-{i}.socket")
        write(f"{units}/idle{batch}.target", "[Unit]\nWants=" + " ".join(wants) + "\n")
        ctl(args, d, "daemon-reload")
        ctl(args, d, "start", f"idle{batch}.target")
        for i in range(batch * n, (batch + 1) * n):
            wait_listening(IDLE + i, p, "tend")
        time.sleep(args.settle)

    try:
        end = time.time() + 20
        while not os.path.exists(f"{d}/run/tend.sock") and time.time() < end:
            time.sleep(0.05)
        time.sleep(args.settle)
        first = pss_kib(p.pid)
        add(0)
        before = pss_kib(p.pid)
        before_t, before_anon, before_heap = pss_trimmed(args, d, p.pid, n)
        add(1)
        after = pss_kib(p.pid)
        after_t, after_anon, after_heap = pss_trimmed(args, d, p.pid, 2 * n)
        s0 = switches(p.pid)
        time.sleep(args.idle)
        s1 = switches(p.pid)
        return {"pss_empty_kib": first, "pss_before_kib": before, "pss_after_kib": after,
                "pss_first_batch_per_socket_kib": (before - first) / n,
                "pss_per_socket_kib": (after - before) / n,
                "pss_trimmed_kib": [before_t, after_t], "pss_anon_trimmed_kib": [before_anon, after_anon],
                "pss_per_socket_trimmed_kib": (after_t - before_t) / n,
                "pss_anon_per_socket_trimmed_kib": (after_anon - before_anon) / n,
                "heap_kib": [before_heap, after_heap],
                "live_heap_per_socket_kib": (after_heap.get("HeapLive", 0) - before_heap.get("HeapLive", 0)) / n,
                "heap_inuse_per_socket_kib": (after_heap.get("HeapInuse", 0) - before_heap.get("HeapInuse", 0)) / n,
                "ctxt_switches": s1 - s0, "seconds": args.idle, "sockets": 2 * n}
    finally:
        stop(p)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tend", default=f"{HERE}/.bin/tend")
    ap.add_argument("--client", default=f"{HERE}/.bin/sockclient")
    ap.add_argument("--xinetd", default="/usr/sbin/xinetd")
    ap.add_argument("--openbsd-inetd", default="/usr/sbin/inetd",
                    help="openbsd-inetd's inetd (it conflicts with xinetd as a package; "
                         "`apt-get download openbsd-inetd && dpkg -x openbsd-inetd_*.deb DIR` gives DIR/usr/sbin/inetd)")
    ap.add_argument("-n", type=int, default=3000, help="connections per measurement")
    ap.add_argument("-c", type=int, default=4, help="concurrent connections")
    ap.add_argument("-t", type=int, default=30, help="time limit per measurement, seconds")
    ap.add_argument("--idle", type=int, default=30, help="idle window, seconds")
    ap.add_argument("--idle-units", type=int, default=100,
                    help="idle: socket units per batch (the PSS per unit is the growth from one batch to two; "
                         "PSS moves by a few hundred KiB from run to run, so 1000 divides that noise by 10)")
    ap.add_argument("--settle", type=float, default=5)
    ap.add_argument("--minisuper", default=f"{HERE}/.bin/minisuper",
                    help="the C floor (bench/minisuper.c, built with gcc unless it exists and --no-build)")
    ap.add_argument("--only", default="tend,openbsd-inetd,xinetd,idle",
                    help="comma-separated: tend, openbsd-inetd, xinetd, minisuper (the C floor), "
                         "minisuper-cg (the floor with a cgroup per connection), idle")
    ap.add_argument("--no-build", action="store_true", help="use --tend and --client as they are")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (kept anyway with --heap-profile)")
    ap.add_argument("--heap-profile", action="store_true",
                    help="idle: tend writes DIR/idle/heap.pprof(.txt) at each daemon-reload; "
                         "the live heap per socket (HeapLive: the heap right after a collection) is reported")
    args = ap.parse_args()
    only = args.only.split(",")
    if not args.no_build:
        os.makedirs(f"{HERE}/.bin", exist_ok=True)
        env = dict(os.environ, CGO_ENABLED="0")
        subprocess.run(["go", "build", "-o", args.tend, "./cmd/tend"], cwd=f"{HERE}/..", check=True, env=env)
        subprocess.run(["go", "build", "-o", args.client, "./bench/sockclient"], cwd=f"{HERE}/..", check=True, env=env)
    if ("minisuper" in only or "minisuper-cg" in only) and (not args.no_build or not os.path.exists(args.minisuper)):
        os.makedirs(os.path.dirname(args.minisuper), exist_ok=True)
        subprocess.run(["gcc", "-O2", "-pthread", "-o", args.minisuper, f"{HERE}/minisuper.c"], check=True)
    os.makedirs(f"{HERE}/results", exist_ok=True)
    d = tempfile.mkdtemp(prefix="tend-bench-sockets-")
    os.chmod(d, 0o755)
    try:
        services = f"{d}/services"
        write(services, f"echo\t\t{INT}/tcp\nbench-ext\t{EXT}/tcp\n")
        inetd_conf = f"{d}/inetd.conf"
        write(inetd_conf, f"127.0.0.1:bench-ext stream tcp nowait.1000000 root /bin/cat cat\n"
                          f"127.0.0.1:echo stream tcp nowait.1000000 root internal\n")
        results = {}
        if "tend" in only:
            os.makedirs(f"{d}/tend")
            run_tend(args, f"{d}/tend", services, inetd_conf, results)
        if "openbsd-inetd" in only:
            run_openbsd(args, d, services, inetd_conf, results)
        if "xinetd" in only:
            run_xinetd(args, d, services, results)
        if "minisuper" in only:
            run_minisuper(args, results)
        if "minisuper-cg" in only:
            run_minisuper_cg(args, results)
        idle = None
        if "idle" in only:
            os.makedirs(f"{d}/idle")
            idle = run_idle(args, f"{d}/idle", args.idle_units)
            idle.update(run_booted(args, f"{d}/idle", args.idle_units))

        print(f"# sockets: -n {args.n} -c {args.c} -t {args.t}\n")
        print("| super-server | service | conn/s | p50 ms | p99 ms | errors | its CPU ms/conn |")
        print("|---|---|---|---|---|---|---|")
        for (tool, case), r in results.items():
            print(f"| {tool} | {case} | {r['conn_per_s']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} | {r['cpu_ms_per_conn']:.3f} |")
        for case in ("external", "internal"):
            peers = [results[t, case] for t in ("openbsd-inetd", "xinetd") if (t, case) in results]
            floor = results.get(("minisuper (C floor)", case))
            if floor and peers:
                best = max(r["conn_per_s"] for r in peers)
                print(f"\n{case}: C floor / best peer conn/s = {floor['conn_per_s'] / best:.2f}× "
                      f"(the most any super-server gets here)")
            if ("tend", case) in results and peers:
                t = results["tend", case]
                best = max(r["conn_per_s"] for r in peers)
                p99 = min(r["p99_ms"] for r in peers)
                print(f"\n{case}: tend / best peer conn/s = {t['conn_per_s'] / best:.2f}× (goal ≥ 1.3), "
                      f"p99 {t['p99_ms']:.2f} ms vs best {p99:.2f} ms (goal ≤)")
        if idle:
            print(f"\nidle: {idle['sockets']} socket units; tend PSS {idle['pss_empty_kib']} → {idle['pss_before_kib']} "
                  f"(first {idle['sockets'] // 2}: {idle['pss_first_batch_per_socket_kib']:.1f} KiB each) → {idle['pss_after_kib']} KiB "
                  f"(next {idle['sockets'] // 2}: {idle['pss_per_socket_kib']:.1f} KiB per socket, goal < 10); "
                  f"{idle['ctxt_switches']} context switches in {idle['seconds']} s (goal 0)")
            print(f"idle, after a no-op daemon-reload's trim: PSS {idle['pss_trimmed_kib'][0]} → {idle['pss_trimmed_kib'][1]} KiB, "
                  f"{idle['pss_per_socket_trimmed_kib']:.1f} KiB per socket (anonymous: {idle['pss_anon_per_socket_trimmed_kib']:.1f})")
            print(f"idle, as booted (tend booted with {idle['sockets'] // 2} and with {idle['sockets']} units): PSS "
                  f"{idle['pss_booted_kib'][0]} → {idle['pss_booted_kib'][1]} KiB, {idle['pss_booted_per_socket_kib']:.1f} KiB "
                  f"per socket (anonymous: {idle['pss_anon_booted_per_socket_kib']:.1f})")
            if args.heap_profile:
                print(f"idle, live heap per socket {idle['live_heap_per_socket_kib']:.2f} KiB, "
                      f"heap spans in use {idle['heap_inuse_per_socket_kib']:.2f} KiB")
        json.dump({"results": {f"{k[0]}/{k[1]}": v for k, v in results.items()}, "idle": idle},
                  open(f"{HERE}/results/sockets.json", "w"),
                  indent=1)

    finally:
        # The work dir holds only sockets, unit files and logs, unless
        # heap profiles were asked for.
        if args.keep or args.heap_profile:
            print(f"# work dir kept: {d}")
        else:
            shutil.rmtree(d, ignore_errors=True)

if __name__ == "__main__":
    main()
