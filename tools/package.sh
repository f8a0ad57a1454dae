#!/bin/bash
# package.sh [OUTDIR] — build the Debian package from a copy of this tree,
# check it with lintian (no errors allowed), unpack it into a scratch root
# and run the packaged binary. The .deb is left in OUTDIR (default build-deb/).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-build-deb}")
work=$(mktemp -d /tmp/portwho-deb.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
mkdir -p "$work/portwho" "$out"
# The tracked files plus new ones not ignored: what a clone would have.
git ls-files -z --cached --others --exclude-standard |
	grep -zv '^build' | xargs -0 cp -P --parents -t "$work/portwho"
(cd "$work/portwho" && DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-parallel=2} \
	dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1) || {
	tail -40 "$work/build.log"
	echo "package: dpkg-buildpackage failed" >&2
	exit 1
}
deb=$(ls "$work"/portwho_*.deb)
cp "$deb" "$out/"
echo "package: built $(basename "$deb")"
lintian --fail-on error --tag-display-limit 0 "$deb" | tee "$work/lintian.log" || {
	echo "package: lintian reports errors" >&2
	exit 1
}
dpkg-deb -f "$deb" Depends | sed 's/^/package: Depends: /'
root="$work/root"
dpkg-deb -x "$deb" "$root"
"$root/usr/sbin/portwho" --version
for f in usr/share/man/man8/portwho.8.gz usr/share/bash-completion/completions/portwho \
	usr/share/zsh/vendor-completions/_portwho; do
	[ -e "$root/$f" ] || { echo "package: $f missing" >&2; exit 1; }
done
echo "package: ok"
