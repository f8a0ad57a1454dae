#!/bin/bash
# check.sh — everything `make check` promises: a -Werror build, the unit
# tests, the end-to-end tests (root: real sockets in private namespaces), and
# the same tests again under AddressSanitizer + UndefinedBehaviorSanitizer,
# then every libFuzzer target for a few seconds (tools/fuzz.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ASAN_BUILD=${ASAN_BUILD:-build-asan}
failed=()

step() { echo; echo "==== $*"; }

# A build dir configured before cmocka (or libbpf, libsystemd) was installed
# keeps its old answer, and `meson test --suite unit` then says "No tests
# defined." and succeeds: always reconfigure, and insist on the unit tests.
setup() { # dir [meson args...]
	local dir=$1; shift
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" -Dtests=enabled "$@" >/dev/null ||
			meson setup --reconfigure "$dir" -Dtests=enabled "$@" || return 1
	else
		meson setup "$dir" -Dtests=enabled "$@" >/dev/null ||
			meson setup "$dir" -Dtests=enabled "$@" || return 1
	fi
	meson compile -C "$dir" >/dev/null || meson compile -C "$dir"
}

# A suite that ran nothing is a failure, not a pass.
unit_tests() { # builddir
	local dir=$1 n out
	n=$(meson test -C "$dir" --list --suite unit 2>/dev/null | grep -v "^ninja:" | grep -c .)
	if [ "$n" -eq 0 ]; then
		echo "check: no unit tests defined in $dir (is cmocka installed? tools/deps.sh test)"
		return 1
	fi
	out=$(meson test -C "$dir" --suite unit --print-errorlogs 2>&1)
	local rc=$?
	echo "$out"
	if grep -q "No tests defined" <<<"$out"; then
		echo "check: meson ran no unit tests in $dir"
		return 1
	fi
	return $rc
}

run_suite() { # label builddir
	local label=$1 dir=$2
	step "$label: unit tests"
	unit_tests "$dir" || failed+=("$label unit")
	step "$label: end-to-end tests"
	if [ "$(id -u)" -ne 0 ]; then
		echo "skipped: the end-to-end tests need root (network namespaces)"
		failed+=("$label e2e (not root)")
	else
		# pytest exits 5 when it collected no tests: that fails too.
		PORTWHO="$PWD/$dir/portwho" PW_HELPERS="$PWD/$dir/tests/helpers" \
			/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/e2e ||
			failed+=("$label e2e")
	fi
}

step "build (-Wall -Wextra -Werror)"
setup "$BUILD" || { echo "check: build failed"; exit 1; }
run_suite plain "$BUILD"

step "build with ASan + UBSan"
if setup "$ASAN_BUILD" -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug; then
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
	export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
	run_suite asan "$ASAN_BUILD"
else
	failed+=("asan build")
fi

step "fuzz: each libFuzzer target for ${CHECK_FUZZ_SECONDS:-4}s (ASan + UBSan; make fuzz runs longer)"
if command -v clang >/dev/null; then
	FUZZ_SECONDS=${CHECK_FUZZ_SECONDS:-4} tools/fuzz.sh || failed+=("fuzz")
else
	echo "fuzz: clang is not installed"
	failed+=("fuzz (no clang)")
fi

echo
if [ ${#failed[@]} -gt 0 ]; then
	echo "check: FAILED: ${failed[*]}"
	exit 1
fi
echo "check: all test suites passed"
