#!/bin/bash
# bench/scale.sh — how portwho's cost grows with the host: the reference load
# at several sizes (default 500 1000 2000 4000 processes, each with 10
# listeners, 10 connection pairs and 20 files: ~31 sockets and ~56 fds a
# process), portwho and its peers timed side by side in one hyperfine run per
# size, ratios printed per size, peak memory per command, and a plot of time
# against sockets (gnuplot, PNG) so the growth is seen at a glance.
#   SHARED=path/to/shared  SIZES="500 1000 2000 4000"  RUNS=5  PORTWHO=build/portwho
#   BENCH_OUT=dir (results, plot; default a new temp dir)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED:-$top/../shared}
pw=${PORTWHO:-$top/build/portwho}
out=${BENCH_OUT:-$(mktemp -d)}
runs=${RUNS:-5}
sizes=${SIZES:-500 1000 2000 4000}
mkdir -p "$out"
[ -f "$shared/bench/loadgen.c" ] || { echo "bench: $shared/bench/loadgen.c not found (set SHARED=)" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "bench: needs hyperfine" >&2; exit 2; }
[ -x "$pw" ] || { echo "bench: $pw not built (make build)" >&2; exit 2; }
if pgrep -x loadgen >/dev/null; then
	echo "bench: a loadgen is already running; scale.sh starts its own sizes" >&2
	exit 2
fi
cc -O2 -o "$out/loadgen" "$shared/bench/loadgen.c"

# What the machine allows: each process needs a PID and ~56 fds (per process,
# so the fd limit is not the bound); ports: 10 listeners a process from 1100.
pid_max=$(cat /proc/sys/kernel/pid_max)
running=$(ls -d /proc/[0-9]* | wc -l)
fit=()
for n in $sizes; do
	if [ $((n + running + 500)) -gt "$pid_max" ] || [ $((1100 + n * 10)) -gt 60000 ]; then
		echo "bench: skipping $n processes (pid_max $pid_max, $running running, ports)" >&2
		continue
	fi
	fit+=("$n")
done

peak_rss() { # command... -> peak RSS of the command in KiB (GNU time)
	/usr/bin/time -f %M -o "$out/rss" "$@" >/dev/null 2>&1 || true
	tail -1 "$out/rss"
}

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
printf '%s\n' "procs sockets fds name median_s peak_kib" >"$out/scale.dat"
loadpid=
trap '[ -n "$loadpid" ] && kill -TERM "$loadpid" 2>/dev/null; wait 2>/dev/null || true' EXIT
# TIME-WAIT sockets of an earlier load (bench/run.sh's, or the size before)
# linger 60 s; counted in the next size they would blur it
settle() {
	for _ in $(seq 400); do [ "$(ss -Htan | wc -l)" -lt 1000 ] && return; sleep 0.2; done
	echo "bench: $(ss -Htan | wc -l) TCP sockets still open; the sizes count them" >&2
}
for n in "${fit[@]}"; do
	settle
	"$out/loadgen" "$n" 10 10 20 1100 >"$out/loadgen-$n.log" 2>&1 &
	loadpid=$!
	for _ in $(seq 3000); do grep -q ready "$out/loadgen-$n.log" 2>/dev/null && break; sleep 0.1; done
	grep -q ready "$out/loadgen-$n.log" || { echo "bench: loadgen $n did not get ready" >&2; exit 1; }
	socks=$(ss -Htuan | wc -l)
	fds=$(ls /proc/[0-9]*/fd 2>/dev/null | grep -vc '^\(/proc\|$\)' || true)
	echo "== $n processes: $socks sockets, $fds fds"
	cmds=(
		"portwho|$pw"
		"portwho --json|$pw --json"
		"portwho -a|$pw -a"
		"portwho (procfs)|$pw --collector procfs"
		"portwho 1100/tcp|$pw 1100/tcp"
		"ss -tulpn|ss -tulpn"
		"ss -tanp|ss -tanp"
		"ss -tlnp sport|ss -tlnp sport = :1100"
		"lsof -nP -iTCP:1100|lsof -nP -iTCP:1100"
	)
	args=()
	for c in "${cmds[@]}"; do args+=(-n "${c%%|*}" "${c#*|}"); done
	hyperfine -N -i --warmup 1 --runs "$runs" --export-json "$out/result-$n.json" "${args[@]}" >/dev/null
	for c in "${cmds[@]}"; do
		name=${c%%|*}
		# shellcheck disable=SC2086
		rss=$(peak_rss ${c#*|})
		/usr/bin/python3 - "$out/result-$n.json" "$name" "$n" "$socks" "$fds" "$rss" >>"$out/scale.dat" <<'PY'
import json, sys
f, name, n, socks, fds, rss = sys.argv[1:]
r = {x["command"]: x for x in json.load(open(f))["results"]}[name]
print(n, socks, fds, '"%s"' % name, "%.6f" % r["median"], rss)
PY
	done
	kill -TERM "$loadpid" 2>/dev/null || true
	wait "$loadpid" 2>/dev/null || true
	loadpid=
done

/usr/bin/python3 - "$out/scale.dat" <<'PY'
import shlex, sys
rows = [shlex.split(l) for l in open(sys.argv[1]).read().splitlines()[1:]]
by = {}
for n, socks, fds, name, med, rss in rows:
    by.setdefault(int(n), {})[name] = (float(med), int(rss), int(socks))
pairs = [("portwho", "ss -tulpn", 0.10), ("portwho --json", "ss -tulpn", 0.10),
         ("portwho -a", "ss -tanp", 0.20), ("portwho (procfs)", "ss -tulpn", 0.5),
         ("portwho 1100/tcp", "ss -tlnp sport", 0.067),
         ("portwho 1100/tcp", "lsof -nP -iTCP:1100", None)]
print("\nmedian wall time (ms) and peak RSS (MiB) per size")
names = list(next(iter(by.values())).keys())
print("  %-24s" % "command" + "".join("%18s" % ("%d procs" % n) for n in sorted(by)))
for name in names:
    print("  %-24s" % name + "".join("%10.1f %5.1fM " % (by[n][name][0] * 1e3, by[n][name][1] / 1024)
                                     for n in sorted(by)))
print("\nratios portwho / peer (lower is better)")
print("  %-44s" % "pair" + "".join("%12s" % ("%d procs" % n) for n in sorted(by)) + "   target")
for a, b, t in pairs:
    print("  %-44s" % (a + " / " + b) +
          "".join("%12.3f" % (by[n][a][0] / by[n][b][0]) for n in sorted(by)) +
          ("   <= %.3f" % t if t else ""))
PY

if command -v gnuplot >/dev/null; then
	gp="$out/scale.gp"
	{
		echo "set terminal pngcairo size 900,560 noenhanced"
		echo "set output '$out/scale.png'"
		echo "set title 'wall time against sockets on the host (median of $runs runs)'"
		echo "set xlabel 'sockets'; set ylabel 'seconds'; set key left top; set grid"
		printf "plot "
		first=1
		for name in "portwho" "portwho -a" "portwho (procfs)" "portwho 1100/tcp" "ss -tulpn" "ss -tanp" "lsof -nP -iTCP:1100"; do
			[ $first -eq 1 ] || printf ", "
			first=0
			printf "'< grep -F \"\\\\\"%s\\\\\"\" %s' using 2:5 with linespoints title '%s'" "$name" "$out/scale.dat" "$name"
		done
		echo
	} >"$gp"
	gnuplot "$gp" && echo "plot: $out/scale.png"
fi
echo "data: $out/scale.dat"
