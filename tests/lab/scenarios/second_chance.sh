#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# Second chance (docs/second-chance.md): the client runs nothing
# (LAB_ANYPIN_LEGACY=client), both instances run the datapath as
# responders. Paced downloads from A and A6; once 100 kB have arrived, A
# moves from inst1 to inst2.
#
#   without the second chance   instances without instance/peers: the
#                               client's segments reach inst2, which has
#                               no socket for them: the download breaks
#   with it                     LAB_ANYPIN_SECOND=1: inst2 forwards them
#                               to inst1 (its id in TSecr), which answers
#                               from A: byte-exact, and the counters say
#                               so (inst1 sc_stamped, sc_mss, sc_tunnel;
#                               inst2 sc_forwarded)

set -euo pipefail
# shellcheck source=../lab.sh
. "$(dirname "$0")/../lab.sh"

MB=${SECOND_CHANCE_MB:-2}
RATE=${SECOND_CHANCE_RATE:-$((1000000 / LAB_SLOW))}
CURL_ARGS=(--max-time $((10 * LAB_SLOW)) --speed-limit 1024 --speed-time $((3 * LAB_SLOW)))

# flip TAG: downloads from A and A6 with A on inst1, moved to inst2 once
# 100 kB of each have arrived.
flip() {
	local f
	lab_route_a inst1
	for f in 4 6; do
		local a=$A4
		[ "$f" = 6 ] && a=$A6
		lab_fetch_bg "$1-v$f" "$(lab_url "$a" "data.bin?rate=$RATE&$(lab_hold "$1-v$f")")" \
			"${CURL_ARGS[@]}"
	done
	lab_fetch_wait_bytes "$1-v4" 100000 10 || true
	lab_fetch_wait_bytes "$1-v6" 100000 10 || true
	lab_route_a inst2
	lab_release "$1-v4" "$1-v6"
	lab_fetch_wait
	lab_route_a inst1
}

# counters HOST PREFIX: its second chance's counters, "name=value ...".
counters() {
	local t c out=
	t=$(lab_stats "$1" 2>/dev/null) || return 0
	for c in sc_stamped sc_mss sc_forwarded sc_limited sc_tunnel; do
		out="$out $c=$(printf '%s\n' "$t" | lab_stat_of "$c" "$2" || echo '?')"
	done
	printf '%s' "${out# }"
}

lab_up
lab_serve "$MB"
LAB_ANYPIN_LEGACY=client

for dp in $(lab_datapaths); do
	if ! lab_datapath_use "$dp"; then
		lab_datapath_unavailable "second-chance-v4 with $dp" \
			"second-chance-v6 with $dp"
		continue
	fi
	LAB_ANYPIN_SECOND=0
	lab_datapath_start
	flip "without-$dp"
	lab_datapath_stop
	LAB_ANYPIN_SECOND=1
	lab_datapath_start
	flip "with-$dp"
	declare -A c1 c2
	c1[4]=$(counters inst1 any4) c1[6]=$(counters inst1 any6)
	c2[4]=$(counters inst2 any4) c2[6]=$(counters inst2 any6)
	lab_datapath_stop
	for f in 4 6; do
		name="second-chance-v$f with $dp"
		lab_fetch_result "without-$dp-v$f"
		if [ "$FETCH_EXACT" = 1 ]; then
			lab_fail "$name" "without the second chance, byte-exact through the flip: the scenario proves nothing"
			continue
		fi
		without=$(lab_fetch_describe)
		lab_fetch_result "with-$dp-v$f"
		case " ${c2[$f]} " in
		*" sc_forwarded=0 "* | *"?"*) fwd=0 ;;
		*) fwd=1 ;;
		esac
		if [ "$FETCH_EXACT" != 1 ]; then
			lab_fail "$name" "$(lab_fetch_describe); inst1 ${c1[$f]}; inst2 ${c2[$f]}"
		elif [ "$fwd" != 1 ]; then
			lab_fail "$name" "byte-exact, but inst2 forwarded nothing (${c2[$f]}): did A move?"
		else
			lab_pass "$name" "without it: $without; with it: $(lab_fetch_describe) (inst1 ${c1[$f]}; inst2 ${c2[$f]})"
		fi
	done
done

lab_done
