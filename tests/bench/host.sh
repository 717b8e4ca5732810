#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# The host half of `make bench` (tests/bench/run): on the lab path (client
# -> router -> inst1, A routed to inst1), in every round each metric
#   without   no anypin
#   anypind   anypind on the client and both instances
#   dnat      a static DNAT of A to U1 on the client (iptables -t nat),
#             nothing on the instances: what an operator does today
# with the order of the three rotated from round to round, and anypind's
# own CPU time during each anypind measurement. Then anypind's second
# chance (docs/second-chance.md: its tc programs), measured as vm.sh
# measures anypin.ko's (lib.sh's sc_rounds): a client without anypin, both
# instances anypind responders, A routed to inst1, rounds of
#   sc_off     no instance on either: no tc program, nothing stamped
#   sc_direct  the second chance on (inst1 instance 1, inst2 instance 2)
#   sc_fwd     the same, and A moved to inst2 once the connections are
#              up: inst2 forwards every segment from the client to inst1
#              in IP-in-IP
# with the anypinds stopped between modes; bulk throughput each way and
# the round trips of one connection (tests/bench/rr). Then anypind's flow
# table alone (table.c): memory per flow, insertion and lookup at 10k and
# 1M flows. Results to $BENCH_RAW (see lib.sh).
#
# Environment: BENCH_ROUNDS (3), BENCH_SECS (4, per measurement),
# BENCH_FAMILY (4 or 6), BENCH_RAW (build/bench/raw-host.txt), LAB (hb-),
# BENCH_SC (1; 0 skips the second chance).

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export LAB=${LAB:-hb-}
# shellcheck source=../lab/lab.sh
. "$root/tests/lab/lab.sh"
# shellcheck source=../lab/datapath/anypind.sh
. "$root/tests/lab/datapath/anypind.sh"
# shellcheck source=lib.sh
. "$here/lib.sh"

BENCH_ME=tests/bench/host.sh
ROUNDS=${BENCH_ROUNDS:-3}
BENCH_CONNRATE=${BENCH_CONNRATE:-$root/build/bench/connrate}
TABLE=${BENCH_TABLE:-$root/build/bench/table}
BENCH_RAW=${BENCH_RAW:-$root/build/bench/raw-host.txt}
METRICS=(bulk1 bulk8 bulkR conn1 conn8)

if [ "$(id -u)" != 0 ]; then
	echo "$BENCH_ME: must run as root (network namespaces)" >&2
	exit 2
fi
for t in iperf3 $LAB_TOOLS; do
	command -v "$t" >/dev/null || { echo "$BENCH_ME: missing $t" >&2; exit 2; }
done
if ! why=$(datapath_available); then
	echo "$BENCH_ME: $why" >&2
	exit 2
fi
tools=("$BENCH_CONNRATE" "$TABLE")
[ "$SC" = 0 ] || tools+=("$RR")
for t in "${tools[@]}"; do
	if [ ! -x "$t" ]; then
		echo "$BENCH_ME: $t not built (make bench builds it)" >&2
		exit 2
	fi
done
mkdir -p "$(dirname "$BENCH_RAW")"
: >"$BENCH_RAW"
bench_family

# anypind's own CPU time: the PIDs of the anypinds (anypind_pids, once
# they run), then the clock ticks each has used so far (user + system,
# fields 14 and 15 of /proc/PID/stat) read without a fork around every
# measurement, and the difference as % of one core over its wall time.
HZ=$(getconf CLK_TCK)
declare -A apid c0 c1

anypind_pids() {
	local ns
	for ns in client inst1 inst2; do
		apid[$ns]=$(anypind_pid "$ns")
	done
}

# anypind_ticks ARRAY: ARRAY[NS] = the ticks of NS's anypind (0 unknown).
anypind_ticks() {
	local ns line f n
	for ns in client inst1 inst2; do
		n=0
		if [ -n "${apid[$ns]:-}" ] &&
			read -r line 2>/dev/null <"/proc/${apid[$ns]}/stat"; then
			# (from field 3 on: the name, field 2, may hold spaces)
			read -ra f <<<"${line##*) }"
			n=$((f[11] + f[12]))
		fi
		printf -v "$1[$ns]" '%s' "$n"
	done
}

# cpu_pct TICKS MICROSECONDS [FORMAT]: % of one core.
cpu_pct() {
	awk -v c="$1" -v t="$2" -v hz="$HZ" -v f="${3:-%.1f}" \
		'BEGIN { printf f "\n", c / hz / (t / 1e6) * 100 }'
}

