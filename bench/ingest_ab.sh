#!/bin/sh
# A/B of journal ingest end to end, old and new tend binaries interleaved:
# a oneshot unit cats LINES lines of 100 bytes into its stdout; tend runs
# with --exit-with, so it exits once the unit stopped and its output is
# stored. perf stat counts tend, its fd holder and the producer (cat's
# share is the same for both binaries).
#   sudo bench/ingest_ab.sh OLD NEW [LINES] [ROUNDS] [DIR] [RUNDIR]
# DIR (default /tmp/ingest-ab) should be on the disk the journal lives on;
# RUNDIR (default DIR/run), the runtime directory, holds the fd holder's
# spool files: /run is a tmpfs on most systems.
set -eu
old=$1 new=$2 lines=${3:-2000000} rounds=${4:-3} d=${5:-/tmp/ingest-ab} run=${6:-$d/run}
mkdir -p "$d/units"
if [ ! -f "$d/lines-$lines.txt" ]; then
	awk -v n="$lines" 'BEGIN { f = "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnop";
		for (i = 0; i < n; i++) printf "%010d %s\n", i, f }' > "$d/lines-$lines.txt"
fi
cat "$d/lines-$lines.txt" > /dev/null
printf '[Service]\nType=oneshot\nExecStart=/bin/cat %s\n' "$d/lines-$lines.txt" > "$d/units/prod.service"
printf '[Unit]\nWants=prod.service\n' > "$d/units/default.target"
printf 'binary holder wall_s lines_per_s cpu_ms_per_Mline Minstr_user_per_Mline Minstr_kernel_per_Mline journal_MB\n'
for r in $(seq "$rounds"); do
	for holder in true false; do
		for b in old new; do
			eval bin=\$$b
			rm -rf "$d/j" "$run"
			sync
			t0=$(date +%s.%N)
			perf stat -x, -o "$d/stat" -e task-clock,instructions:u,instructions:k -- \
				"$bin" run --units "$d/units" --runtime-dir "$run" --journal-dir "$d/j" \
				--syslog-socket "" --crontab "" --kmsg=false --fd-holder=$holder \
				--journal-max-use 64G --journal-per-unit-max-use 64G --journal-keep-free 1 \
				--log-level error --exit-with prod.service
			t1=$(date +%s.%N)
			got=$("$new" logs -D "$d/j" -u prod -o cat --no-pager _TRANSPORT=stdout | wc -l)
			[ "$got" = "$lines" ] || echo "$b: $got lines stored; want $lines" >&2
			mb=$(du -sm "$d/j" | cut -f1)
			awk -F, -v b="$b" -v h="$holder" -v t0="$t0" -v t1="$t1" -v n="$lines" -v mb="$mb" '
				$3 == "task-clock" { cpu = $1 } $3 ~ /instructions:u/ { iu = $1 } $3 ~ /instructions:k/ { ik = $1 }
				END { m = n / 1e6; printf "%s %s %.3f %.0f %.1f %.1f %.1f %s\n", b, h, t1 - t0, n / (t1 - t0), cpu / m, iu / 1e6 / m, ik / 1e6 / m, mb }' "$d/stat"
		done
	done
done
