#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# Duplicate SYN-ACKs: the router copies every SYN from the client to A/A6
# to inst2 as well (iptables TEE --gateway U2 in its mangle PREROUTING),
# while A is routed to inst1, so both instances answer the same SYN.  The
# client then makes a paced download from A and A6 while A flips between
# the instances every DUP_FLAP_MS.
#
#   without anypin   both SYN-ACKs come from A; the connection breaks (at a
#                    flip, or already because of the duplicate: the later
#                    SYN-ACK's instance answers the client's ACK with a RST)
#   with DATAPATH    the first SYN-ACK (from U1 or U2) binds the flow; the
#                    later one is dropped and its instance gets a RST from
#                    the client (seen on the router: a RST to U2 or U1), so
#                    it keeps no half-open connection (no SYN-RECV socket
#                    left); the download is served by the first responder
#                    and is byte-exact through the flips

set -euo pipefail
# shellcheck source=../lab.sh
. "$(dirname "$0")/../lab.sh"

MB=${DUP_MB:-2}
RATE=${DUP_RATE:-$((1000000 / LAB_SLOW))}
MS=${DUP_FLAP_MS:-200}
CURL_ARGS=(--max-time "${DUP_MAXTIME:-$((20 * LAB_SLOW))}" --speed-limit 1024 --speed-time $((3 * LAB_SLOW)))

declare -A who synrecv syns at

# tee_rules -A|-D: the router's copies of the client's SYNs to inst2.
tee_rules() {
	lab_ns router "$LAB_IPT" -w -t mangle "$1" PREROUTING -i c0 -p tcp \
		--syn -d "$A4" -j TEE --gateway "$U2_4" &&
		lab_ns router "$LAB_IP6T" -w -t mangle "$1" PREROUTING -i c0 \
			-p tcp --syn -d "$A6" -j TEE --gateway "$U2_6"
}

# syn_to_inst2 4|6: SYNs sent to inst2 (the copies and any routed there)
syn_to_inst2() {
	local ipt=$LAB_IPT
	[ "$1" = 6 ] && ipt=$LAB_IP6T
	lab_ns router "$ipt" -w -t mangle -nvxL POSTROUTING | awk '$3 == "tcp" || $3 == "6" { print $1; exit }'
}

# syn_recv INST F: half-open connections in INST from the client port of
# the last download of family F
syn_recv() {
	local port
	port=$(cat "$LAB_STATE/port-v$2" 2>/dev/null) || port=
	[ -n "$port" ] || { echo "?"; return; }
	lab_ns "$1" ss -Htn state syn-recv \
		"sport = :$LAB_PORT and dport = :$port" | wc -l
}

# fetch TAG F: the download (in the background), its client port in
# $LAB_STATE/port-vF
fetch() {
	local a
	eval "a=\$A$2"
	lab_fetch "$1-v$2" "$(lab_url "$a" "data.bin?rate=$RATE&$(lab_hold "$1-v$2")")" \
		-D "$LAB_STATE/$1-v$2.hdr" -w '%{local_port}' "${CURL_ARGS[@]}" \
		>"$LAB_STATE/port-v$2" &
	LAB_FETCH_PIDS="$LAB_FETCH_PIDS $!"
}

run() {
	local f i
	lab_route_a inst1
	lab_count_zero
	lab_ns router "$LAB_IPT" -w -t mangle -Z POSTROUTING
	lab_ns router "$LAB_IP6T" -w -t mangle -Z POSTROUTING
	tee_rules -A
	fetch "$1" 4
	fetch "$1" 6
	lab_fetch_wait_bytes "$1-v4" 100000 15 || true
	lab_fetch_wait_bytes "$1-v6" 100000 15 || true
	lab_flap_start "$MS"
	lab_release "$1-v4" "$1-v6"
	for f in 4 6; do
		at[$f]=$(lab_fetch_bytes "$1-v$f")
	done
	lab_fetch_wait
	lab_flap_stop inst1
	tee_rules -D
	for f in 4 6; do
		who[$f]=$(sed -n 's/^X-Lab-Instance: *\([a-z0-9]*\).*/\1/p' \
			"$LAB_STATE/$1-v$f.hdr" 2>/dev/null | head -n 1)
	done
	for f in 4 6; do
		for i in inst1 inst2; do
			synrecv[$i-$f]=$(syn_recv "$i" "$f")
		done
		syns[$f]=$(syn_to_inst2 "$f")
	done
}

