#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# SYN flood at the prefix: while a paced download from A (A6) runs and A
# flips every FLOOD_FLAP_MS, the client sends FLOOD_SYNS SYNs to A and as
# many to A6 (tests/lab/tools/synflood.py: raw sockets, so the client's
# datapath sees them on their way out like any SYN), each from a random
# source port in 30000-65535 (the client's own connections use ports
# 20000-29999), and the router drops them (raw PREROUTING): every one of
# them leaves a half-open SYN_SENT entry on the client.  The datapath's
# table is bounded by `net.anypin.max_flows = FLOOD_MAX_FLOWS` (64, set
# through LAB_ANYPIN_EXTRA).
#
#   without anypin   the flips break the download
#   with DATAPATH    the download is byte-exact through the flips (its
#                    bound entry is not evicted by the flood), a new
#                    connection after the flood works, and, when the
#                    datapath gives counters (datapath_stats), the client's
#                    table stayed within max_flows: flows <= FLOOD_MAX_FLOWS
#                    right after the flood, while syn counted the flood and
#                    evicted is at least FLOOD_SYNS - FLOOD_MAX_FLOWS

set -euo pipefail
# shellcheck source=../lab.sh
. "$(dirname "$0")/../lab.sh"

MB=${FLOOD_MB:-3}
RATE=${FLOOD_RATE:-$((1000000 / LAB_SLOW))}
MS=${FLOOD_FLAP_MS:-200}
SYNS=${FLOOD_SYNS:-2000}
MAXF=${FLOOD_MAX_FLOWS:-64}
CURL_ARGS=(--max-time "${FLOOD_MAXTIME:-$((20 * LAB_SLOW))}" --speed-limit 1024 --speed-time $((3 * LAB_SLOW)))

declare -A dropped flows syn evicted who at

# dropped_syns F: flood SYNs the router dropped
dropped_syns() {
	local ipt=$LAB_IPT
	[ "$1" = 6 ] && ipt=$LAB_IP6T
	lab_ns router "$ipt" -w -t raw -nvxL PREROUTING |
		awk '$3 == "DROP" { s += $1 } END { print s + 0 }'
}

run() {
	local f
	lab_route_a inst1
	lab_count_zero
	lab_ns router "$LAB_IPT" -w -t raw -Z PREROUTING
	lab_ns router "$LAB_IP6T" -w -t raw -Z PREROUTING
	lab_fetch_bg "$1-v4" "$(lab_url "$A4" "data.bin?rate=$RATE")" "${CURL_ARGS[@]}"
	lab_fetch_bg "$1-v6" "$(lab_url "$A6" "data.bin?rate=$RATE")" "${CURL_ARGS[@]}"
	lab_fetch_wait_bytes "$1-v4" 100000 15 || true
	lab_fetch_wait_bytes "$1-v6" 100000 15 || true
	lab_flap_start "$MS"
	for f in 4 6; do
		at[$f]=$(lab_fetch_bytes "$1-v$f")
	done
	lab_ns client timeout 60 "$LAB_PYTHON" "$LAB_HOME/tools/synflood.py" \
		--to "$C4,$A4" --to "$C6,$A6" --port "$LAB_PORT" \
		--count "$SYNS" --sports 30000-65535 >"$LAB_STATE/$1-flood.log" 2>&1 ||
		lab_log "synflood.py failed: $(cat "$LAB_STATE/$1-flood.log")"
	for f in 4 6; do
		dropped[$f]=$(dropped_syns "$f")
		flows[$f]=$(lab_stat client flows "any$f") || flows[$f]=
		syn[$f]=$(lab_stat client syn "any$f") || syn[$f]=
		evicted[$f]=$(lab_stat client evicted "any$f") || evicted[$f]=
	done
	flows[all]=$(lab_stat client flows) || flows[all]=
	lab_fetch_wait
	lab_flap_stop inst1
}

