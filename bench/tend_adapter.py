"""tend as one more column of the shared peer benchmarks (../shared/bench/peers).

Loaded by the harness through PEERS_EXTRA; defines adapters and registers them:
  tend           each service is a unit running the same ./run script as the peers, with
                 Restart=always, RestartSec=0 and no start limit (pure restart latency)
  tend-defaults  the same with tend's defaults: RestartSec=100ms and the start limit
                 (5 starts in 10 s), i.e. how a crash loop is throttled out of the box
  tend-svdir     the peers' own service directories, run as they are by `tend run --svdir`
                 (runsv's rules: restarted at once, or a second later if ./run lasted < 1 s)
and one column of logs.py (register_log_variant):
  tend journal   the producer is a unit; its stdout goes through tend's pipe into the journal
                 (timestamped, crash-safe records, tend's defaults: the fd holder on, its spool
                 in a runtime directory on tmpfs as /run is); export() reads it back with
                 `tend logs --directory -o short-iso-precise`, whose prefix logs.py checks
TEND_BIN names the binary (bench/run.sh builds it).
"""
import atexit
import hashlib
import os
import shutil
import subprocess
import time

TEND_BIN = os.environ.get("TEND_BIN", "tend")

# The harness ends every tree with SIGKILL, so tend cannot remove its cgroups; left
# behind by the thousand they slow fork for everything after (and falsify the next
# run). The runtime directories used are remembered and their cgroup subtrees removed
# at exit, after the harness's own teardown (registered later, so it runs earlier).
_runtimes = set()


def _runtime(rt):
    _runtimes.add(os.path.normpath(rt))
    return rt


def _cgroup_base(rt):
    """tend's cgroup subtree for an instance with --runtime-dir rt (daemon.CgroupBaseFor)."""
    return "tend-" + hashlib.sha256(rt.encode()).hexdigest()[:12]


def _own_groups():
    """The adapter's own group in each v1 hierarchy: tend inherits it and makes its
    v1 groups under it (a memory group below the root when the harness runs in one)."""
    out = []
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            for ctrl in ctrls.split(","):
                d = os.path.join("/sys/fs/cgroup", ctrl.removeprefix("name=")) + path
                if ctrl and path != "/" and os.path.isdir(d):
                    out.append(d)
    return out


def _remove_cgroups():
    roots = ["/sys/fs/cgroup"] + [e.path for e in os.scandir("/sys/fs/cgroup") if e.is_dir()] + _own_groups()
    for rt in _runtimes:
        for root in roots:
            top = os.path.join(root, _cgroup_base(rt))
            if not os.path.isdir(top):
                continue
            for _ in range(100):            # a killed process leaves its group a moment later
                for d, _dirs, _files in os.walk(top, topdown=False):
                    try:
                        os.rmdir(d)
                    except OSError:
                        pass
                if not os.path.exists(top):
                    break
                time.sleep(0.02)


atexit.register(_remove_cgroups)


class Tend:
    def __init__(self, name="tend", defaults=False, binary=None):
        self.name = name
        self.defaults = defaults
        self.bin = binary or TEND_BIN

    def prepare(self, d, services):
        write_services(f"{d}/sv", services)          # the harness's run scripts, as for every peer
        units = f"{d}/units"
        os.makedirs(units, exist_ok=True)
        restart = "" if self.defaults else "RestartSec=0\n"
        limit = "" if self.defaults else "StartLimitIntervalSec=0\n"
        for name in services:
            with open(f"{units}/{name}.service", "w") as f:
                f.write(f"[Unit]\n{limit}[Service]\nExecStart={d}/sv/{name}/run\n"
                        f"Restart=always\n{restart}")
        with open(f"{units}/default.target", "w") as f:
            f.write("[Unit]\nDescription=benchmark services\n")
            for name in services:
                f.write(f"Wants={name}.service\n")

    def argv(self, d, n):
        return [self.bin, "run", "--units", f"{d}/units", "--runtime-dir", _runtime(f"{d}/run"),
                "--journal-dir", f"{d}/journal", "--log-level", "warn"]


