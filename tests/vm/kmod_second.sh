#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# The second chance (docs/second-chance.md) with anypin.ko, in the lab
# (tests/lab/lab.sh): a client that runs no anypin downloads from A,
# served by inst1; mid-transfer the router moves A to inst2. Both
# instances are responders (unicast U1, U2), IPv4 and IPv6 at once:
#
#   without   instance 0 on both: inst2 has no socket for the client's
#             ACKs and resets the connection (as plain anycast)
#   control   instance 1 and 2, peers of each other, no move: byte-exact,
#             inst1 stamps what it sends from A and lowers its MSS
#   second    the same, with the move: inst2 forwards the client's
#             segments (their TSecr names inst1) to U1 in IP-in-IP, inst1
#             takes them out of the tunnel: byte-exact; the counters
#             sc_forwarded (inst2), sc_tunnel and sc_stamped (inst1) move,
#             and the router saw the tunnel's packets
#
#   tests/vm/run --kernel 6.12 -- tests/vm/kmod_second.sh
set -u
# shellcheck source=guest.sh
. tests/vm/guest.sh
guest_init kmod-second

MB=${SECOND_MB:-2}
# lab.sh sets LAB_SLOW (4 in the guest): the pace and the bounds with it.
kmod_lab "$MB" plain
RATE=${SECOND_RATE:-$((1000000 / LAB_SLOW))}
CURL_ARGS=(--max-time $((20 * LAB_SLOW)) --speed-limit 1024 --speed-time $((3 * LAB_SLOW)))
LAB_ANYPIN_LEGACY=client
lab_count_add ipip-to-inst1 4 -o i1 -d "$U1_4" -p 4
lab_count_add ipip-to-inst1 6 -o i1 -d "$U1_6" -p 41

# second_on: instance ids and peers on both instances, both families.
second_on() {
	local p
	for p in any4 any6; do
		lab_sysctl inst1 "net.anypin.prefix.$p.instance=1" \
			"net.anypin.prefix.$p.peers=2=$U2_4,$U2_6" || return 1
		lab_sysctl inst2 "net.anypin.prefix.$p.instance=2" \
			"net.anypin.prefix.$p.peers=1=$U1_4,$U1_6" || return 1
	done
}

# phase TAG [MOVE]: paced downloads from A and A6 with A routed to inst1;
# with MOVE, A goes to inst2 once 100 kB have arrived (the server holds
# the response there until then). Sets AT[TAG-F], the bytes before the
# move, and A2[TAG-F], the packets the router sent to A at inst2.
declare -A AT A2
phase() {
	local f r=$RATE h4='' h6=''
	[ -n "${2:-}" ] || r=$((RATE * 4))
	[ -z "${2:-}" ] || h4="&$(lab_hold "$1-v4")" h6="&$(lab_hold "$1-v6")"
	lab_route_a inst1
	lab_count_zero
	lab_fetch_bg "$1-v4" "$(lab_url "$A4" "data.bin?rate=$r$h4")" "${CURL_ARGS[@]}"
	lab_fetch_bg "$1-v6" "$(lab_url "$A6" "data.bin?rate=$r$h6")" "${CURL_ARGS[@]}"
	if [ -n "${2:-}" ]; then
		lab_fetch_wait_bytes "$1-v4" 100000 $((15 * LAB_SLOW)) || true
		lab_fetch_wait_bytes "$1-v6" 100000 $((15 * LAB_SLOW)) || true
		lab_route_a inst2
		AT[$1-4]=$(lab_fetch_bytes "$1-v4")
		AT[$1-6]=$(lab_fetch_bytes "$1-v6")
		lab_release "$1-v4" "$1-v6"
	fi
	lab_fetch_wait
	for f in 4 6; do
		A2[$1-$f]=$(lab_count a-to-inst2 "$f")
	done
	lab_route_a inst1
}

say "without the second chance"
datapath_start || fail lab-config "datapath_start failed"
phase without move
for f in 4 6; do
	lab_fetch_result "without-v$f"
	if [ "$FETCH_EXACT" = 1 ]; then
		fail "without-v$f" "byte-exact through the move to inst2 with instance 0: the test proves nothing"
	elif [ "${A2[without-$f]}" = 0 ]; then
		fail "without-v$f" "no packet to A reached inst2: the move did not happen ($(lab_fetch_describe))"
	else
		pass "without-v$f" "instance 0: the move broke it as plain anycast ($(lab_fetch_describe); $(lab_rsts "$f"))"
	fi
done

say "the second chance, no move"
second_on || fail lab-config "instance and peers refused"
phase control
for f in 4 6; do
	lab_fetch_result "control-v$f"
	st=$(apstat inst1 sc_stamped "any$f") mss=$(apstat inst1 sc_mss "any$f")
	if [ "$FETCH_EXACT" = 1 ] && [ "$st" -gt 0 ] && [ "$mss" -gt 0 ]; then
		pass "control-v$f" "$(lab_fetch_describe); inst1 sc_stamped=$st sc_mss=$mss"
	else
		fail "control-v$f" "$(lab_fetch_describe); inst1 sc_stamped=$st sc_mss=$mss"
	fi
done

say "the second chance, A moved mid-transfer"
phase second move
for f in 4 6; do
	lab_fetch_result "second-v$f"
	fw=$(apstat inst2 sc_forwarded "any$f") tu=$(apstat inst1 sc_tunnel "any$f")
	st=$(apstat inst1 sc_stamped "any$f") lim=$(apstat inst2 sc_limited "any$f")
	ipip=$(lab_count ipip-to-inst1 "$f")
	what="inst2 sc_forwarded=$fw sc_limited=$lim, inst1 sc_tunnel=$tu sc_stamped=$st, $ipip tunnel packets to U1, moved after $(lab_mib "${AT[second-$f]:-0}") MB"
	if [ "$FETCH_EXACT" != 1 ]; then
		fail "second-v$f" "$(lab_fetch_describe); $(lab_rsts "$f"); $what"
	elif [ "${A2[second-$f]}" = 0 ] || [ "${AT[second-$f]:-0}" -ge $((LAB_DATA_BYTES / 2)) ]; then
		fail "second-v$f" "byte-exact, but the move came too late or not at all (${A2[second-$f]} packets to A at inst2); $what"
	elif [ "$fw" -gt 0 ] && [ "$tu" -gt 0 ] && [ "$st" -gt 0 ] && [ "$ipip" -gt 0 ]; then
		pass "second-v$f" "$(lab_fetch_describe) through the move; $what"
	else
		fail "second-v$f" "byte-exact, but the counters did not move: $what"
	fi
done

datapath_stop
kmod_lab_down
guest_dmesg_check
guest_done
