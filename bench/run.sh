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
	trap '[ -n "$started" ] && kill -TERM "$started" 2>/dev/null; wait 2>/dev/null || true' EXIT
	for _ in $(seq 1200); do grep -q ready "$out/loadgen.log" 2>/dev/null && break; sleep 0.1; done
	grep -q ready "$out/loadgen.log" || { echo "bench: loadgen did not get ready" >&2; exit 1; }
fi
cat "$out/loadgen.log"

# name|command pairs; the order matters for the ratio table below
cmds=(
	"portwho|$pw"
	"portwho (procfs)|$pw --collector procfs"
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

/usr/bin/python3 - "$out/result.json" <<'PY'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
med = {k: v["median"] for k, v in res.items()}
print("\nmedian wall time, whole process")
for k, v in med.items():
    print(f"  {k:28s} {v*1000:8.1f} ms")
pairs = [
    ("portwho", "ss -tulpn", "1/10 (BPF)"), ("portwho (procfs)", "ss -tulpn", "1/2"),
    ("portwho 1100/tcp", "ss -tlnp sport", "1/10 (BPF)"),
    ("portwho 1100/tcp (procfs)", "ss -tlnp sport", "1/2"),
    ("portwho 1100/tcp", "lsof -nP -iTCP:1100", ""),
    ("portwho 1100/tcp", "fuser -n tcp 1100", ""),
    ("portwho -a", "ss -tanp", "1/5"), ("portwho -a (procfs)", "ss -tanp", ""),
]
print("\nratios (portwho / peer; lower is better)")
for a, b, target in pairs:
    if a in med and b in med:
        r = med[a] / med[b]
        print(f"  {a:28s} / {b:22s} = {r:6.3f}  ({1/r:5.1f}x faster){'  target ' + target if target else ''}")
PY
echo "raw results: $out/result.json"