lab_up
lab_sysctl client net.ipv4.ip_local_port_range="20000 29999"
for f in 4 6; do
	ipt=$LAB_IPT a=$A4
	[ "$f" = 6 ] && ipt=$LAB_IP6T a=$A6
	lab_ns router "$ipt" -w -t raw -A PREROUTING -i c0 -p tcp --syn -d "$a" \
		-m multiport --sports 30000:65535 -j DROP
done
lab_serve "$MB"

if lab_plain; then
	run without
	for f in 4 6; do
		lab_fetch_result "without-v$f"
		name="syn-flood-v$f without anypin"
		if [ "${dropped[$f]}" -lt "$SYNS" ]; then
			lab_fail "$name" "only ${dropped[$f]} of $SYNS flood SYNs reached the router: the flood did not happen"
		elif [ "$FETCH_EXACT" = 1 ]; then
			lab_fail "$name" "byte-exact in $FETCH_SECS s despite $LAB_FLIPS flips: the scenario proves nothing"
		else
			lab_pass "$name" "broken as expected ($(lab_fetch_describe); $LAB_FLIPS flips; $(lab_rsts "$f"); ${dropped[$f]} flood SYNs)"
		fi
	done
fi

for dp in $(lab_datapaths); do
	if ! lab_datapath_use "$dp"; then
		lab_datapath_unavailable "syn-flood-v4 with $dp" "syn-flood-v6 with $dp"
		continue
	fi
	LAB_ANYPIN_EXTRA="net.anypin.max_flows = $MAXF"
	lab_datapath_start
	run "with-$dp"
	for f in 4 6; do
		eval "a=\$A$f"
		# shellcheck disable=SC2154  # a is set by the eval above
		who[$f]=$(lab_whoami "$a")
	done
	lab_datapath_stop
	LAB_ANYPIN_EXTRA=
	for f in 4 6; do
		lab_fetch_result "with-$dp-v$f"
		name="syn-flood-v$f with $dp"
		if [ -z "${flows[all]}" ]; then
			tab="table not checked: $dp gives no counters"
			tab_ok=1
		else
			tab="client table right after the flood: ${flows[all]} flows (max_flows $MAXF), counters syn=${syn[$f]:-?} evicted=${evicted[$f]:-?} flows=${flows[$f]:-?}"
			tab_ok=0
			if [ "${flows[all]}" -le "$MAXF" ] && [ "${syn[$f]:-0}" -ge "$SYNS" ] &&
				[ "${evicted[$f]:-0}" -ge $((SYNS - MAXF)) ]; then
				tab_ok=1
			fi
		fi
		if [ "${dropped[$f]}" -lt "$SYNS" ]; then
			lab_fail "$name" "only ${dropped[$f]} of $SYNS flood SYNs reached the router: the flood did not happen"
		elif [ "$FETCH_EXACT" != 1 ]; then
			lab_fail "$name" "$(lab_fetch_describe); $LAB_FLIPS flips; $(lab_rsts "$f"); $tab"
		elif [ "$LAB_FLIPS" -lt 2 ]; then
			lab_fail "$name" "byte-exact, but only $LAB_FLIPS flips happened"
		elif [ "${at[$f]}" -ge $((LAB_DATA_BYTES / 2)) ]; then
			lab_fail "$name" "byte-exact, but the flips began only after $(lab_mib "${at[$f]}") MB had arrived: too late to prove anything"
		elif [ "$tab_ok" != 1 ]; then
			lab_fail "$name" "byte-exact, but the table was not bounded as expected: $tab"
		elif [ "${who[$f]}" != inst1 ]; then
			lab_fail "$name" "byte-exact, $tab; but a new connection after the flood got '${who[$f]}', expected inst1"
		else
			lab_pass "$name" "$(lab_fetch_describe) through $LAB_FLIPS flips and ${dropped[$f]} flood SYNs; $tab; a new connection after it works"
		fi
	done
done

lab_done
