#!/bin/bash
# The bring-up floor of this machine: N copies of the harness's run script
# started by bench/floor/spawnfloor.c, a launcher that does nothing but
# clone3 and exec (no state, no logs, no supervision). Prints, per N and
# repetition, the time until all N run their final `sleep`, and the
# payload's CPU per service; the floor against which every supervisor's
# bring-up (bench/run.sh bringup) can be read.
#
# usage: sudo bench/floor.sh [N ...]   (default: 100 1000; 3 repetitions: REPS=)
# Needs root, a C compiler, and a cgroup2 mount (/sys/fs/cgroup or /sys/fs/cgroup/unified).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/spawnfloor.XXXXXX)
cc -O2 -o "$work/spawnfloor" "$here/floor/spawnfloor.c"
printf '#!/bin/sh\nexec sleep 1000000\n' > "$work/run"
chmod +x "$work/run"
if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then root=/sys/fs/cgroup; else root=/sys/fs/cgroup/unified; fi
group="$root/spawnfloor-$$"
mkdir "$group"
cleanup() {
	[ -f "$group/cgroup.kill" ] && echo 1 > "$group/cgroup.kill" 2>/dev/null || true
	for _ in $(seq 50); do rmdir "$group" 2>/dev/null && break; sleep 0.1; done
	rm -rf "$work"
}
trap cleanup EXIT
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100 1000)
for n in "${sizes[@]}"; do
	for rep in $(seq "${REPS:-3}"); do
		sync
		"$work/spawnfloor" "$n" "$work/run" "$group" sleep
	done
done
