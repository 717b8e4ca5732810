#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# Path MTU discovery through a small-MTU link on the path to U1: the
# router forwards packets to U1 (and packets that inst1 sends to the
# client) with an MTU of PMTU_MTU (1280), while the rest of the lab has
# 1500.  The client downloads data.bin from A/A6 (paced) and uploads it to
# the instances' sink on A/A6 (tests/lab/tools/sink.py, paced reading),
# both at once, while A flips every PMTU_FLAP_MS.
#
# Full-size segments then meet the small link: the router sends ICMP
# "fragmentation needed" / ICMPv6 "packet too big" to the client (about
# its packets to U1: the upload) and to U1 (about inst1's packets to the
# client: the download).  The upload starts once the download runs, from
# a second client address (see C2_4 below), and the flips start once both
# are connected (to inst1, which has the small link).  The embedded headers name U1; the client's
# socket and inst1's socket know A, so the datapath must rewrite them.
#
#   without anypin   the flips break both transfers (the connection's
#                    packets to A go to the other instance too)
#   with DATAPATH    both transfers are byte-exact through the flips, and
#                    the router did send its ICMP errors, to the client and
#                    to U1 (so the sockets applied the ones rewritten to A;
#                    otherwise the full-size segments would be lost for
#                    good and the transfer would stall)

set -euo pipefail
# shellcheck source=../lab.sh
. "$(dirname "$0")/../lab.sh"

MB=${PMTU_MB:-3}
RATE=${PMTU_RATE:-$((1000000 / LAB_SLOW))}
MS=${PMTU_FLAP_MS:-200}
MTU=${PMTU_MTU:-1280}
# (A stall bound twice the other scenarios': the download waits at 100 kB
# (lab_hold) while the uploads get going, over 24 s in the debug guest.)
CURL_ARGS=(--max-time "${PMTU_MAXTIME:-$((20 * LAB_SLOW))}" --speed-limit 1024 --speed-time $((6 * LAB_SLOW)))

declare -A icmp_c icmp_u icmp_a mtu_c at

# icmp_count F NAME: ICMP errors the router sent under comment NAME
icmp_count() {
	local ipt=$LAB_IPT
	[ "$1" = 6 ] && ipt=$LAB_IP6T
	lab_ns router "$ipt" -w -nvxL OUTPUT |
		awk -v n="/* $2 */" 'index($0, n) { s += $1 } END { print s + 0 }'
}

run() {
	local f a c c2 i
	lab_route_a inst1
	lab_count_zero
	lab_ns router "$LAB_IPT" -w -Z OUTPUT
	lab_ns router "$LAB_IP6T" -w -Z OUTPUT
	lab_ns client ip route flush cache 2>/dev/null || true
	lab_ns client ip -6 route flush cache 2>/dev/null || true
	for i in inst1 inst2; do
		lab_ns "$i" ip route flush cache 2>/dev/null || true
		lab_ns "$i" ip -6 route flush cache 2>/dev/null || true
	done
	for f in 4 6; do
		eval "a=\$A$f c=\$C$f"
		# shellcheck disable=SC2154  # a and c are set by the eval above
		lab_fetch_bg "$1-down-v$f" "$(lab_url "$a" "data.bin?rate=$RATE&$(lab_hold "$1-down-v$f")")" \
			--interface "$c" "${CURL_ARGS[@]}"
	done
	for f in 4 6; do
		lab_fetch_wait_bytes "$1-down-v$f" 100000 15 || true
	done
	for f in 4 6; do
		eval "a=\$A$f c2=\$C2_$f"
		# shellcheck disable=SC2154  # a and c2 are set by the eval above
		lab_upload_bg "$1-up-v$f" "$(lab_sink_url "$a" "rate=$RATE")" \
			--interface "$c2" "${CURL_ARGS[@]}"
	done
	for f in 4 6; do
		lab_upload_wait_bytes "$1-up-v$f" "$f" 1 15 || true
	done
	lab_flap_start "$MS"
	lab_release "$1-down-v4" "$1-down-v6"
	for f in 4 6; do
		at[$f]=$(lab_fetch_bytes "$1-down-v$f")
	done
	lab_fetch_wait
	lab_flap_stop inst1
	for f in 4 6; do
		icmp_c[$f]=$(icmp_count "$f" ptb-to-client)
		icmp_u[$f]=$(icmp_count "$f" ptb-to-u1)
		icmp_a[$f]=$(icmp_count "$f" ptb-to-a)
		eval "a=\$A$f"
		mtu_c[$f]=$(lab_ns client ip route get "$a" | grep -o 'mtu [0-9]*' || true)
	done
}

