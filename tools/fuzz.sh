#!/bin/bash
# fuzz.sh — build the libFuzzer targets (tests/fuzz, clang, ASan + UBSan) and
# run each for FUZZ_SECONDS (default 5) from its seed corpus in
# tests/fuzz/corpus/NAME. New inputs go to a scratch copy, never into the
# tree; a crash leaves its input in $FUZZ_OUT (default build-fuzz/findings).
set -uo pipefail
cd "$(dirname "$0")/.."
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-5}
FUZZ_OUT=${FUZZ_OUT:-$FUZZ_BUILD/findings}
targets=(portspec procparse diag services text jemit)

if ! command -v clang >/dev/null; then
	echo "fuzz: clang is not installed (tools/deps.sh)"; exit 1
fi
if [ ! -f "$FUZZ_BUILD/build.ninja" ]; then
	CC=clang meson setup "$FUZZ_BUILD" -Dfuzz=enabled -Dbpf=disabled -Dtests=disabled \
		-Dsystemd=disabled >/dev/null || exit 1
else
	# a build dir from before a target was added knows nothing of it
	meson setup --reconfigure "$FUZZ_BUILD" >/dev/null || exit 1
fi
# only the fuzz targets: the rest of the tree is built (with gcc) elsewhere
meson compile -C "$FUZZ_BUILD" "${targets[@]/#/fuzz_}" >/dev/null ||
	meson compile -C "$FUZZ_BUILD" "${targets[@]/#/fuzz_}" || exit 1

mkdir -p "$FUZZ_OUT"
work=$(mktemp -d "${TMPDIR:-/tmp}/pwfuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
failed=()
for t in "${targets[@]}"; do
	mkdir -p "$work/$t"
	cp tests/fuzz/corpus/"$t"/* "$work/$t"/ 2>/dev/null
	log="$FUZZ_OUT/$t.log"
	if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		"$FUZZ_BUILD/tests/fuzz/fuzz_$t" -max_total_time="$FUZZ_SECONDS" -timeout=10 \
		-rss_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$FUZZ_OUT/$t-" \
		"$work/$t" >"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "fuzz_$t: ${runs:-?} runs in ${FUZZ_SECONDS}s, no crash"
	else
		echo "fuzz_$t: FAILED (see $log; the input is in $FUZZ_OUT/$t-*)"
		tail -30 "$log"
		failed+=("$t")
	fi
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz: FAILED: ${failed[*]}"; exit 1; }
