#!/usr/bin/env bash
# make bench: what each bpftk tool costs, side by side with libbpf-tools
# (/usr/sbin/<tool> from Debian's libbpf-tools) when it is installed.
#
# Per tool and implementation, in one run:
#   overhead  median time of a fixed workload with the tool attached (output
#             to a file) / median time of the workload alone
#   events    events the tool reported for the workload / events it caused,
#             and the losses the tool itself reported
#   startup   median ms from exec until the tool holds all its BPF links
#             (the same method for both implementations)
#   rss       peak RSS (VmHWM) of the tool under the workload, KiB
#   size      stripped binary size
#
# Env: BENCH_RUNS (default 5), BENCH_QUICK=1 (3 runs, 1/5 of the work),
# INSTALL_REF=1 (apt-get install libbpf-tools first), BIN_DIR (default bin).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"

[ "$(id -u)" = 0 ] || { echo "bench: run as root (the tools load BPF programs)" >&2; exit 1; }
RUNS=${BENCH_RUNS:-5}
SCALE=1
if [ "${BENCH_QUICK:-}" = 1 ]; then RUNS=3; SCALE=5; fi
BIN=${BIN_DIR:-bin}
if [ "${INSTALL_REF:-}" = 1 ]; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libbpf-tools >/dev/null
fi

work=$(mktemp -d /tmp/bpftk-bench.XXXXXX)
loopdev=""
cleanup() {
	[ -n "$loopdev" ] && losetup -d "$loopdev" 2>/dev/null
	ip netns del bpftk-bench-a 2>/dev/null || true
	ip netns del bpftk-bench-b 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/workload" ./scripts/workload
W=$work/workload

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "nan"} else if (NR%2) {print a[(NR+1)/2]} else {print (a[NR/2]+a[NR/2+1])/2}}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a != "nan" && b != "nan") printf "%.2f", a/b; else print "n/a" }'; }

# ref TOOL prints the libbpf-tools binary for TOOL, if installed.
ref() {
	local n
	for n in "/usr/sbin/$1" "/usr/sbin/bpf-$1"; do
		if [ -x "$n" ] && ! "$n" --version 2>&1 | grep -q bpftk; then echo "$n"; return; fi
	done
}

# calibrate CMD...: how many BPF links the tool holds once attached.
calibrate() {
	"$@" >/dev/null 2>&1 &
	local pid=$!
	sleep 2
	$W links "$pid"
	kill -INT "$pid"; wait "$pid" 2>/dev/null || true
}

# measure NAME IMPL WORKLOAD_CMD -- TOOL_CMD...: fills the globals
# base, with, startup, rss, out (the last run's output file), err.
measure() {
	local wl=$1; shift
	local links alone=() att=() st=() i pid
	links=$(calibrate "$@")
	for i in $(seq "$RUNS"); do alone+=("$($wl)"); done
	rss=0
	for i in $(seq "$RUNS"); do
		out=$work/out.$i; err=$work/err.$i
		"$@" >"$out" 2>"$err" &
		pid=$!
		$W waitlinks "$pid" "$links"
		att+=("$($wl)")
		local h; h=$($W hwm "$pid")
		[ "$h" != "?" ] && [ "$h" -gt "$rss" ] && rss=$h
		kill -INT "$pid"; wait "$pid" 2>/dev/null || true
	done
	for i in $(seq "$RUNS"); do st+=("$($W startup "$links" "$@" | cut -d' ' -f1)"); done
	base=$(printf '%s\n' "${alone[@]}" | median)
	with=$(printf '%s\n' "${att[@]}" | median)
	startup=$(printf '%s\n' "${st[@]}" | median)
}

rows=()
add_row() { rows+=("| $1 | $2 | $3 | $4 | $5 | $6 | $7 | $8 |"); }
size_bytes() { local f; f=$(mktemp); strip -o "$f" "$1" 2>/dev/null || cp "$1" "$f"; stat -c %s "$f"; rm -f "$f"; }
mib() { awk -v b="$1" 'BEGIN {printf "%.2f MiB", b/1048576}'; }

