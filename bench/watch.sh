#!/bin/sh
# SPDX-License-Identifier: MIT
# The cost of `portwho watch` under a churning load: bench/watch-churn.c
# (socket, bind, listen, close in a loop, 3 events a loop) runs in a private
# network namespace for SECS seconds, three times:
#   none      no watcher: the load's own rate
#   filtered  `portwho watch 9` traced, the load's port dropped in the kernel
#   all       `portwho watch --json` with every event sent to user space,
#             formatted and written to a file (events counted)
# and prints the load's rate (loops/s), the rate of an unrelated system call
# (getppid/s: what the tracer costs everything else), the watcher's CPU use
# (user+sys seconds per second), the events it wrote per second and its CPU
# time per event (microseconds); ROUNDS
# (default 3) rounds, alternated. Needs root (BPF, ip netns). Machines are
# shared: compare the rows of one run, not runs.
#   usage: bench/watch.sh [BUILD_DIR] [SECS]
set -eu
build=${1:-build}
secs=${2:-5}
out=$(mktemp -d /tmp/pwwatch-bench.XXXXXX)
ns=pwbench-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$out"; }
trap cleanup EXIT
cc -O2 -o "$out/churn" "$(dirname "$0")/watch-churn.c"
ip netns add "$ns"
ip -n "$ns" link set lo up

cpu() { # utime+stime of PID in seconds
	awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}

run() { # NAME [portwho watch ARGS...]
	name=$1
	shift
	w=
	if [ $# -gt 0 ]; then
		"$build/portwho" watch -N "/run/netns/$ns" "$@" >"$out/$name.events" &
		w=$!
		# ready: the tracer reports a bind (one loop on a watched port)
		for _ in $(seq 100); do
			ip netns exec "$ns" "$out/churn" 0 9 >/dev/null
			[ -s "$out/$name.events" ] && break
			sleep 0.1
		done
		c0=$(cpu $w)
		n0=$(wc -l <"$out/$name.events")
	fi
	rate=$(ip netns exec "$ns" "$out/churn" "$secs" 18080 | cut -d' ' -f1)
	sys=$(ip netns exec "$ns" "$out/churn" 1 0 | cut -d' ' -f1)
	if [ -n "$w" ]; then
		sleep 0.5 # let it drain
		c1=$(cpu $w)
		n1=$(wc -l <"$out/$name.events")
		kill -INT $w
		wait $w || true
		ev=$(( (n1 - n0) / secs ))
		per=-
		[ "$ev" -gt 0 ] && per=$(echo "scale=1; ($c1 - $c0) * 1000000 / ($n1 - $n0)" | bc -l)
		printf '%-9s %10s %12s %11s %10s %9s\n' "$name" "$rate" "$sys" \
			"$(echo "scale=2; ($c1 - $c0) / $secs" | bc -l)" "$ev" "$per"
	else
		printf '%-9s %10s %12s %11s %10s %9s\n' "$name" "$rate" "$sys" - - -
	fi
}

printf '%-9s %10s %12s %11s %10s %9s\n' watcher loops/s getppid/s 'cpu(cores)' events/s us/event
for _ in $(seq "${ROUNDS:-3}"); do
	run none
	run filtered 9
	run all --json
done
