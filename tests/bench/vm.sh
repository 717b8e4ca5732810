#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR disable=SC2016
# (SC2016: awk programs in single quotes.)
#
# The VM half of `make bench`, run inside the qemu guest (tests/bench/run
# starts it):
#
#   tests/vm/run --kernel 6.12 --mem 3072 --out DIR -- \
#       env BENCH_ROUNDS=3 tests/bench/vm.sh
#
# On the lab path (tests/lab), in every round each metric
#   without   no module loaded
#   kmod      anypin.ko on the client and both instances
#   dnat      a static DNAT of A to U1 on the client (iptables -t nat)
# with the order rotated from round to round (the module is loaded and
# unloaded each time). Then anypin.ko's second chance
# (docs/second-chance.md; lib.sh's sc_rounds, as host.sh measures
# anypind's), rounds the same way: a client without anypin, both instances
# responders, A routed to inst1, and
#   sc_off     instance 0 on both: nothing stamped
#   sc_direct  the second chance on (inst1 instance 1, inst2 instance 2)
#   sc_fwd     the same, and A moved to inst2 once the connections are
#              up: every segment from the client reaches inst2, which
#              forwards it to inst1 in IP-in-IP
# for bulk throughput each way (iperf3 -O: the move falls within the
# seconds left out) and the round trips of one connection (tests/bench/rr).
# Then, for anypin.ko and for conntrack (the DNAT),
# the flow table filled with half-open entries (SYNs from tests/bench/syns
# to an address the client routes into a device that drops them):
#   memory per flow   growth of unreclaimable slab + vmalloc per entry,
#                     at 10k and at 1M entries
#   lookup cost       connections/s, handshake and bulk throughput of the
#                     same path with 10k and 1M other entries in the table:
#                     anypin.ko's against a second client (client2) whose
#                     table stays empty, measured alternately; conntrack's
#                     against itself with the table almost empty, before
#                     and after (its hash table is shared by namespaces)
#   idle CPU          the guest's busy CPU with the table full, idle
# Results to $BENCH_RAW (default $ANYPIN_VM_OUT/raw-vm.txt; see lib.sh).
#
# Environment: BENCH_ROUNDS (3), BENCH_SECS (4), BENCH_FAMILY (4 or 6),
# BENCH_METRICS ("bulk1 bulk8 bulkR conn1 conn8", see lib.sh),
# BENCH_TABLE_ROUNDS (2), BENCH_TABLE_SECS (3), BENCH_FLOWS ("10000
# 1000000"), BENCH_TABLES ("kmod dnat": which tables to fill; empty: none),
# BENCH_SC (1; 0 skips the second chance).

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
BENCH_ME=tests/bench/vm.sh

[ "${ANYPIN_VM:-}" = 1 ] || {
	echo "$BENCH_ME: runs inside the VM: tests/vm/run -- $0" >&2
	exit 2
}
if [ -z "${ANYPIN_KO:-}" ] || [ ! -e "$ANYPIN_KO" ]; then
	echo "$BENCH_ME: no module (ANYPIN_KO)" >&2
	exit 2
fi
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd

export LAB=${LAB:-hb-}
# shellcheck source=../lab/lab.sh
. "$root/tests/lab/lab.sh"
# shellcheck source=../lab/datapath/kmod.sh
. "$root/tests/lab/datapath/kmod.sh"
# shellcheck source=lib.sh
. "$here/lib.sh"

ROUNDS=${BENCH_ROUNDS:-3}
TROUNDS=${BENCH_TABLE_ROUNDS:-2}
TSECS=${BENCH_TABLE_SECS:-3}
FLOWS=${BENCH_FLOWS:-10000 1000000}
TABLES=${BENCH_TABLES-kmod dnat}
BENCH_CONNRATE=$root/build/bench/connrate
SYNS=$root/build/bench/syns
BENCH_RAW=${BENCH_RAW:-${ANYPIN_VM_OUT:?}/raw-vm.txt}
read -ra METRICS <<<"${BENCH_METRICS:-bulk1 bulk8 bulkR conn1 conn8}"

