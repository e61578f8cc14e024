#!/bin/bash
# Time to the first service, old and new builds alternating: for each run, the
# wall time from the exec of `tend run` to the first service's exec of sleep
# (kernel exec events), and the CPU tend spent before it (cpu-clock samples at
# 4 kHz of all of tend's threads and the forked child before its exec). The CPU
# figure hardly changes with the load of the machine; the wall figure does, so
# compare minima and medians over several runs. Units as bench/tend_adapter.py
# makes them, work directory on /dev/shm (a tmpfs, as the harness uses).
# Needs root and perf.
#
# usage: bench/firstfork_ab.sh N REPS BINARY...   (NICE=-20 runs tend at that nice value: on a
#        machine busy with other work the wall figure then comes nearer what a quiet one gives)
set -euo pipefail
n=$1 reps=$2; shift 2
d=$(mktemp -d /dev/shm/tend-firstfork.XXXXXX)
trap 'rm -rf "$d"' EXIT
mkdir -p "$d/units"
{
	printf '[Unit]\nDescription=benchmark services\n'
	for i in $(seq -f %04g 0 $((n - 1))); do echo "Wants=s$i.service"; done
} >"$d/units/default.target"
for i in $(seq -f %04g 0 $((n - 1))); do
	mkdir -p "$d/sv/s$i"
	printf '#!/bin/sh\nexec sleep 1000000\n' >"$d/sv/s$i/run"
	chmod +x "$d/sv/s$i/run"
	printf '[Unit]\nStartLimitIntervalSec=0\n[Service]\nExecStart=%s\nRestart=always\nRestartSec=0\n' \
		"$d/sv/s$i/run" >"$d/units/s$i.service"
done
one() { # binary → one line of figures
	local bin=$1 data=$d/perf.data
	rm -rf "$d/run" "$d/journal"
	nice -n "${NICE:-0}" perf record -q -F 4000 -k mono -e cpu-clock -e sched:sched_process_exec -o "$data" -- \
		"$bin" run --units "$d/units" --runtime-dir "$d/run" --journal-dir "$d/journal" --log-level warn 2>/dev/null &
	local rec=$! tend=
	while [ -z "$tend" ]; do tend=$(pgrep -P "$rec" || true); done
	# every service up (or 20 s), then stop tend: it stops its services
	for _ in $(seq 200); do
		[ "$(pgrep -P "$tend" -c -x sleep || true)" -ge "$n" ] && break
		sleep 0.1
	done
	kill -TERM "$tend"
	wait "$rec" || true
	perf script -i "$data" -F comm,time,event,trace 2>/dev/null | python3 -c '
import sys
t0 = first = None
cpu = 0
for l in sys.stdin:
    t = float(next(x for x in l.split() if x.endswith(":") and x[:-1].replace(".", "").isdigit())[:-1])
    t0 = t if t0 is None else t0
    if first is not None:
        continue  # read to the end: perf must not die of a broken pipe
    if "sched_process_exec" in l:
        if "/sleep " in l:
            first = t
    elif "cpu-clock" in l:
        cpu += 1
print("%s N=%s wall_to_first_ms=%.1f cpu_before_ms=%.2f" % (sys.argv[1], sys.argv[2], (first - t0) * 1e3, cpu / 4))
' "$bin" "$n"
}
for _ in $(seq "$reps"); do
	for bin in "$@"; do one "$bin"; done
done