# sc_stat NS COUNTER: COUNTER of NS's prefix of the measured family in
# its anypind's `stats` (lab_stat, through anypind.sh's datapath_stats),
# 0 when there is none; for lib.sh's sc_run.
sc_stat() {
	local v
	v=$(lab_stat "$1" "$2" "any$BENCH_FAMILY") || v=
	echo "${v:-0}"
}

# sc_stop: the anypinds stopped, and what they leave behind removed, so
# that every mode starts from the same path: their empty base chains
# (bench_flush), and on the instances the clsact qdisc that held their
# second chance's filters (anypind removes its filters on exit, not the
# qdisc, which could hold others'): with it, sc_off would run through
# tc's hooks in the rounds after an sc_direct and not in the first.
sc_stop() {
	local ns
	datapath_stop
	bench_flush client inst1 inst2
	for ns in inst1 inst2; do
		lab_ns "$ns" tc qdisc del dev eth0 clsact 2>/dev/null || true
	done
}

lab_up
bench_servers "$BENCH_CONNRATE"

bench_rec info host where "this host's kernel $(uname -r), $(nproc) CPUs, veth lab (tests/lab)"
bench_rec info host run "IPv$BENCH_FAMILY, $ROUNDS rounds of $BENCH_SECS s per measurement, load average before $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$SC" != 0 ]; then
	sc_setup host
fi
bench_log "IPv$BENCH_FAMILY, $ROUNDS rounds of ${BENCH_SECS} s per measurement, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$ROUNDS"); do
	for mode in $(bench_order "$r" without anypind dnat); do
		bench_log "round $r/$ROUNDS: $mode"
		case $mode in
		without)
			bench_measure host without "$r" "${METRICS[@]}"
			;;
		anypind)
			datapath_start
			anypind_pids
			for m in "${METRICS[@]}"; do
				anypind_ticks c0
				t0=${EPOCHREALTIME/./}
				bench_measure host anypind "$r" "$m"
				t1=${EPOCHREALTIME/./}
				anypind_ticks c1
				# All three anypinds, every metric (not in the table).
				bench_rec sample host "cpu_$m" anypind "$r" "$(cpu_pct \
					$((c1[client] + c1[inst1] + c1[inst2] - c0[client] - c0[inst1] - c0[inst2])) \
					$((t1 - t0)) %.0f)"
				# The bulk runs: the client's and the serving instance's
				# anypind, each (report.py's "anypind CPU" rows).
				case $m in
				bulk*)
					for ns in client inst1; do
						v=nan
						[ -z "${apid[$ns]}" ] ||
							v=$(cpu_pct $((c1[$ns] - c0[$ns])) $((t1 - t0)))
						bench_rec sample host "cpu.$ns.$m" anypind "$r" "$v"
					done
					;;
				esac
			done
			status=$(anypind_query client status)
			datapath_stop
			bench_flush client inst1 inst2
			;;
		dnat)
			bench_dnat_on
			bench_measure host dnat "$r" "${METRICS[@]}"
			bench_dnat_off
			;;
		esac
	done
done
bench_rec info host anypind "client anypind after its last round: $(printf '%s\n' "$status" |
	awk '$1 ~ /^(packets|changed|queue_dropped|queue_user_dropped|truncated|unparsed|verdict_errors|nft_errors|restores)$/ { printf "%s %s, ", $1, $2 }' | sed 's/, $//')"

# The second chance (lib.sh), each mode with anypind started from the
# lab's configuration (datapath_start) and stopped after; an anypind that
# refuses its keys ends the run (BENCH_SC=0 leaves it out).
if [ "$SC" != 0 ]; then
	sc_rounds host "$ROUNDS" datapath_start sc_stop
fi
bench_rec info host load "load average after $(cut -d' ' -f1-3 /proc/loadavg)"

bench_log "anypind's flow table alone (table.c)"
"$TABLE" 10000 1000000 | while read -r _ n _ bytes _ ins _ look _; do
	case $n in
	10000) at=10k ;;
	1000000) at=1M ;;
	*) at=$n ;;
	esac
	bench_rec value host "mem@$at" anypind "$bytes"
	bench_rec value host "insert_ns@$at" anypind "$ins"
	bench_rec value host "lookup_ns@$at" anypind "$look"
done
