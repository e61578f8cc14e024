#!/bin/bash
# syslog_counts.sh TEND PROTO N — one run of bench/syslog.py (tend only) with
# perf stat attached: tend's system calls, context switches and CPU per
# message written, and the sender's CPU per message sent. Counts do not
# depend on the machine's load the way rates do.
#   sudo bench/syslog_counts.sh /tmp/tend udp 1000000
# Needs perf and the tracepoints (root). TEND is a built binary; the script
# finds tend and the sender by their command lines, so run one at a time.
set -eu
bin=$1 proto=$2 n=$3
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d /tmp/syslog-counts.XXXXXX)
trap 'rm -rf "$out"' EXIT
python3 "$here/syslog.py" --n "$n" --reps 1 --only tend --protos "$proto" --tend "$bin" >"$out/run" 2>&1 &
bench=$!
events=syscalls:sys_enter_writev,syscalls:sys_enter_write,syscalls:sys_enter_read,syscalls:sys_enter_pread64
events=$events,syscalls:sys_enter_recvmmsg,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_futex,context-switches,task-clock
pid="" spid=""
for _ in $(seq 3000); do pid=$(pgrep -f "^$bin run" | head -1 || true); [ -n "$pid" ] && break; sleep 0.01; done
perf stat -x, -e "$events" -p "$pid" 2>"$out/tend" &
pt=$!
for _ in $(seq 3000); do spid=$(pgrep -f "syslogsend -proto $proto" | head -1 || true); [ -n "$spid" ] && break; sleep 0.002; done
perf stat -x, -e task-clock -p "$spid" 2>"$out/sender" &
ps=$!
wait "$bench"
wait "$pt" "$ps" || true
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
d = next(json.loads(l) for l in open(f"{out}/run") if l.startswith("{"))
print(f"{d['daemon']} {d['proto']}: sent {d['sent']}, written {d['written']}, lost {d['lost']}, "
      f"CPU {d['cpu_s_per_million']:.2f} s/1M written")
for l in open(f"{out}/tend"):
    f = l.strip().split(",")
    if len(f) > 2 and f[0].replace(".", "").isdigit():
        print(f"  tend {f[2]}: {f[0]} ({float(f[0]) / d['written']:.4f} per message written)")
f = open(f"{out}/sender").read().split(",")
if f[0].replace(".", "").isdigit():
    print(f"  sender: {float(f[0]) * 1000 / d['sent']:.3f} µs CPU per message sent, {d['sender_msgs_per_s']:.0f} msgs/s")
else:
    print("  sender: ended before perf attached (use a larger N)")
PY
