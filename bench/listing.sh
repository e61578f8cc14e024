#!/bin/bash
# Process views: time tend ps / tree / top / fds against procps ps, psmisc
# pstree, procps top and lsof on the same machine in one run, with COUNT
# extra sleeping processes, and print each ratio tend/peer.
#
# Everything started here runs in its own session (the sleepers' process
# group is the spawner's pid) and is killed by that process group and by
# pid at the end; nothing else is touched.
#
# usage: bench/listing.sh [COUNT=5000] [RUNS=10]   (env SECONDS_TOP=20: interactive top window)
#   env TEND=/path/to/tend to use a built binary (default: go build ./cmd/tend)
#   needs: hyperfine, procps, psmisc, lsof, python3
set -euo pipefail
COUNT=${1:-5000}
RUNS=${2:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/tend-listing.XXXXXX)
if [ -z "${TEND:-}" ]; then
    (cd "$ROOT" && go build -o "$WORK/tend" ./cmd/tend)
    TEND=$WORK/tend
fi

# The fd holder: 1000 fds — 3 stdio, 497 files, 100 pipes, 100 unix socket pairs
# and 50 loopback TCP connections (peers to resolve), then it sleeps.
setsid python3 -c '
import os, socket, sys, time
d = sys.argv[1]
keep = [os.open(f"{d}/f{i}", os.O_CREAT | os.O_RDWR) for i in range(497)]
for _ in range(100):
    keep += os.pipe()
socks = [socket.socketpair() for _ in range(100)]
ln = socket.socket(); ln.bind(("127.0.0.1", 0)); ln.listen(64)
for _ in range(50):
    c = socket.create_connection(ln.getsockname()); s, _ = ln.accept(); socks.append((c, s))
print(os.getpid(), flush=True)
time.sleep(1e6)' "$WORK" >"$WORK/holder.out" </dev/null &
HOLDER=$!
GROUP=""
cleanup() {
    kill -KILL "$HOLDER" 2>/dev/null || true
    if [ -n "$GROUP" ]; then
        kill -KILL -- "-$GROUP" 2>/dev/null || true
        for _ in $(seq 300); do kill -0 -- "-$GROUP" 2>/dev/null || break; sleep 0.1; done
    fi
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
until [ -s "$WORK/holder.out" ]; do sleep 0.05; done

setsid bash -c 'for ((i = 0; i < '"$COUNT"'; i++)); do sleep 1000000 & done; wait' </dev/null &>/dev/null &
GROUP=$!
until [ "$(wc -w </proc/$GROUP/task/$GROUP/children)" -ge "$COUNT" ]; do sleep 0.2; done
NPROC=$(ls -d /proc/[0-9]* | wc -l)
NFD=$(ls /proc/$HOLDER/fd | wc -l)
echo "== $NPROC processes; fd holder $HOLDER has $NFD fds" >&2

pairs=(
    "ps -eo pid,ppid,user,stat,tty,time,args|$TEND ps -e -o pid,ppid,user,stat,tty,time,args"
    "pstree -p|$TEND tree -p"
    "top -b -n1|$TEND top -b -n 1"
    "lsof -p $HOLDER|$TEND fds $HOLDER"
)
cmds=()
for p in "${pairs[@]}"; do cmds+=("${p%%|*}" "${p#*|}"); done
hyperfine -N --style basic --warmup 2 --runs "$RUNS" --export-json "$WORK/result.json" "${cmds[@]}" >&2

python3 - "$WORK/result.json" "$NPROC" "$NFD" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
print(f"\n{sys.argv[2]} processes, fd holder with {sys.argv[3]} fds\n")
print("| peer | median ms | tend | median ms | ratio |")
print("|---|---|---|---|---|")
for peer, tend in zip(res[0::2], res[1::2]):
    print(f"| `{peer['command']}` | {peer['median']*1e3:.1f} | `{tend['command'].split('/')[-1]}` | "
          f"{tend['median']*1e3:.1f} | {tend['median']/peer['median']:.2f}x |")
PY

# Interactive top under a pseudo-terminal: its CPU time over SECONDS of
# 2-second refreshes, after the first frame, as a share of one core.
SECONDS_TOP=${SECONDS_TOP:-20}
python3 - "$TEND" "$SECONDS_TOP" <<'PY'
import fcntl, os, pty, select, struct, sys, termios, time
tend, window = sys.argv[1], float(sys.argv[2])
pid, fd = pty.fork()
if pid == 0:
    os.execv(tend, [tend, "top", "-d", "2"])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
def ticks():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])  # utime + stime
def drain(until):
    while time.time() < until:
        if select.select([fd], [], [], 0.2)[0]:
            try:
                os.read(fd, 1 << 16)
            except OSError:
                return
drain(time.time() + 3)  # the first frame reads everything; refreshes are measured
t0, c0 = time.time(), ticks()
drain(t0 + window)
t1, c1 = time.time(), ticks()
os.kill(pid, 9)
os.waitpid(pid, 0)
hz = os.sysconf("SC_CLK_TCK")
print(f"\ninteractive `tend top -d 2`: {(c1 - c0) / hz:.2f} s CPU over {t1 - t0:.1f} s = "
      f"{100 * (c1 - c0) / hz / (t1 - t0):.1f} % of one core")
PY