# describe TAG F: both transfers in words, in $descesc; ok=1 if both are
# byte-exact
describe() {
	local d u
	lab_fetch_result "$1-down-v$2"
	d=$FETCH_EXACT
	desc="download: $(lab_fetch_describe); "
	lab_upload_result "$1-up-v$2"
	u=$FETCH_EXACT
	if [ "$FETCH_EXIT" != 0 ] && [ "$UPLOAD_BYTES" = 0 ]; then
		desc="${desc}upload: curl exit $FETCH_EXIT after $FETCH_SECS s: ${FETCH_ERR:-no message}"
	else
		desc="${desc}upload: $(lab_fetch_describe)"
	fi
	ok=0
	[ "$d$u" = 11 ] && ok=1
	return 0
}

# The upload comes from a second address of the client: inst1 learns the
# small MTU towards the client's first address from the download, and
# would then advertise a small MSS in the upload's SYN-ACK to that address
# (and the client would never send a full-size segment).
C2_4=203.0.113.11
C2_6=2001:db8:c::11

lab_up
lab_ns client ip addr add "$C2_4/24" dev eth0
lab_ns client ip addr add "$C2_6/64" dev eth0 nodad
# The small link: packets to U1, and packets from inst1 to the client.
ip -n "$NS_ROUTER" -batch - <<EOF
route add $U1_4/32 dev i1 mtu lock $MTU
route add $U1_6/128 dev i1 mtu lock $MTU
rule add iif i1 lookup 170 pref 170
route add 203.0.113.0/24 dev c0 table 170 mtu lock $MTU
route add 2001:db8:c::/64 dev c0 table 170 mtu lock $MTU
EOF
ip -n "$NS_ROUTER" -6 rule add iif i1 lookup 170 pref 170
for f in 4 6; do
	eval "c=\$C2_$f u1=\$U1_$f a=\$A$f"
	if [ "$f" = 4 ]; then
		set -- "$LAB_IPT" -p icmp --icmp-type fragmentation-needed
	else
		set -- "$LAB_IP6T" -p icmpv6 --icmpv6-type packet-too-big
	fi
	# shellcheck disable=SC2154  # c is set by the eval above
	lab_ns router "$@" -w -A OUTPUT -d "$c" -m comment --comment ptb-to-client
	# shellcheck disable=SC2154  # u1 is set by the eval above
	lab_ns router "$@" -w -A OUTPUT -d "$u1" -m comment --comment ptb-to-u1
	# shellcheck disable=SC2154  # a is set by the eval above
	lab_ns router "$@" -w -A OUTPUT -d "$a" -m comment --comment ptb-to-a
done
set --
lab_serve "$MB"
lab_sink_serve

if lab_plain; then
	run without
	for f in 4 6; do
		describe without "$f"
		name="pmtu-v$f without anypin"
		if [ "$ok" = 1 ]; then
			lab_fail "$name" "both transfers byte-exact through $LAB_FLIPS flips: the scenario proves nothing ($desc)"
		else
			lab_pass "$name" "broken as expected ($desc; $LAB_FLIPS flips; $(lab_rsts "$f"); ICMP errors to the client/U1/A: ${icmp_c[$f]}/${icmp_u[$f]}/${icmp_a[$f]})"
		fi
	done
fi

for dp in $(lab_datapaths); do
	if ! lab_datapath_use "$dp"; then
		lab_datapath_unavailable "pmtu-v4 with $dp" "pmtu-v6 with $dp"
		continue
	fi
	lab_datapath_start
	run "with-$dp"
	for f in 4 6; do
		describe "with-$dp" "$f"
		st=
		n=$(lab_stat client icmp "any$f") && st="; client/inst1 counters icmp=$n/$(lab_stat inst1 icmp "any$f" || echo '?')"
		name="pmtu-v$f with $dp"
		if [ "$ok" != 1 ]; then
			lab_fail "$name" "$desc; $LAB_FLIPS flips; $(lab_rsts "$f"); ICMP errors to the client/U1/A: ${icmp_c[$f]}/${icmp_u[$f]}/${icmp_a[$f]}$st"
		elif [ "$LAB_FLIPS" -lt 2 ]; then
			lab_fail "$name" "byte-exact, but only $LAB_FLIPS flips happened"
		elif [ "${at[$f]}" -ge $((LAB_DATA_BYTES / 2)) ]; then
			lab_fail "$name" "byte-exact, but the flips began only after $(lab_mib "${at[$f]}") MB had arrived: too late to prove anything"
		elif [ "${icmp_c[$f]}" = 0 ] || [ "${icmp_u[$f]}" = 0 ]; then
			lab_fail "$name" "byte-exact, but the router sent ${icmp_c[$f]}/${icmp_u[$f]}/${icmp_a[$f]} ICMP errors to the client/U1/A: the small link was not exercised in both directions"
		else
			lab_pass "$name" "$desc; through $LAB_FLIPS flips; ICMP errors to the client/U1: ${icmp_c[$f]}/${icmp_u[$f]}; client's route to A: ${mtu_c[$f]:-no mtu}$st"
		fi
	done
	lab_datapath_stop
done

lab_done