bench_tool() { # TOOL WORKLOAD EVENTS_FN [tool args...]
	local tool=$1 wl=$2 events_fn=$3; shift 3
	local impl bin
	for impl in bpftk libbpf-tools; do
		if [ $impl = bpftk ]; then bin=$BIN/$tool; else bin=$(ref "$tool"); fi
		[ -n "$bin" ] && [ -x "$bin" ] || continue
		echo "bench: $tool ($impl)..." >&2
		measure "$wl" "$bin" "$@"
		local ev; ev=$($events_fn)
		local size; size=$(size_bytes "$bin")
		add_row "$tool" "$impl" "$(ratio "$with" "$base") ($base s -> $with s)" "$ev" "$startup" "$rss" "$(mib "$size")" "$RUNS"
		local k=${tool}_${impl//-/_}
		eval "res_$k=$(ratio "$with" "$base") startup_$k=$startup rss_$k=$rss size_$k=$size"
	done
}

# --- opensnoop: open()+close() of one file ---
N_OPEN=$((1000000 / SCALE))
target=$work/open-target
touch "$target"
wl_open() { $W openclose "$N_OPEN" "$target"; }
ev_open() {
	local got lost
	got=$(grep -c -- "$target" "$out" || true)
	lost=$(grep -oE 'lost [0-9]+' "$err" | awk '{s+=$2} END {print s+0}')
	echo "$got/$N_OPEN (lost reported: $lost)"
}
bench_tool opensnoop wl_open ev_open

# --- biolatency: 4 KiB O_DIRECT reads of a loop device ---
N_IO=$((20000 / SCALE))
truncate -s 64M "$work/disk.img"
loopdev=$(losetup -f --show --direct-io=on "$work/disk.img")
wl_io() { $W odirect "$loopdev" "$N_IO"; }
ev_none() { echo "n/a (in-kernel histogram)"; }
bench_tool biolatency wl_io ev_none

# --- runqlat: pipe ping-pong between two threads ---
N_PP=$((200000 / SCALE))
wl_pp() { $W pingpong "$N_PP"; }
bench_tool runqlat wl_pp ev_none

# --- tcplife: short loopback connections ---
N_TCP=$((5000 / SCALE))
wl_tcp() { $W tcpconn "$N_TCP" 2>"$work/tcp.port"; }
ev_tcp() {
	local port got
	port=$(awk '/port/ {print $2}' "$work/tcp.port")
	got=$(grep -cE "[[:space:]]$port[[:space:]]" "$out" || true)
	echo "$got/$((2 * N_TCP)) sessions"
}
bench_tool tcplife wl_tcp ev_tcp

# --- tcpretrans: bulk transfer over a lossy veth between two namespaces ---
ip netns del bpftk-bench-a 2>/dev/null || true
ip netns del bpftk-bench-b 2>/dev/null || true
ip netns add bpftk-bench-a; ip netns add bpftk-bench-b
ip link add bbench-a netns bpftk-bench-a type veth peer name bbench-b netns bpftk-bench-b
ip -n bpftk-bench-a addr add 10.214.0.1/24 dev bbench-a
ip -n bpftk-bench-b addr add 10.214.0.2/24 dev bbench-b
for s in a b; do
	ip -n bpftk-bench-$s link set lo up
	ip -n bpftk-bench-$s link set bbench-$s gso_max_segs 1 up
	ip netns exec bpftk-bench-$s ethtool -K bbench-$s tso off gso off gro off >/dev/null
done
ip netns exec bpftk-bench-b nft add table inet bench
ip netns exec bpftk-bench-b nft add chain inet bench in '{ type filter hook input priority 0 ; }'
ip netns exec bpftk-bench-b nft add rule inet bench in tcp dport 5201 numgen random mod 100 '<' 2 drop
N_BULK=$((200 / SCALE))
wl_bulk() {
	ip netns exec bpftk-bench-b $W sink 10.214.0.2:5201 &
	local sink=$!
	ip netns exec bpftk-bench-a $W send 10.214.0.2:5201 "$N_BULK"
	wait "$sink"
}
ev_rt() {
	local got
	got=$(grep -c "10.214.0.2:5201" "$out" || true)
	echo "$got retransmits seen"
}
bench_tool tcpretrans wl_bulk ev_rt

# --- report ---
ratios=""
for t in opensnoop biolatency runqlat tcplife; do
	a=$(eval echo "\${res_${t}_bpftk:-}"); b=$(eval echo "\${res_${t}_libbpf_tools:-}")
	if [ -n "$a" ] && [ -n "$b" ]; then ratios+="| $t | $a | $b | $(ratio "$a" "$b") |"$'\n'; fi
done
# check OK? VALUE LIMIT_DESCRIPTION: a table cell.
check() { if [ "$1" = 1 ]; then echo "met ($2)"; else echo "MISSED ($2)"; fi; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { print (a != "nan" && b != "nan" && a+0 <= b+0) ? 1 : 0 }'; }
targets=""
for t in opensnoop biolatency runqlat tcplife tcpretrans; do
	o=$(eval echo "\${res_${t}_bpftk:-}"); [ -n "$o" ] || continue
	ro=$(eval echo "\${res_${t}_libbpf_tools:-}")
	s=$(eval echo "\${startup_${t}_bpftk}"); rs=$(eval echo "\${startup_${t}_libbpf_tools:-}")
	m=$(eval echo "\${rss_${t}_bpftk}"); rm_=$(eval echo "\${rss_${t}_libbpf_tools:-}")
	z=$(eval echo "\${size_${t}_bpftk}")
	if [ -n "$ro" ]; then
		c_o=$(check "$(le "$o" "$(awk -v r="$ro" 'BEGIN {print r*1.05}')")" "$o vs $ro x 1.05")
		c_s=$(check "$(le "$s" "$(awk -v r="$rs" 'BEGIN {m=r*1.5; print (m < 100) ? m : 100}')")" "$s ms vs $rs ms x 1.5")
		c_m=$(check "$(le "$m" "$(awk -v r="$rm_" 'BEGIN {print r*1.5}')")" "$m KiB vs $rm_ KiB x 1.5")
	else
		c_o="n/a (no libbpf-tools $t)"
		c_s=$(check "$(le "$s" 100)" "$s ms vs 100 ms")
		c_m="n/a (no libbpf-tools $t)"
	fi
	c_z=$(check "$(le "$z" 6291456)" "$(mib "$z")")
	targets+="| $t | $c_o | $c_s | $c_m | $c_z |"$'\n'
done

mkdir -p results
file=results/bench-$(date -u +%Y%m%d-%H%M%S).md
{
	echo "# bpftk bench, $(date -u +%Y-%m-%d), kernel $(uname -r), $(nproc) CPUs, $RUNS runs each"
	echo
	echo "| tool | impl | overhead ratio (alone -> with tool) | events reported | startup ms | peak RSS KiB | stripped size | runs |"
	echo "|---|---|---|---|---|---|---|---|"
	printf '%s\n' "${rows[@]}"
	if [ -n "$ratios" ]; then
		echo
		echo "| tool | bpftk overhead | libbpf-tools overhead | bpftk / libbpf-tools |"
		echo "|---|---|---|---|"
		printf '%s' "$ratios"
	fi
	echo
	echo "| tool | overhead <= libbpf-tools x 1.05 | startup <= libbpf-tools x 1.5, < 100 ms | peak RSS <= libbpf-tools x 1.5 | stripped size <= 6 MiB |"
	echo "|---|---|---|---|---|"
	printf '%s' "$targets"
} | tee "$file"
echo "bench: written to $file" >&2
