#!/bin/bash
# Runs the shared peer benchmarks with tend as one more column, side by side with
# runit, s6, daemontools and supervisord in one run.
#
# usage: bench/run.sh [mem|bringup|restart|idle|logs|all] [extra args for the script]
# Needs root and: apt-get install runit s6 daemontools supervisor procps psmisc lsof hyperfine
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
peers=$(cd "$here/../../shared/bench/peers" 2>/dev/null && pwd) || {
	echo "the shared peer harness is expected at ../shared/bench/peers beside the project" >&2; exit 1; }
mkdir -p "$here/results" "$here/.bin"
(cd "$here/.." && CGO_ENABLED=0 go build -o "$here/.bin/tend" ./cmd/tend)
export TEND_BIN="$here/.bin/tend" PEERS_EXTRA="$here/tend_adapter.py"
tools=${TOOLS:-tend,runit,s6,daemontools,supervisord}
step=${1:-all}; shift || true
run() {
	local name=$1; shift
	echo "=== $name $(date -u +%FT%TZ)" >&2
	"$peers/$name.py" "$@" | tee "$here/results/$name.md"
}
case $step in
mem)     run mem --tools "$tools" "$@" ;;
bringup) run bringup --tools "$tools" "$@" ;;
restart) run restart --tools "${TOOLS:-tend,tend-defaults,runit,s6,daemontools,supervisord}" "$@" ;;
idle)    run idle --tools "$tools" "$@" ;;
logs)    run logs "$@" ;;    # every variant, tend's journal included (tend_adapter.py)
all)
	run mem --tools "$tools"
	run bringup --tools "$tools"
	run restart --tools "${TOOLS:-tend,tend-defaults,runit,s6,daemontools,supervisord}"
	run idle --tools "$tools" ;;
*) echo "unknown step $step" >&2; exit 2 ;;
esac
