#!/bin/sh
# deps.sh build|test|bench — install the Debian packages portwho needs.
# As root, missing packages are installed with apt-get; otherwise the exact
# command is printed and the script fails.
set -eu
build="meson ninja-build pkg-config gcc libc6-dev libmnl-dev libsmartcols-dev libjansson-dev libsystemd-dev libbpf-dev bpftool clang llvm"
test="$build libcmocka-dev python3 python3-pytest python3-dbus python3-gi dbus iproute2 systemd util-linux procps"
bench="$build hyperfine lsof psmisc net-tools iproute2 util-linux"
case "${1:-build}" in
build) want=$build ;;
test) want=$test ;;
bench) want=$bench ;;
*) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac
missing=
for p in $want; do
	case " $missing " in *" $p "*) continue ;; esac
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "portwho needs these Debian packages; as root run:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
