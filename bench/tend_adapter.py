"""tend as one more column of the shared peer benchmarks (../shared/bench/peers).

Loaded by the harness through PEERS_EXTRA; defines adapters and registers them:
  tend           each service is a unit running the same ./run script as the peers, with
                 Restart=always, RestartSec=0 and no start limit (pure restart latency)
  tend-defaults  the same with tend's defaults: RestartSec=100ms and the start limit
                 (5 starts in 10 s), i.e. how a crash loop is throttled out of the box
  tend-svdir     the peers' own service directories, run as they are by `tend run --svdir`
                 (runsv's rules: restarted at once, or a second later if ./run lasted < 1 s)
TEND_BIN names the binary (bench/run.sh builds it).
"""
import os

TEND_BIN = os.environ.get("TEND_BIN", "tend")


class Tend:
    def __init__(self, name="tend", defaults=False):
        self.name = name
        self.defaults = defaults

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
        return [TEND_BIN, "run", "--units", f"{d}/units", "--runtime-dir", f"{d}/run",
                "--journal-dir", f"{d}/journal", "--log-level", "warn"]


class TendSvdir:
    """The same service directories runit and daemontools run, under tend's --svdir scan."""
    name = "tend-svdir"

    def prepare(self, d, services):
        write_services(f"{d}/sv", services)
        os.makedirs(f"{d}/units", exist_ok=True)     # no unit files: only the directories

    def argv(self, d, n):
        return [TEND_BIN, "run", "--units", f"{d}/units", "--svdir", f"{d}/sv",
                "--runtime-dir", f"{d}/run", "--journal-dir", f"{d}/journal", "--log-level", "warn"]


register(Tend())
register(Tend("tend-defaults", defaults=True))
register(TendSvdir())
