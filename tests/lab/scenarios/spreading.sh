#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# Per-packet load balancing: the router spreads the packets to A across both
# instances (lab_spread_on: every other packet to inst1, the rest to inst2),
# and the client makes SPREAD_CONNS short paced downloads from A and from A6,
# one after the other (IPv4 and IPv6 at the same time).
#
#   without anypin   most connections break (more than half must): their
#                    packets alternate between an instance that has them
#                    and one that does not (which answers with a RST,
#                    often already the handshake's ACK); one may slip
#                    through when other packets shift the alternation
#   with DATAPATH    every download is byte-exact: the SYN lands on either
#                    instance, everything after it goes to that instance's
#                    U; since only the SYNs go to A, successive connections
#                    land on both instances (checked via X-Lab-Instance)

set -euo pipefail
# shellcheck source=../lab.sh
. "$(dirname "$0")/../lab.sh"

MB=${SPREAD_MB:-1}
RATE=${SPREAD_RATE:-$((2000000 / LAB_SLOW))}
CONNS=${SPREAD_CONNS:-4}
CURL_ARGS=(--max-time "${SPREAD_MAXTIME:-$((10 * LAB_SLOW))}" --speed-limit 1024 --speed-time $((3 * LAB_SLOW)))

# series TAG F: CONNS downloads from A (family F), one after the other.
series() {
	local a i
	eval "a=\$A$2"
	for ((i = 1; i <= CONNS; i++)); do
		lab_fetch "$1-v$2-$i" "$(lab_url "$a" "data.bin?rate=$RATE")" \
			-D "$LAB_STATE/$1-v$2-$i.hdr" "${CURL_ARGS[@]}"
	done
}

# judge TAG F: sets exact (downloads byte-exact), served (instances, in
# order), first (the first failure, described) and rst (the RSTs).
judge() {
	local i who
	exact=0 served='' first=''
	for ((i = 1; i <= CONNS; i++)); do
		lab_fetch_result "$1-v$2-$i"
		who=$(sed -n 's/^X-Lab-Instance: *\([a-z0-9]*\).*/\1/p' \
			"$LAB_STATE/$1-v$2-$i.hdr" 2>/dev/null | head -n 1)
		served="$served ${who:-?}"
		if [ "$FETCH_EXACT" = 1 ]; then
			exact=$((exact + 1))
		elif [ -z "$first" ]; then
			first="#$i: $(lab_fetch_describe)"
		fi
	done
	served=${served# }
	rst=$(lab_rsts "$2")
}

run() {
	lab_route_a inst1
	lab_spread_on
	lab_count_zero
	series "$1" 4 &
	LAB_FETCH_PIDS=$!
	series "$1" 6 &
	LAB_FETCH_PIDS="$LAB_FETCH_PIDS $!"
	lab_fetch_wait
	lab_spread_off
}

lab_up
lab_serve "$MB"

if lab_plain; then
	run without
	for f in 4 6; do
		judge without "$f"
		name="spreading-v$f without anypin"
		if [ $((2 * exact)) -ge "$CONNS" ]; then
			lab_fail "$name" "$exact of $CONNS downloads byte-exact despite per-packet spreading: the scenario proves nothing (served by: $served)"
		else
			lab_pass "$name" "$((CONNS - exact)) of $CONNS connections broken as expected (first: $first; $rst)"
		fi
	done
fi

for dp in $(lab_datapaths); do
	if ! lab_datapath_use "$dp"; then
		lab_datapath_unavailable "spreading-v4 with $dp" "spreading-v6 with $dp"
		continue
	fi
	lab_datapath_start
	run "with-$dp"
	lab_datapath_stop
	for f in 4 6; do
		judge "with-$dp" "$f"
		name="spreading-v$f with $dp"
		if [ "$exact" != "$CONNS" ]; then
			lab_fail "$name" "$exact of $CONNS downloads byte-exact (first failure $first; served by: $served; $rst)"
		elif [[ " $served " != *" inst1 "* ]] || [[ " $served " != *" inst2 "* ]]; then
			lab_fail "$name" "$CONNS downloads byte-exact, but all served by one instance ($served): the spreading did not reach the SYNs"
		else
			lab_pass "$name" "$CONNS of $CONNS downloads of $MB MB byte-exact, served by $served ($(lab_count u-to-inst1 "$f")/$(lab_count u-to-inst2 "$f") packets to U1/U2, $(lab_count a-to-inst1 "$f")/$(lab_count a-to-inst2 "$f") to A at inst1/inst2)"
		fi
	done
done

lab_done