lab_up
lab_count_add rst-to-u1 4 -o i1 -d "$U1_4" -p tcp --tcp-flags RST RST
lab_count_add rst-to-u1 6 -o i1 -d "$U1_6" -p tcp --tcp-flags RST RST
lab_count_add rst-to-u2 4 -o i2 -d "$U2_4" -p tcp --tcp-flags RST RST
lab_count_add rst-to-u2 6 -o i2 -d "$U2_6" -p tcp --tcp-flags RST RST
# The copies leave the router through OUTPUT and POSTROUTING, not FORWARD.
lab_ns router "$LAB_IPT" -w -t mangle -A POSTROUTING -o i2 -p tcp --syn
lab_ns router "$LAB_IP6T" -w -t mangle -A POSTROUTING -o i2 -p tcp --syn
lab_serve "$MB"

if lab_plain; then
	run without
	for f in 4 6; do
		lab_fetch_result "without-v$f"
		name="dup-synack-v$f without anypin"
		if [ "${syns[$f]}" = 0 ]; then
			lab_fail "$name" "no SYN copied to inst2: the TEE rule does not work"
		elif [ "$FETCH_EXACT" = 1 ]; then
			lab_fail "$name" "byte-exact in $FETCH_SECS s despite the duplicate and $LAB_FLIPS flips: the scenario proves nothing"
		else
			lab_pass "$name" "broken as expected ($(lab_fetch_describe); $(lab_rsts "$f"); $LAB_FLIPS flips)"
		fi
	done
fi

for dp in $(lab_datapaths); do
	if ! lab_datapath_use "$dp"; then
		lab_datapath_unavailable "dup-synack-v4 with $dp" "dup-synack-v6 with $dp"
		continue
	fi
	lab_datapath_start
	run "with-$dp"
	for f in 4 6; do
		lab_fetch_result "with-$dp-v$f"
		name="dup-synack-v$f with $dp"
		case ${who[$f]} in
		inst1) loser=inst2 lu=u2 wu=u1 ;;
		inst2) loser=inst1 lu=u1 wu=u2 ;;
		*) loser= ;;
		esac
		dup=$(lab_stat client dup_reset "any$f") && dup="; client counter dup_reset=$dup" || dup=
		if [ "$FETCH_EXACT" != 1 ]; then
			lab_fail "$name" "$(lab_fetch_describe); served by '${who[$f]}'; RSTs to U1/U2: $(lab_count rst-to-u1 "$f")/$(lab_count rst-to-u2 "$f"); $(lab_rsts "$f"); $LAB_FLIPS flips$dup"
		elif [ "$LAB_FLIPS" -lt 2 ]; then
			lab_fail "$name" "byte-exact, but only $LAB_FLIPS flips happened"
		elif [ "${at[$f]}" -ge $((LAB_DATA_BYTES / 2)) ]; then
			lab_fail "$name" "byte-exact, but the flips began only after $(lab_mib "${at[$f]}") MB had arrived: too late to prove anything"
		elif [ -z "$loser" ]; then
			lab_fail "$name" "byte-exact, but the response named no instance"
		elif [ "${syns[$f]}" = 0 ]; then
			lab_fail "$name" "byte-exact, but no SYN copied to inst2: no duplicate happened"
		elif [ "$(lab_count "rst-to-$lu" "$f")" -lt 1 ]; then
			lab_fail "$name" "byte-exact from ${who[$f]}, but no RST from the client to the later responder's ${lu^^} seen on the router$dup"
		elif [ "$(lab_count "rst-to-$wu" "$f")" != 0 ]; then
			lab_fail "$name" "byte-exact from ${who[$f]}, but the client also sent $(lab_count "rst-to-$wu" "$f") RST to the winner's ${wu^^}"
		elif [ "${synrecv[$loser-$f]}" != 0 ]; then
			lab_fail "$name" "byte-exact from ${who[$f]}, RST to ${lu^^} seen, yet $loser keeps ${synrecv[$loser-$f]} half-open connection from the client's port: the RST was not accepted"
		else
			lab_pass "$name" "the first responder ${who[$f]} won: $(lab_fetch_describe) through $LAB_FLIPS flips; the later one ($loser) got $(lab_count "rst-to-$lu" "$f") RST to ${lu^^} and keeps no half-open connection$dup"
		fi
	done
	lab_datapath_stop
done

lab_done
