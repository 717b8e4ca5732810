#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# Forged SYN-ACKs: the router answers the client's SYN to A (A6) with two
# forgeries before the real SYN-ACK can arrive (tests/lab/tools/forge.py,
# scapy, sniffing and sending on the router's link to the client):
#
#   wrong ACK    from U2 (an allowed responder), ACK number ISN+1+100000
#   outside      from OUT4/OUT6 (198.18.0.27, 2001:db8:99::27: unicast,
#                outside the client's `responders` allowlist RESP4/RESP6,
#                routed to inst2 where they are assigned), right ACK number
#
# The real SYN-ACK is held back by dropping the client's first SYN on the
# router (the lab kernel has no netem to delay it): the client sends it
# again after its 1 s retransmission timeout, and inst1 answers that one.
# Lost capable SYNs are what makes a retry go plain by default, and how
# many are dropped depends on how fast forge.py starts, so here the client
# never falls back (fallback_retries 0).
# The download from A (paced) then runs while A flips every FORGED_FLAP_MS.
#
#   without anypin   the forgeries do not match the client's connection
#                    (the stack answers them with RSTs), the connection to
#                    A is made, and the flips break it
#   with DATAPATH    neither forgery binds the flow: the connection is
#                    pinned to U1 (packets to U1 on the router, no packet
#                    but RSTs to U2 or to the outside address) and is
#                    byte-exact through the flips

# Forgeries, then a flipping download, both families: on the debug
# kernel it took 378 s of the 480 one timeout gives there.
# lab-timeout: 2

set -euo pipefail
# shellcheck source=../lab.sh
. "$(dirname "$0")/../lab.sh"

MB=${FORGED_MB:-2}
RATE=${FORGED_RATE:-$((1000000 / LAB_SLOW))}
MS=${FORGED_FLAP_MS:-200}
CURL_ARGS=(--max-time "${FORGED_MAXTIME:-$((20 * LAB_SLOW))}" --speed-limit 1024 --speed-time $((3 * LAB_SLOW)))
OUT4=198.18.0.27
OUT6=2001:db8:99::27

declare -A forged seen at

# drop_syn -I|-D F: the router drops (stops dropping) the client's SYNs to A.
drop_syn() {
	local ipt=$LAB_IPT a=$A4
	[ "$2" = 6 ] && ipt=$LAB_IP6T a=$A6
	lab_ns router "$ipt" -w "$1" FORWARD -i c0 -p tcp --syn -d "$a" -j DROP
}

