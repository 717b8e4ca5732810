#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# Basic pinning: a paced download from A (IPv4) and A6 (IPv6); once the
# first 100 kB have arrived, the router moves A from inst1 to inst2, once.
# The router's counters show where the connection's packets went.
#
#   without anypin   the client's packets go to A (router: packets to A,
#                    none to U1), and the one flip breaks the download
#   with DATAPATH    the packets go to U1 (router: packets to U1, at most
#                    the SYN to A), still to U1 after the flip (nothing to
#                    A at inst2), and the download is byte-exact

set -euo pipefail
# shellcheck source=../lab.sh
. "$(dirname "$0")/../lab.sh"

MB=${BASIC_MB:-2}
RATE=${BASIC_RATE:-$((1000000 / LAB_SLOW))}
CURL_ARGS=(--max-time "${BASIC_MAXTIME:-$((20 * LAB_SLOW))}" --speed-limit 1024 --speed-time $((6 * LAB_SLOW)))

declare -A a1 u1 a2 u1b at

# run TAG: both downloads, one flip after 100 kB; counters in a1/u1 (packets
# to A at inst1 / to U1 until the flip), a2/u1b (to A at inst2 / to U1
# after it).
run() {
	local f
	lab_route_a inst1
	lab_count_zero
	lab_fetch_bg "$1-v4" "$(lab_url "$A4" "data.bin?rate=$RATE&$(lab_hold "$1-v4")")" "${CURL_ARGS[@]}"
	lab_fetch_bg "$1-v6" "$(lab_url "$A6" "data.bin?rate=$RATE&$(lab_hold "$1-v6")")" "${CURL_ARGS[@]}"
	lab_fetch_wait_bytes "$1-v4" 100000 15 || true
	lab_fetch_wait_bytes "$1-v6" 100000 15 || true
	lab_route_a inst2
	# Counted before the server goes on (it holds at 100 kB): a slow
	# guest's counting must not eat into the part after the flip.
	at[4]=$(lab_fetch_bytes "$1-v4")
	at[6]=$(lab_fetch_bytes "$1-v6")
	for f in 4 6; do
		a1[$f]=$(lab_count a-to-inst1 "$f")
		u1[$f]=$(lab_count u-to-inst1 "$f")
	done
	lab_release "$1-v4" "$1-v6"
	lab_fetch_wait
	for f in 4 6; do
		a2[$f]=$(lab_count a-to-inst2 "$f")
		u1b[$f]=$(($(lab_count u-to-inst1 "$f") - u1[$f]))
	done
	lab_route_a inst1
}

# wire F: the counters in words.
wire() {
	printf 'until the flip %s packets to A, %s to U1; after it %s to A at inst2, %s more to U1' \
		"${a1[$1]}" "${u1[$1]}" "${a2[$1]}" "${u1b[$1]}"
}

lab_up
lab_serve "$MB"

if lab_plain; then
	run without
	for f in 4 6; do
		lab_fetch_result "without-v$f"
		name="basic-v$f without anypin"
		if [ "$FETCH_EXACT" = 1 ]; then
			lab_fail "$name" "byte-exact in $FETCH_SECS s despite the flip: the scenario proves nothing ($(wire "$f"))"
		elif [ "${a1[$f]}" -lt 5 ] || [ "${u1[$f]}" != 0 ]; then
			lab_fail "$name" "expected the traffic to go to A, not U1 ($(wire "$f"); $(lab_fetch_describe))"
		else
			lab_pass "$name" "traffic to A ($(wire "$f")), the flip broke it ($(lab_fetch_describe); $(lab_rsts "$f"))"
		fi
	done
fi

for dp in $(lab_datapaths); do
	if ! lab_datapath_use "$dp"; then
		lab_datapath_unavailable "basic-v4 with $dp" "basic-v6 with $dp"
		continue
	fi
	lab_datapath_start
	run "with-$dp"
	lab_datapath_stop
	for f in 4 6; do
		lab_fetch_result "with-$dp-v$f"
		name="basic-v$f with $dp"
		if [ "$FETCH_EXACT" != 1 ]; then
			lab_fail "$name" "$(lab_fetch_describe); $(lab_rsts "$f"); $(wire "$f")"
		elif [ "${at[$f]}" -ge $((LAB_DATA_BYTES / 2)) ]; then
			lab_fail "$name" "byte-exact, but the flip came only after $(lab_mib "${at[$f]}") MB had arrived: too late to prove anything"
		elif [ "${u1[$f]}" -lt 5 ] || [ "${a1[$f]}" -gt 3 ]; then
			lab_fail "$name" "byte-exact, but not pinned to U1 before the flip ($(wire "$f"))"
		elif [ "${a2[$f]}" != 0 ] || [ "${u1b[$f]}" -lt 10 ]; then
			lab_fail "$name" "byte-exact, but not pinned to U1 after the flip ($(wire "$f"))"
		else
			lab_pass "$name" "$(lab_fetch_describe) through one flip; on the router: $(wire "$f")"
		fi
	done
done

lab_done
