#!/bin/bash
# CPU a whole bring-up costs: tend's own (all its threads) and its services'
# (their cgroups), read once every service is up and idle. Unlike wall time,
# this hardly changes with what else loads the machine, so two builds can be
# compared on a busy one. Needs root.
#
# usage: bench/bringup_cpu.sh TEND_BINARY N [units|svdir]   (WAIT=seconds, default 10;
#        BRINGUP_DIR=where the work directory goes, default /tmp: a tmpfs gives the harness's case;
#        PERF=FILE also records tend under `perf record -F 2000 -g` into FILE and prints its
#        samples of the WAIT seconds after its start by category, bench/perf_by_category.py)
set -euo pipefail
bin=$1 n=$2 mode=${3:-units} wait=${WAIT:-10}
d=$(mktemp -d "${BRINGUP_DIR:-/tmp}/tend-bringup-cpu.XXXXXX")
trap 'rm -rf "$d"' EXIT
mkdir -p "$d/units"
for i in $(seq -f %04g 0 $((n - 1))); do
	mkdir -p "$d/sv/s$i"
	printf '#!/bin/sh\nexec sleep 1000000\n' >"$d/sv/s$i/run"
	chmod +x "$d/sv/s$i/run"
	if [ "$mode" = units ]; then
		printf '[Unit]\nStartLimitIntervalSec=0\n[Service]\nExecStart=%s\nRestart=always\nRestartSec=0\n' \
			"$d/sv/s$i/run" >"$d/units/s$i.service"
		echo "Wants=s$i.service" >>"$d/wants"
	fi
done
extra=()
if [ "$mode" = units ]; then
	{ echo '[Unit]'; cat "$d/wants"; } >"$d/units/default.target"
else
	extra=(--svdir "$d/sv")
fi
cmd=("$bin" run --units "$d/units" "${extra[@]}" --runtime-dir "$d/run" --journal-dir "$d/journal" --log-level warn)
if [ -n "${PERF:-}" ]; then
	perf record -q -F 2000 -g -o "$PERF" -- "${cmd[@]}" 2>/dev/null &
	perfpid=$!
	until pid=$(pgrep -P "$perfpid"); do sleep 0.01; done
else
	"${cmd[@]}" 2>/dev/null &
	pid=$!
fi
sleep "$wait"
up=$(pgrep -P "$pid" -x sleep | wc -l)
group=$(sed -n 's/^0:://p' "/proc/$(pgrep -P "$pid" -x sleep | head -1)/cgroup")
root=/sys/fs/cgroup
[ -d "$root/unified" ] && root=$root/unified
services=$(awk '/^usage_usec/ { print int($2 / 1000) }' "$root$(dirname "$group")/cpu.stat")
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' "/proc/$1/stat"; }
self=$(cpu_ms "$pid")
# The fd holder (a process of its own, tend's child) takes every log pipe's read end.
holder=$(pgrep -P "$pid" -x tend-fdholder | head -1 || true)
holder_ms=0
[ -n "$holder" ] && holder_ms=$(cpu_ms "$holder")
echo "$(basename "$bin") $mode N=$n up=$up tend_cpu_ms=$self holder_cpu_ms=$holder_ms services_cpu_ms=$services"
kill "$pid"
if [ -n "${PERF:-}" ]; then
	wait "$perfpid" || true
	t0=$(perf script -i "$PERF" -F time 2>/dev/null | head -1 | tr -d ' :' || true) # perf ends by SIGPIPE
	"$(dirname "$0")/perf_by_category.py" "$PERF" "$pid" "$t0,$(echo "$t0 + $wait - 0.5" | bc)"
else
	wait "$pid" || true
fi
