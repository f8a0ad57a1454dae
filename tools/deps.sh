#!/bin/sh
# deps.sh build|test|bench|package — install the Debian packages portwho needs.
# As root, missing packages are installed with apt-get (waiting for a busy
# dpkg lock, and never starting the services they bring: portwho's tests start
# their own, in private namespaces); otherwise the exact command is printed
# and the script fails.
set -eu
build="meson ninja-build pkg-config gcc libc6-dev libmnl-dev libsmartcols-dev libjansson-dev libsystemd-dev libbpf-dev bpftool clang llvm libnftnl-dev libnftables-dev libcurl4-openssl-dev"
# the real programs the end-to-end tests run
real="nginx dnsmasq nodejs liburing-dev docker.io podman busybox-static nftables systemd-container debootstrap prometheus-node-exporter prometheus ansible-core bash-completion zsh tmux"
test="$build libcmocka-dev python3 python3-pytest python3-dbus python3-gi dbus iproute2 systemd util-linux procps $real"
bench="$build hyperfine lsof psmisc net-tools iproute2 util-linux gnuplot-nox time"
package="$build debhelper dpkg-dev lintian fakeroot"
case "${1:-build}" in
build) want=$build ;;
test) want=$test ;;
bench) want=$bench ;;
package) want=$package ;;
*) echo "usage: $0 build|test|bench|package" >&2; exit 2 ;;
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
	echo "  apt-get install -y --no-install-recommends$missing" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
lock="-o DPkg::Lock::Timeout=900"
# Keep package scripts from starting nginx, dnsmasq, dockerd... on this host.
policy=/usr/sbin/policy-rc.d
own_policy=
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
fi
trap '[ -n "$own_policy" ] && rm -f "$policy"' EXIT
# shellcheck disable=SC2086
apt-get $lock update -qq
# shellcheck disable=SC2086
apt-get $lock install -y -qq --no-install-recommends $missing
