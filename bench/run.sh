#!/bin/bash
# bench/run.sh — portwho against the tools people use today, on the
# reference load (loadgen 2000 10 10 20 1100, see ../shared/bench), in one
# hyperfine run, reported as ratios. Absolute times on shared machines are
# noise; ratios from one sitting are what we quote.
#   SHARED=path/to/shared  RUNS=N  LOADGEN_ARGS="2000 10 10 20 1100"  PORTWHO=build/portwho
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED:-$top/../shared}
pw=${PORTWHO:-$top/build/portwho}
out=${BENCH_OUT:-$(mktemp -d)}
mkdir -p "$out"
runs=${RUNS:-10}
[ -f "$shared/bench/loadgen.c" ] || { echo "bench: $shared/bench/loadgen.c not found (set SHARED=)" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "bench: needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }
[ -x "$pw" ] || { echo "bench: $pw not built (make build)" >&2; exit 2; }
cc -O2 -o "$out/loadgen" "$shared/bench/loadgen.c"
cc -O2 -pthread -o "$out/procscan" "$shared/bench/procscan.c"

started=
if ! pgrep -x loadgen >/dev/null; then
	ulimit -n 65536 2>/dev/null || true # each loadgen process needs ~50 fds; more helps nothing
	"$out/loadgen" ${LOADGEN_ARGS:-2000 10 10 20 1100} >"$out/loadgen.log" 2>&1 &
	started=$!
	# its 2,000 children take a moment to go: wait for them, so that what
	# runs next (make bench: scale.sh) finds no loadgen
	trap '[ -n "$started" ] && kill -TERM "$started" 2>/dev/null; wait 2>/dev/null
		for _ in $(seq 300); do pgrep -x loadgen >/dev/null || break; sleep 0.1; done' EXIT
	for _ in $(seq 1200); do grep -q ready "$out/loadgen.log" 2>/dev/null && break; sleep 0.1; done
	grep -q ready "$out/loadgen.log" || { echo "bench: loadgen did not get ready" >&2; exit 1; }
fi
[ -z "$started" ] && echo "bench: using the loadgen already running" || cat "$out/loadgen.log"

# name|command pairs; the order matters for the ratio table below
cmds=(
	"portwho|$pw"
	"portwho (procfs)|$pw --collector procfs"
	"portwho --json|$pw --json"
	"portwho -a --json|$pw -a --json"
	"portwho 1100/tcp|$pw 1100/tcp"
	"portwho 1100/tcp (procfs)|$pw --collector procfs 1100/tcp"
	"portwho -a|$pw -a"
	"portwho -a (procfs)|$pw --collector procfs -a"
	"ss -tulpn|ss -tulpn"
	"ss -tlnp sport|ss -tlnp 'sport = :1100'"
	"ss -tanp|ss -tanp"
	"lsof -nP -iTCP:1100|lsof -nP -iTCP:1100"
	"fuser -n tcp 1100|fuser -n tcp 1100"
	"procscan 2|$out/procscan 2"
)
args=()
for c in "${cmds[@]}"; do args+=(-n "${c%%|*}" "${c#*|}"); done
hyperfine -N -i --warmup 2 --runs "$runs" --export-json "$out/result.json" "${args[@]}" >"$out/hyperfine.txt"

# peak RSS of each command (GNU time), after the timing runs
: >"$out/rss.txt"
for c in "${cmds[@]}"; do
	# shellcheck disable=SC2086
	eval /usr/bin/time -f %M -o "$out/rss1" ${c#*|} >/dev/null 2>&1 || true
	printf '%s\t%s\n' "${c%%|*}" "$(tail -1 "$out/rss1")" >>"$out/rss.txt"
done

/usr/bin/python3 - "$out/result.json" "$out/rss.txt" <<'PY'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
rss = dict(l.rstrip("\n").split("\t") for l in open(sys.argv[2]) if "\t" in l)
med = {k: v["median"] for k, v in res.items()}
# CPU (user + system) is steadier than wall time on a shared machine
cpu = {k: v["user"] + v["system"] for k, v in res.items()}
print("\nmedian wall time, mean CPU time (user+sys), peak RSS; whole process")
for k, v in med.items():
    print(f"  {k:28s} {v*1000:8.1f} ms {cpu[k]*1000:8.1f} ms cpu {int(rss.get(k) or 0)/1024:7.1f} MiB")
pairs = [
    ("portwho", "ss -tulpn", "1/10 (BPF)"), ("portwho (procfs)", "ss -tulpn", "1/2"),
    ("portwho --json", "ss -tulpn", "1/10 (BPF)"), ("portwho -a --json", "ss -tanp", "1/5"),
    ("portwho 1100/tcp", "ss -tlnp sport", "1/15 (BPF)"),
    ("portwho 1100/tcp (procfs)", "ss -tlnp sport", "1/2"),
    ("portwho 1100/tcp", "lsof -nP -iTCP:1100", ""),
    ("portwho 1100/tcp", "fuser -n tcp 1100", ""),
    ("portwho -a", "ss -tanp", "1/5"), ("portwho -a (procfs)", "ss -tanp", ""),
]
print("\nratios (portwho / peer; lower is better)")
for a, b, target in pairs:
    if a in med and b in med:
        r = med[a] / med[b]
        rc = cpu[a] / cpu[b]
        rm = (int(rss.get(a) or 0) / int(rss.get(b) or 1))
        print(f"  {a:28s} / {b:22s} = {r:6.3f}  ({1/r:5.1f}x faster)  cpu {rc:6.3f}  rss {rm:5.2f}"
              f"{'  target ' + target if target else ''}")
PY
echo "raw results: $out/result.json"
