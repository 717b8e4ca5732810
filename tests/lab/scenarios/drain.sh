#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# Drain: a paced download from A (IPv4) and A6 (IPv6) is served by inst1;
# once the first 100 kB have arrived, A is withdrawn from inst1
# (lab_withdraw inst1: the router sends A to inst2 from then on; inst1 keeps
# the address and its connections), and the client opens new connections.
#
#   without anypin   new connections go to inst2, and the download in
#                    progress breaks (its packets now reach inst2 as well)
#   with DATAPATH    new connections go to inst2 (/whoami), and the
#                    download in progress goes on to U1 and is byte-exact

set -euo pipefail
# shellcheck source=../lab.sh
. "$(dirname "$0")/../lab.sh"

MB=${DRAIN_MB:-2}
RATE=${DRAIN_RATE:-$((1000000 / LAB_SLOW))}
CURL_ARGS=(--max-time "${DRAIN_MAXTIME:-$((20 * LAB_SLOW))}" --speed-limit 1024 --speed-time $((6 * LAB_SLOW)))

declare -A who u1 at

run() {
	local f a
	lab_route_a inst1
	lab_count_zero
	lab_fetch_bg "$1-v4" "$(lab_url "$A4" "data.bin?rate=$RATE&$(lab_hold "$1-v4")")" "${CURL_ARGS[@]}"
	lab_fetch_bg "$1-v6" "$(lab_url "$A6" "data.bin?rate=$RATE&$(lab_hold "$1-v6")")" "${CURL_ARGS[@]}"
	lab_fetch_wait_bytes "$1-v4" 100000 15 || true
	lab_fetch_wait_bytes "$1-v6" 100000 15 || true
	lab_withdraw inst1
	# Counted before the server goes on (it holds at 100 kB), as in
	# basic_pinning.
	at[4]=$(lab_fetch_bytes "$1-v4")
	at[6]=$(lab_fetch_bytes "$1-v6")
	for f in 4 6; do
		u1[$f]=$(lab_count u-to-inst1 "$f")
		eval "a=\$A$f"
		# shellcheck disable=SC2154  # a is set by the eval above
		who[$f]="$(lab_whoami "$a") $(lab_whoami "$a")"
	done
	lab_release "$1-v4" "$1-v6"
	lab_fetch_wait
	for f in 4 6; do
		u1[$f]=$(($(lab_count u-to-inst1 "$f") - u1[$f]))
	done
	lab_route_a inst1
}

lab_up
lab_serve "$MB"

if lab_plain; then
	run without
	for f in 4 6; do
		lab_fetch_result "without-v$f"
		name="drain-v$f without anypin"
		if [ "${who[$f]}" != "inst2 inst2" ]; then
			lab_fail "$name" "new connections after the withdrawal served by '${who[$f]}', expected inst2: the lab is broken"
		elif [ "$FETCH_EXACT" = 1 ]; then
			lab_fail "$name" "the download survived the withdrawal byte-exact in $FETCH_SECS s: the scenario proves nothing"
		else
			lab_pass "$name" "new connections go to inst2, the download in progress broke as expected ($(lab_fetch_describe); $(lab_rsts "$f"))"
		fi
	done
fi

for dp in $(lab_datapaths); do
	if ! lab_datapath_use "$dp"; then
		lab_datapath_unavailable "drain-v4 with $dp" "drain-v6 with $dp"
		continue
	fi
	lab_datapath_start
	run "with-$dp"
	lab_datapath_stop
	for f in 4 6; do
		lab_fetch_result "with-$dp-v$f"
		name="drain-v$f with $dp"
		if [ "$FETCH_EXACT" != 1 ]; then
			lab_fail "$name" "the download in progress: $(lab_fetch_describe); $(lab_rsts "$f")"
		elif [ "${at[$f]}" -ge $((LAB_DATA_BYTES / 2)) ]; then
			lab_fail "$name" "byte-exact, but the withdrawal came only after $(lab_mib "${at[$f]}") MB had arrived: too late to prove anything"
		elif [ "${who[$f]}" != "inst2 inst2" ]; then
			lab_fail "$name" "new connections after the withdrawal served by '${who[$f]}', expected inst2"
		else
			lab_pass "$name" "new connections go to inst2, the download in progress stayed on inst1: $(lab_fetch_describe), ${u1[$f]} packets to U1 after the withdrawal"
		fi
	done
done

lab_done