tools=("$BENCH_CONNRATE" "$SYNS")
[ "$SC" = 0 ] || tools+=("$RR")
for t in "${tools[@]}"; do
	[ -x "$t" ] || { echo "$BENCH_ME: $t not built (make bench builds it)" >&2; exit 2; }
done
: >"$BENCH_RAW"
bench_family

kmod_on() {
	insmod "$ANYPIN_KO" && datapath_start
}

kmod_off() {
	datapath_stop
	rmmod anypin
}

# "1M" for 1000000, "10k" for 10000.
short() {
	awk -v n="$1" 'BEGIN {
		if (n % 1000000 == 0) print n / 1000000 "M"
		else if (n % 1000 == 0) print n / 1000 "k"
		else print n }'
}

# count MODE: entries in MODE's table on the client.
count() {
	case $1 in
	kmod) apstat client flows ;;
	dnat) lab_ns client cat /proc/sys/net/netfilter/nf_conntrack_count ;;
	esac
}

# settle: until the kernel's memory stops moving (under 16 kB in a
# second; at most 30 s): freeing after RCU grace periods, table resizes.
settle() {
	local a b i
	a=$(bench_kernel_kb)
	for i in $(seq 30); do
		sleep 1
		b=$(bench_kernel_kb)
		[ $((b - a)) -lt 16 ] && [ $((a - b)) -lt 16 ] && return 0
		a=$b
	done
	bench_log "kernel memory still moving after $i s"
}

# fill MODE N DPORT [AT]: N more half-open entries (SYNs from ports
# 1024... to ports DPORT...); records the SYNs' rate as fill_rate@AT.
fill() {
	local rate
	rate=$(lab_ns client "$SYNS" "$BENCH_C" "$BENCH_FILL" "$2" "$3" | awk '{ print $6 }')
	[ -z "${4:-}" ] || bench_rec value vm "fill_rate@$4" "$1" "$rate"
}

# memory MODE AT K0 C0: records the growth per entry since K0 kB, C0 entries.
memory() {
	local k1 c1
	settle
	k1=$(bench_kernel_kb)
	c1=$(count "$1")
	bench_rec value vm "mem@$2" "$1" "$(awk -v k="$((k1 - $3))" -v c="$((c1 - $4))" \
		'BEGIN { if (c > 0) printf "%.1f", k * 1024 / c; else print "nan" }')"
	bench_rec value vm "added@$2" "$1" "$((c1 - $4))"
	bench_log "$1: $c1 entries, $((k1 - $3)) kB more"
}

TRACE=/sys/kernel/tracing
# The table's expiry work: anypin.ko's and conntrack's.
declare -A GC_FUNC=([kmod]=anypin_gc [dnat]=gc_worker)

# idle MODE AT: with nothing running, the guest's busy CPU (idlecpu@AT,
# % of one CPU) and, over the same 8 s, the runs of MODE's expiry work in
# every namespace, timed by ftrace's function_graph tracer (wall clock):
# gc@AT their sum in % of one CPU, gc_max@AT the longest in ms (a pass
# over the client's table), gc_runs@AT how many.
idle() {
	local f=${GC_FUNC[$1]} traced=0 busy ms max runs
	if {
		{ [ -e "$TRACE/current_tracer" ] || mount -t tracefs nodev "$TRACE"; } &&
			echo 0 >"$TRACE/tracing_on" && : >"$TRACE/trace" &&
			echo "$f" >"$TRACE/set_ftrace_filter" &&
			echo function_graph >"$TRACE/current_tracer" &&
			echo 1 >"$TRACE/tracing_on"
	} 2>/dev/null; then
		traced=1
	else
		bench_log "cannot trace $f"
	fi
	busy=$(bench_cpu_busy 8)
	bench_rec value vm "idlecpu@$2" "$1" "$busy"
	[ "$traced" = 1 ] || return 0
	echo 0 >"$TRACE/tracing_on"
	read -r ms max runs < <(awk '{
			for (i = 2; i <= NF; i++) if ($i == "us") {
				d = $(i - 1); s += d; n++; if (d > m) m = d
			} }
		END { printf "%.3f %.3f %d\n", s / 1000, m / 1000, n }' "$TRACE/trace")
	bench_rec value vm "gc@$2" "$1" "$(awk -v ms="$ms" 'BEGIN { printf "%.2f", ms / 8000 * 100 }')"
	bench_rec value vm "gc_max@$2" "$1" "$max"
	bench_rec value vm "gc_runs@$2" "$1" "$runs"
	echo nop >"$TRACE/current_tracer"
	: >"$TRACE/set_ftrace_filter"
}

