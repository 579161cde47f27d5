#!/usr/bin/env bash
# Install what building and testing bpftk needs, with apt-get (Debian, Ubuntu).
#   scripts/install-deps.sh          build packages: clang, llvm (llvm-strip),
#                                    libbpf-dev (bpf_helpers.h and friends)
#   scripts/install-deps.sh --test   only what the end-to-end tests call, and
#                                    only when missing: nft, ip, ethtool,
#                                    losetup, setcap (least-privilege test),
#                                    groff and man (man pages render), zsh
#                                    (completion syntax)
set -euo pipefail

missing=()
need() { # need COMMAND PACKAGE
	command -v "$1" >/dev/null 2>&1 || missing+=("$2")
}

if [ "${1:-}" = "--test" ]; then
	need nft nftables
	need ip iproute2
	need ethtool ethtool
	need losetup mount
	need setcap libcap2-bin
	need groff groff-base
	need man man-db
	need zsh zsh
else
	need clang clang
	need llvm-strip llvm
	[ -e /usr/include/bpf/bpf_helpers.h ] || missing+=(libbpf-dev)
fi

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "missing packages: ${missing[*]}; run as root (or: sudo apt-get install ${missing[*]})" >&2
	# Without root the BPF tests skip anyway; the build does not need these.
	[ "${1:-}" = "--test" ] && exit 0
	exit 1
fi
if ! command -v apt-get >/dev/null; then
	echo "missing packages: ${missing[*]}; install them with your package manager" >&2
	exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
