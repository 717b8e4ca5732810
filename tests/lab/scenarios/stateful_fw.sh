#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# A client with a stateful firewall: its INPUT drops what conntrack calls
# INVALID (iptables and ip6tables `-m conntrack --ctstate INVALID -j DROP`).
# The client downloads from A and A6 (paced) while A flips every
# FW_FLAP_MS.
#
#   without anypin   the flips break the download
#   with DATAPATH    byte-exact through the flips: conntrack sees one
#                    consistent connection to A, so the SYN-ACK from U1 and
#                    everything after it were rewritten to A before
#                    conntrack (a SYN-ACK from U1 that conntrack saw as
#                    such would be INVALID, dropped, and the connection
#                    would never be made)

set -euo pipefail
# shellcheck source=../lab.sh
. "$(dirname "$0")/../lab.sh"

MB=${FW_MB:-2}
RATE=${FW_RATE:-$((1000000 / LAB_SLOW))}
MS=${FW_FLAP_MS:-200}
CURL_ARGS=(--max-time "${FW_MAXTIME:-$((20 * LAB_SLOW))}" --speed-limit 1024 --speed-time $((3 * LAB_SLOW)))

declare -A at

# invalid F: packets the client's firewall dropped as INVALID.
invalid() {
	local ipt=$LAB_IPT
	[ "$1" = 6 ] && ipt=$LAB_IP6T
	lab_ns client "$ipt" -w -nvxL INPUT |
		awk '/INVALID/ { s += $1 } END { print s + 0 }'
}

run() {
	lab_route_a inst1
	lab_count_zero
	lab_ns client "$LAB_IPT" -w -Z INPUT
	lab_ns client "$LAB_IP6T" -w -Z INPUT
	lab_fetch_bg "$1-v4" "$(lab_url "$A4" "data.bin?rate=$RATE")" "${CURL_ARGS[@]}"
	lab_fetch_bg "$1-v6" "$(lab_url "$A6" "data.bin?rate=$RATE")" "${CURL_ARGS[@]}"
	lab_fetch_wait_bytes "$1-v4" 100000 15 || true
	lab_fetch_wait_bytes "$1-v6" 100000 15 || true
	lab_flap_start "$MS"
	for f in 4 6; do
		at[$f]=$(lab_fetch_bytes "$1-v$f")
	done
	lab_fetch_wait
	lab_flap_stop inst1
}

lab_up
for ipt in "$LAB_IPT" "$LAB_IP6T"; do
	lab_ns client "$ipt" -w -A INPUT -m conntrack --ctstate INVALID -j DROP
done
lab_serve "$MB"

if lab_plain; then
	run without
	for f in 4 6; do
		lab_fetch_result "without-v$f"
		name="stateful-fw-v$f without anypin"
		if [ "$FETCH_EXACT" = 1 ]; then
			lab_fail "$name" "byte-exact in $FETCH_SECS s despite $LAB_FLIPS flips: the scenario proves nothing"
		else
			lab_pass "$name" "broken as expected ($(lab_fetch_describe); $LAB_FLIPS flips; $(lab_rsts "$f"); $(invalid "$f") packets dropped as INVALID)"
		fi
	done
fi

for dp in $(lab_datapaths); do
	if ! lab_datapath_use "$dp"; then
		lab_datapath_unavailable "stateful-fw-v4 with $dp" "stateful-fw-v6 with $dp"
		continue
	fi
	lab_datapath_start
	run "with-$dp"
	lab_datapath_stop
	for f in 4 6; do
		lab_fetch_result "with-$dp-v$f"
		name="stateful-fw-v$f with $dp"
		if [ "$FETCH_EXACT" != 1 ]; then
			lab_fail "$name" "$(lab_fetch_describe); $LAB_FLIPS flips; $(lab_rsts "$f"); $(invalid "$f") packets dropped as INVALID"
		elif [ "$LAB_FLIPS" -lt 2 ]; then
			lab_fail "$name" "byte-exact, but only $LAB_FLIPS flips happened"
		elif [ "${at[$f]}" -ge $((LAB_DATA_BYTES / 2)) ]; then
			lab_fail "$name" "byte-exact, but the flips began only after $(lab_mib "${at[$f]}") MB had arrived: too late to prove anything"
		else
			lab_pass "$name" "$(lab_fetch_describe) through $LAB_FLIPS flips behind the INVALID-dropping firewall ($(invalid "$f") packets dropped as INVALID, $(lab_count u-to-inst1 "$f") packets to U1)"
		fi
	done
done

lab_done