# client_counters: (re)insert, zeroed, the client's counters of forged
# SYN-ACKs first in its raw PREROUTING, before any datapath's rules (a
# packet an NFQUEUE rule accepts does not come back to its chain).
client_counters() {
	local f ipt u2 out c op
	for f in 4 6; do
		ipt=$LAB_IPT
		[ "$f" = 6 ] && ipt=$LAB_IP6T
		eval "u2=\$U2_$f out=\$OUT$f"
		for op in -D "-I 1"; do
			for c in "$u2 forged-wrong-ack" "$out forged-outside"; do
				# shellcheck disable=SC2086  # op is "-D" or "-I 1", split on purpose
				lab_ns client "$ipt" -w -t raw ${op% *} PREROUTING \
					${op#-[DI]} -s "${c% *}" -p tcp \
					--tcp-flags SYN,ACK SYN,ACK \
					-m comment --comment "${c#* }" 2>/dev/null ||
					[ "$op" = -D ] || return 1
			done
		done
	done
}

# client_seen F: forged SYN-ACKs that reached the client (raw PREROUTING
# counters, before any datapath), "wrong-ack/outside".
client_seen() {
	local ipt=$LAB_IPT
	[ "$1" = 6 ] && ipt=$LAB_IP6T
	lab_ns client "$ipt" -w -t raw -nvxL PREROUTING | awk '
		/forged-wrong-ack/ { w = $1 } /forged-outside/ { o = $1 }
		END { printf "%d/%d", w, o }'
}

# forge_one TAG F: the router drops the client's SYNs to A (family F) and
# starts forge.py, which signals in $LAB_STATE/TAG-vF.ready that it listens.
forge_one() {
	local f=$2 a c u2 out rf
	eval "a=\$A$f c=\$C$f u2=\$U2_$f out=\$OUT$f"
	rf=$LAB_STATE/$1-v$f.ready
	drop_syn -I "$f"
	# shellcheck disable=SC2154  # a, c, u2, out: set by the eval above
	lab_bg router "forge-$1-v$f" "$LAB_PYTHON" "$LAB_HOME/tools/forge.py" \
		--iface c0 --client "$c" --anycast "$a" --port "$LAB_PORT" \
		--forge "$u2:100000" --forge "$out:0" --ready "$rf" --timeout $((10 * LAB_SLOW))
}

# forged_all LOG: forge.py has sent both forgeries.
# shellcheck disable=SC2317  # called by lab_wait_until
forged_all() {
	[ "$(grep -c '^sent ' "$1")" -ge 2 ]
}

run() {
	local f
	lab_route_a inst1
	lab_count_zero
	client_counters
	for f in 4 6; do
		forge_one "$1" "$f"
	done
	for f in 4 6; do
		lab_wait_until $((10 * LAB_SLOW)) test -e "$LAB_STATE/$1-v$f.ready" ||
			lab_log "forge.py (IPv$f) did not start"
	done
	lab_fetch_bg "$1-v4" "$(lab_url "$A4" "data.bin?rate=$RATE&$(lab_hold "$1-v4")")" "${CURL_ARGS[@]}"
	lab_fetch_bg "$1-v6" "$(lab_url "$A6" "data.bin?rate=$RATE&$(lab_hold "$1-v6")")" "${CURL_ARGS[@]}"
	for f in 4 6; do
		lab_wait_until $((5 * LAB_SLOW)) forged_all "$LAB_STATE/log/forge-$1-v$f.log" ||
			true
		forged[$f]=$(grep -c '^sent ' "$LAB_STATE/log/forge-$1-v$f.log" || true)
	done
	# Give the forgeries time to arrive, then let the SYN through.
	sleep 0.2
	drop_syn -D 4
	drop_syn -D 6
	for f in 4 6; do
		seen[$f]=$(client_seen "$f")
	done
	lab_fetch_wait_bytes "$1-v4" 100000 15 || true
	lab_fetch_wait_bytes "$1-v6" 100000 15 || true
	lab_flap_start "$MS"
	lab_release "$1-v4" "$1-v6"
	for f in 4 6; do
		at[$f]=$(lab_fetch_bytes "$1-v$f")
	done
	lab_fetch_wait
	lab_flap_stop inst1
}

lab_up
lab_ns inst2 ip addr add "$OUT4/32" dev lo
lab_ns inst2 ip addr add "$OUT6/128" dev lo nodad
lab_ns router ip route add "$OUT4/32" via "$U2_4" dev i2
lab_ns router ip route add "$OUT6/128" via "$U2_6" dev i2
for f in 4 6; do
	eval "u2=\$U2_$f out=\$OUT$f"
	# shellcheck disable=SC2154  # u2 and out are set by the eval above
	lab_count_add "data-to-u2" "$f" -o i2 -d "$u2" -p tcp --tcp-flags RST NONE
	lab_count_add "data-to-out" "$f" -o i2 -d "$out" -p tcp --tcp-flags RST NONE
done
lab_serve "$MB"

# wire F: what the router saw.
wire() {
	printf '%s packets to U1, %s but RSTs to U2, %s but RSTs to %s' \
		"$(lab_count u-to-inst1 "$1")" "$(lab_count data-to-u2 "$1")" \
		"$(lab_count data-to-out "$1")" "$(eval "echo \$OUT$1")"
}

if lab_plain; then
	run without
	for f in 4 6; do
		lab_fetch_result "without-v$f"
		name="forged-synack-v$f without anypin"
		if [ "${seen[$f]}" != 1/1 ]; then
			lab_fail "$name" "forgeries sent: ${forged[$f]}, arrived at the client (wrong-ack/outside): ${seen[$f]}, expected 1/1: the scenario proves nothing"
		elif [ "$FETCH_EXACT" = 1 ]; then
			lab_fail "$name" "byte-exact in $FETCH_SECS s despite $LAB_FLIPS flips: the scenario proves nothing"
		else
			lab_pass "$name" "both forgeries reached the client, the real connection was made and the flips broke it as expected ($(lab_fetch_describe); $LAB_FLIPS flips; $(lab_rsts "$f"))"
		fi
	done
fi

for dp in $(lab_datapaths); do
	if ! lab_datapath_use "$dp"; then
		lab_datapath_unavailable "forged-synack-v4 with $dp" "forged-synack-v6 with $dp"
		continue
	fi
	LAB_ANYPIN_EXTRA="net.anypin.fallback_retries = 0"
	lab_datapath_start
	run "with-$dp"
	for f in 4 6; do
		lab_fetch_result "with-$dp-v$f"
		name="forged-synack-v$f with $dp"
		st=
		n=$(lab_stat client rej_ack "any$f") && st="; client counters rej_ack=$n"
		n=$(lab_stat client rej_responders "any$f") && st="$st rej_responders=$n"
		if [ "${seen[$f]}" != 1/1 ]; then
			lab_fail "$name" "forgeries sent: ${forged[$f]}, arrived at the client (wrong-ack/outside): ${seen[$f]}, expected 1/1"
		elif [ "$FETCH_EXACT" != 1 ]; then
			lab_fail "$name" "$(lab_fetch_describe); $LAB_FLIPS flips; $(lab_rsts "$f"); $(wire "$f")$st"
		elif [ "$LAB_FLIPS" -lt 2 ]; then
			lab_fail "$name" "byte-exact, but only $LAB_FLIPS flips happened"
		elif [ "${at[$f]}" -ge $((LAB_DATA_BYTES / 2)) ]; then
			lab_fail "$name" "byte-exact, but the flips began only after $(lab_mib "${at[$f]}") MB had arrived: too late to prove anything"
		elif [ "$(lab_count data-to-u2 "$f")" != 0 ] || [ "$(lab_count data-to-out "$f")" != 0 ] ||
			[ "$(lab_count u-to-inst1 "$f")" -lt 10 ]; then
			lab_fail "$name" "byte-exact, but a forgery seems to have bound the flow: $(wire "$f")$st"
		else
			lab_pass "$name" "neither forgery bound the flow: $(lab_fetch_describe) through $LAB_FLIPS flips, $(wire "$f")$st"
		fi
	done
	lab_datapath_stop
	LAB_ANYPIN_EXTRA=
done

lab_done