# state MODE AT TAG ROUND...: the path's metrics with the table as it
# is, under the metric names conn1@TAG...
state() {
	local mode=$1 at=$2 tag=$3 r
	shift 3
	for r; do
		BENCH_SECS=$TSECS BENCH_TAG=@$tag bench_measure vm "$mode" "$r" conn1 bulk1
	done
	idle "$mode" "$at"
	bench_rec value vm "entries@$at" "$mode" "$(count "$mode")"
}

table_on() {
	case $1 in
	kmod)
		kmod_on
		lab_sysctl client net.anypin.max_flows=16777216 \
			net.anypin.syn_timeout=3600
		;;
	dnat)
		# Sized as an operator would for a million flows (one bucket
		# per entry, the kernel's default ratio); half-open entries
		# kept for the hour.
		printf '%s\n' 1048576 >/proc/sys/net/netfilter/nf_conntrack_buckets
		printf '%s\n' 4194304 >/proc/sys/net/netfilter/nf_conntrack_max
		bench_dnat_on
		lab_ns client "$LAB_IPT" -w -t nat -A OUTPUT -d "$BENCH_FILL4" \
			-j DNAT --to-destination "$BENCH_FILL_NAT4"
		lab_ns client "$LAB_IP6T" -w -t nat -A OUTPUT -d "$BENCH_FILL6" \
			-j DNAT --to-destination "$BENCH_FILL_NAT6"
		lab_sysctl client net.netfilter.nf_conntrack_tcp_timeout_syn_sent=3600
		;;
	esac
}

few_left() {
	[ "$(count kmod)" -lt 100 ]
}

# empty MODE: every filler entry gone.
empty() {
	case $1 in
	kmod)
		lab_sysctl client net.anypin.syn_timeout=1 net.anypin.fin_timeout=1
		lab_wait_until 300 few_left ||
			bench_log "kmod: $(count kmod) entries left"
		lab_sysctl client net.anypin.syn_timeout=75 net.anypin.fin_timeout=60
		;;
	dnat)
		lab_ns client conntrack -F 2>/dev/null ||
			bench_log "dnat: conntrack -F failed"
		;;
	esac
}

table_off() {
	case $1 in
	kmod) kmod_off ;;
	dnat)
		bench_dnat_off
		lab_sysctl client net.netfilter.nf_conntrack_tcp_timeout_syn_sent=120
		;;
	esac
}

# quiet MODE N: memory per flow with N entries, before any traffic ran:
# at 10k entries, a few hundred TIME_WAIT sockets or closing entries
# going away in the same seconds would be a noise of 20 %.
quiet() {
	local k0 c0
	table_on "$1"
	settle
	k0=$(bench_kernel_kb)
	c0=$(count "$1")
	bench_log "$1: $(short "$2") entries, before any traffic"
	fill "$1" "$2" 50000
	memory "$1" "$(short "$2")" "$k0" "$c0"
	empty "$1"
	table_off "$1"
}

# pairs MODE AT ROUND...: the path from the client, whose table is as it
# is, and from client2, whose table holds only its own flows, one right
# after the other (which one first alternates), as conn1@AT... of MODE
# and of MODE.ctl: the host's load drifts by the minute, and this pairs
# measurements seconds apart. For the module only: conntrack's hash table
# is one for all namespaces, so client2 would not be a control for it.
pairs() {
	local mode=$1 at=$2 r from m
	shift 2
	for r; do
		for from in $(bench_order "$r" client client2); do
			m=$mode
			[ "$from" = client ] || m=$mode.ctl
			BENCH_FROM=$from BENCH_SECS=$TSECS BENCH_TAG=@$at \
				bench_measure vm "$m" "$r" conn1 bulk1
		done
	done
	idle "$mode" "$at"
	bench_rec value vm "entries@$at" "$mode" "$(count "$mode")"
}