class TendSvdir:
    """The same service directories runit and daemontools run, under tend's --svdir scan."""
    def __init__(self, name="tend-svdir", binary=None):
        self.name = name
        self.bin = binary or TEND_BIN

    def prepare(self, d, services):
        write_services(f"{d}/sv", services)
        os.makedirs(f"{d}/units", exist_ok=True)     # no unit files: only the directories

    def argv(self, d, n):
        return [self.bin, "run", "--units", f"{d}/units", "--svdir", f"{d}/sv",
                "--runtime-dir", _runtime(f"{d}/run"), "--journal-dir", f"{d}/journal", "--log-level", "warn"]


register(Tend())
register(Tend("tend-defaults", defaults=True))
register(TendSvdir())
# An older build alongside in the same run (TEND_BASE_BIN=/tmp/tend-main, then
# TOOLS=tend-base,tend,…): before/after figures that share the machine's load.
if os.environ.get("TEND_BASE_BIN"):
    register(Tend("tend-base", binary=os.environ["TEND_BASE_BIN"]))
    register(TendSvdir("tend-svdir-base", binary=os.environ["TEND_BASE_BIN"]))


def _tmpfs_runtime(d):
    """A runtime directory for the instance working in d, on a tmpfs as tend's default /run/tend
    is on most systems (the fd holder's spool lives there): under /run if that is a tmpfs here,
    else under /dev/shm; removed at exit."""
    with open("/proc/mounts") as f:
        tmpfs = {m.split()[1] for m in f if m.split()[2] == "tmpfs"}
    base = "/run" if "/run" in tmpfs else "/dev/shm"
    rt = os.path.join(base, "tend-logs-" + hashlib.sha256(d.encode()).hexdigest()[:12])
    shutil.rmtree(rt, ignore_errors=True)
    _tmp_runtimes.add(rt)
    return rt


_tmp_runtimes = set()
atexit.register(lambda: [shutil.rmtree(rt, ignore_errors=True) for rt in _tmp_runtimes])


class TendLogs:
    """logs.py's service variant: the producer runs as a tend unit and its stdout is captured
    into the journal, which lives in the output directory logs.py watches (logdir)."""
    name = "tend journal"
    logdir = None

    def __init__(self, binary=None):
        self.bin = binary or TEND_BIN

    def prepare(self, d, services):
        write_services(f"{d}/sv", services)
        units = f"{d}/units"
        os.makedirs(units, exist_ok=True)
        for name in services:
            with open(f"{units}/{name}.service", "w") as f:
                f.write(f"[Service]\nType=oneshot\nExecStart={d}/sv/{name}/run\n")
        with open(f"{units}/default.target", "w") as f:
            f.write("[Unit]\n" + "".join(f"Wants={n}.service\n" for n in services))

    def argv(self, d, n):
        # The cap and free-space limits are lifted so that no entry is vacuumed mid-run;
        # nothing else of the machine's (syslog, crontabs, kernel log) is read. logs.py takes
        # "no descendant left" as the producer's end, and tend's fd holder is a child of tend
        # for as long as tend runs: so tend exits with the producer's unit (--exit-with), which
        # stores what the pipe still holds, seals the segment (fsync, index: the last size
        # change logs.py sees, so it is timed) and ends the holder. The fd holder and its
        # spool stay on, as by default, with the runtime directory on a tmpfs as /run is.
        return [self.bin, "run", "--units", f"{d}/units", "--runtime-dir", _runtime(_tmpfs_runtime(d)),
                "--journal-dir", self.logdir, "--syslog-socket", "", "--crontab", "", "--kmsg=false",
                "--journal-max-use", "64G", "--journal-per-unit-max-use", "64G", "--journal-keep-free", "1",
                "--log-level", "warn", "--exit-with", "prod.service"]

    def export(self, logdir, dest):
        """Every captured line, oldest first, with the journal's timestamp in front."""
        with open(f"{dest}/export", "wb") as out:
            subprocess.run([self.bin, "logs", "--directory", logdir, "-u", "prod", "--no-pager", "--no-hostname",
                            "-o", "short-iso-precise", "--all", "_TRANSPORT=stdout"], stdout=out, check=True)


# "2026-12-02T10:37:14.123456+0000 run[1234]: " (short-iso-precise without the host name)
TEND_PREFIX = rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d{4} \S+: "
register_log_variant("tend journal", TendLogs(), TEND_PREFIX)
if os.environ.get("TEND_BASE_BIN"):
    register_log_variant("tend-base journal", TendLogs(os.environ["TEND_BASE_BIN"]), TEND_PREFIX)
