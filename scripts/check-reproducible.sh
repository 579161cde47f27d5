#!/usr/bin/env bash
# Check that a commit builds to byte-identical binaries: clone it twice into
# directories of different names and lengths, build each with `make build`
# and its own empty Go build cache, and compare every binary.
#   scripts/check-reproducible.sh [COMMIT] [make arguments, e.g. GOARCH=arm64]
# COMMIT defaults to HEAD (uncommitted changes are not part of the check).
# BPFTK_REPRO_SHARED_CACHE=1 reuses the caller's Go build cache (faster; then
# only the link and the path independence are checked, not the compiler).
set -euo pipefail
cd "$(dirname "$0")/.."
commit=$(git rev-parse "${1:-HEAD}")
shift || true

tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT

build() { # build DIR
	local dir=$1
	git clone -q --no-checkout . "$dir"
	git -C "$dir" checkout -q "$commit"
	local cache="$dir.gocache"
	if [ "${BPFTK_REPRO_SHARED_CACHE:-}" = 1 ]; then
		cache=$(go env GOCACHE)
	fi
	(cd "$dir" && GOCACHE="$cache" GOFLAGS=-modcacherw make -s build "$@" >/dev/null)
}

build "$tmp/a" "$@"
build "$tmp/second-clone-with-a-longer-path/bpftk" "$@"

a=$(cd "$tmp/a/bin" && find . -type f | sort)
b=$(cd "$tmp/second-clone-with-a-longer-path/bpftk/bin" && find . -type f | sort)
if [ "$a" != "$b" ] || [ -z "$a" ]; then
	echo "the two builds made different sets of files:" >&2
	diff <(echo "$a") <(echo "$b") >&2 || true
	exit 1
fi
status=0
for f in $a; do
	sa=$(sha256sum <"$tmp/a/bin/$f" | cut -d' ' -f1)
	sb=$(sha256sum <"$tmp/second-clone-with-a-longer-path/bpftk/bin/$f" | cut -d' ' -f1)
	if [ "$sa" = "$sb" ]; then
		echo "same       $sa  bin/${f#./}"
	else
		echo "DIFFERENT  $sa $sb  bin/${f#./}" >&2
		status=1
	fi
done
if [ $status = 0 ]; then
	echo "reproducible: $(echo "$a" | wc -l) binaries of commit ${commit:0:12} are byte-identical"
fi
exit $status