# table MODE: the path with the table almost empty, filled to each size
# of $FLOWS, and (conntrack) emptied again: anypin.ko against client2
# (pairs), conntrack against itself before and after (state); memory per
# flow for the sizes that quiet() did not measure.
table() {
	local mode=$1 n at sent=0 k0 c0 dport=10000 obj rounds after
	mapfile -t rounds < <(seq "$TROUNDS")
	mapfile -t after < <(seq $((TROUNDS + 1)) $((2 * TROUNDS)))
	table_on "$mode"
	bench_log "$mode: table almost empty"
	case $mode in
	kmod)
		kmod__apply client2 client
		pairs kmod 0 "${rounds[@]}"
		;;
	dnat) state dnat 0 0 "${rounds[@]}" ;;
	esac
	for n in $FLOWS; do
		at=$(short "$n")
		settle
		k0=$(bench_kernel_kb)
		c0=$(count "$mode")
		bench_log "$mode: filling to $at"
		fill "$mode" $((n - sent)) "$dport" "$at"
		dport=$((dport + (n - sent + 64511) / 64512))
		sent=$n
		if [ "$n" -ge "$QUIET_MAX" ]; then
			memory "$mode" "$at" "$k0" "$c0"
		fi
		case $mode in
		kmod) pairs kmod "$at" "${rounds[@]}" ;;
		dnat) state dnat "$at" "$at" "${rounds[@]}" ;;
		esac
	done
	case $mode in
	kmod) obj=/sys/kernel/slab/anypin_flow ;;
	dnat) obj=/sys/kernel/slab/nf_conntrack ;;
	esac
	bench_rec value vm objsize "$mode" "$(cat "$obj/object_size")"
	bench_rec value vm slabsize "$mode" "$(cat "$obj/slab_size")"
	bench_log "$mode: emptying the table"
	empty "$mode"
	if [ "$mode" = dnat ]; then
		state dnat 0b 0 "${after[@]}"
	fi
	table_off "$mode"
}

# sc_stat NS COUNTER: COUNTER of NS's prefix of the measured family
# (/proc/net/anypin/stats), 0 when there is none; for lib.sh's sc_run.
sc_stat() {
	local v
	v=$(apstat "$1" "$2" "any$BENCH_FAMILY" 2>/dev/null)
	echo "${v:-0}"
}

lab_up
bench_servers "$BENCH_CONNRATE"
bench_sink_dev
bench_client2_up

bench_rec info vm where "qemu TCG guest, kernel $(uname -r), $(nproc) vCPUs, $(awk '/MemTotal/ { printf "%d MiB", $2 / 1024 }' /proc/meminfo), veth lab (tests/lab)"
bench_rec info vm run "IPv$BENCH_FAMILY, $ROUNDS rounds of $BENCH_SECS s per measurement; tables: $TROUNDS rounds of $TSECS s per state"
if [ "$SC" != 0 ]; then
	sc_setup vm
fi

# Tables smaller than this: their memory is measured first, in quiet.
QUIET_MAX=100000
for mode in $TABLES; do
	for n in $FLOWS; do
		if [ "$n" -lt "$QUIET_MAX" ]; then
			quiet "$mode" "$n"
		fi
	done
done

for r in $(seq "$ROUNDS"); do
	for mode in $(bench_order "$r" without kmod dnat); do
		bench_log "round $r/$ROUNDS: $mode"
		case $mode in
		without) bench_measure vm without "$r" "${METRICS[@]}" ;;
		kmod)
			kmod_on
			bench_measure vm kmod "$r" "${METRICS[@]}"
			kmod_off
			;;
		dnat)
			bench_dnat_on
			bench_measure vm dnat "$r" "${METRICS[@]}"
			bench_dnat_off
			;;
		esac
	done
done

# The second chance (lib.sh): a module refusing its keys ends the run.
if [ "$SC" != 0 ]; then
	sc_rounds vm "$ROUNDS" kmod_on kmod_off
fi

for mode in $TABLES; do
	table "$mode"
done
bench_rec info vm load "guest load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
bench_log "done"
