#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# The second chance (docs/second-chance.md) with anypin.ko, in the lab
# (tests/lab/lab.sh): a client that runs no anypin downloads from A and
# A6 at once, served by inst1; once 100 kB have arrived, something moves
# the client's packets to A elsewhere. Both instances are responders
# (unicast U1, U2). The events:
#
#   flap      the router moves A to inst2
#   spread    the router spreads A per packet across both instances
#   drain     A is withdrawn from inst1 (lab_withdraw); a new connection
#             made while inst2 forwards the old one must be served by inst2
#   cookies   flap, with net.ipv4.tcp_syncookies=2 on both instances: the
#             handshake's ACK echoes a cookie's TSval, whose low bits
#             hold options, not an instance
#   tfo       flap, with TCP Fast Open: the request in the client's SYN
#             (net.ipv4.tcp_fastopen 0x5 on the client, 0x203 on the
#             instances: no cookie needed; tests/lab/httpd.py's listener
#             has a Fast Open queue)
#   nat       flap, with the router's source NAT of the client (to its
#             own address, ports 20000-30000; NAT66 for IPv6), as a home
#             or carrier-grade NAT on the path; last, as it leaves the
#             router's conntrack on for what follows
#
# Each event twice:
#
#   without   instance 0 on both (lab_plain: not with LAB_PLAIN=0):
#             inst2 has no socket for the client's segments and resets
#             the connection, as plain anycast
#   second    instance 1 and 2, peers of each other (LAB_ANYPIN_SECOND,
#             tests/lab/lib/datapaths.sh): byte-exact; inst2
#             forwarded (sc_forwarded) the segments whose TSecr names
#             inst1 to U1 in IP-in-IP, inst1 took them out of the tunnel
#             (sc_tunnel) and stamped what it sent (sc_stamped), and the
#             router saw the tunnel's packets
#
# and two more with the second chance on:
#
#   control   no event: byte-exact, inst1 stamps what it sends from A and
#             lowers its MSS
#   capable   flap, the client with the client role: pinned to U1 by the
#             SYN-ACK (RFC 1546), so the move changes nothing: byte-exact,
#             the client bound both, and neither instance stamped, lowered
#             or forwarded anything for them (no double handling)
#
#   tests/vm/run --kernel 6.12 -- tests/vm/kmod_second.sh
set -u
# shellcheck source=guest.sh
. tests/vm/guest.sh
guest_init kmod-second

MB=${SECOND_MB:-1}
# lab.sh sets LAB_SLOW (4 in the guest): the pace and the bounds with it.
kmod_lab "$MB" plain
RATE=${SECOND_RATE:-$((1000000 / LAB_SLOW))}
CURL_ARGS=(--max-time $((20 * LAB_SLOW)) --speed-limit 1024 --speed-time $((3 * LAB_SLOW)))
LAB_ANYPIN_LEGACY=client
lab_count_add ipip-to-inst1 4 -o i1 -d "$U1_4" -p 4
lab_count_add ipip-to-inst1 6 -o i1 -d "$U1_6" -p 41

# sc_read TAG: the counters of inst1, inst2 (sc_*) and the client (bound)
# per prefix, into CNT[TAG-NS-COUNTER-PREFIX]; one read per namespace.
declare -A CNT
sc_read() {
	local ns row c v
	for ns in client inst1 inst2; do
		# shellcheck disable=SC2016  # an awk program
		while read -r row c v; do
			CNT[$1-$ns-$c-$row]=$v
		done < <(lab_ns "$ns" awk '
			NR == 1 { for (i = 1; i <= NF; i++) if ($i ~ /^sc_/ || $i == "bound") col[i] = $i; next }
			$1 ~ /^any[46]$/ { for (i in col) print $1, col[i], $i }' /proc/net/anypin/stats)
	done
}

# moved NS COUNTER F: how much COUNTER of NS's prefix anyF moved in the
# last phase.
moved() {
	echo $((${CNT[after-$1-$2-any$3]:-0} - ${CNT[before-$1-$2-any$3]:-0}))
}

# event NAME: the router's (or the instances') change mid-transfer.
event() {
	case $1 in
	flap | cookies | tfo | nat | capable) lab_route_a inst2 ;;
	spread) lab_spread_on ;;
	drain) lab_withdraw inst1 ;;
	esac
}

# phase TAG EVENT: paced downloads from A and A6 with A routed to inst1;
# unless EVENT is none, EVENT happens once 100 kB have arrived (the server
# holds the response there until then). Sets AT[TAG-F], the bytes before
# the event, A2[TAG-F], the packets the router sent to A at inst2,
# WHO[TAG-F], which instance a new connection reached after the event
# (drain only), and CNT[before-...] and CNT[after-...] (sc_read).
declare -A AT A2 WHO
phase() {
	local f a r=$RATE h4='' h6=''
	if [ "$2" = none ]; then
		r=$((RATE * 4))
	else
		h4="&$(lab_hold "$1-v4")" h6="&$(lab_hold "$1-v6")"
	fi
	lab_route_a inst1
	lab_count_zero
	sc_read before
	lab_fetch_bg "$1-v4" "$(lab_url "$A4" "data.bin?rate=$r$h4")" "${CURL_ARGS[@]}" "${MORE_ARGS[@]}"
	lab_fetch_bg "$1-v6" "$(lab_url "$A6" "data.bin?rate=$r$h6")" "${CURL_ARGS[@]}" "${MORE_ARGS[@]}"
	if [ "$2" != none ]; then
		lab_fetch_wait_bytes "$1-v4" 100000 $((15 * LAB_SLOW)) || true
		lab_fetch_wait_bytes "$1-v6" 100000 $((15 * LAB_SLOW)) || true
		event "$2" || fail "$1" "the event $2 failed"
		AT[$1-4]=$(lab_fetch_bytes "$1-v4")
		AT[$1-6]=$(lab_fetch_bytes "$1-v6")
		lab_release "$1-v4" "$1-v6"
		for f in 4 6; do
			a=A$f
			[ "$2" != drain ] || WHO[$1-$f]=$(lab_whoami "${!a}")
		done
	fi
	lab_fetch_wait
	for f in 4 6; do
		A2[$1-$f]=$(lab_count a-to-inst2 "$f")
	done
	sc_read after
	[ "$2" != spread ] || lab_spread_off
	lab_route_a inst1
}

# nat on|off: the router's source NAT of the client's packets to A (not
# of the tunnel's: that is between the instances). Not MASQUERADE: a
# masqueraded connection whose packets leave by another interface is
# dropped (nf_nat_oif_changed()), and the move is such a change.
nat() {
	local op=-A
	[ "$1" = on ] || op=-D
	lab_ns router "$LAB_IPT" -w -t nat "$op" POSTROUTING -s "$C4" -d "$PREFIX4" \
		-p tcp -j SNAT --to-source "$R_C4:20000-30000" &&
		lab_ns router "$LAB_IP6T" -w -t nat "$op" POSTROUTING -s "$C6" -d "$PREFIX6" \
			-p tcp -j SNAT --to-source "[$R_C6]:20000-30000"
}

# instances KEY=VALUE: a sysctl on both instances.
instances() {
	lab_sysctl inst1 "$1" && lab_sysctl inst2 "$1"
}

# tcpext NS NAME: the TcpExt counter NAME of NS (/proc/net/netstat,
# IPv4 and IPv6 together).
tcpext() {
	# shellcheck disable=SC2016  # an awk program
	lab_ns "$1" awk -v n="$2" '
		$1 == "TcpExt:" && !h { for (i = 2; i <= NF; i++) col[$i] = i; h = 1; next }
		$1 == "TcpExt:" { print $col[n] + 0 }' /proc/net/netstat
}

# run TAG EVENT: phase TAG EVENT with what EVENT needs set up around it;
# for cookies and tfo, SEEN[TAG] is how often inst1's TCP used them
# (TcpExt SyncookiesSent, TCPFastOpenPassive).
declare -A SEEN
MORE_ARGS=()
run() {
	local ext='' k0=0 ok=1
	case $2 in
	nat) nat on || fail "$1" "the SNAT rules were refused" ;;
	cookies)
		ext=SyncookiesSent
		instances net.ipv4.tcp_syncookies=2 || ok=0
		;;
	tfo)
		ext=TCPFastOpenPassive MORE_ARGS=(--tcp-fastopen)
		instances net.ipv4.tcp_fastopen=515 || ok=0
		lab_sysctl client net.ipv4.tcp_fastopen=5 || ok=0
		;;
	capable)
		LAB_ANYPIN_LEGACY='' kmod__apply client client ||
			fail "$1" "the client role refused"
		;;
	esac
	[ "$ok" = 1 ] || fail "$1" "the instances refused the settings of $2"
	[ -z "$ext" ] || k0=$(tcpext inst1 "$ext")
	phase "$1" "$2"
	[ -z "$ext" ] || SEEN[$1]=$(($(tcpext inst1 "$ext") - k0))
	MORE_ARGS=()
	case $2 in
	nat) nat off || fail "$1" "the SNAT rules were not removed" ;;
	cookies) instances net.ipv4.tcp_syncookies=1 || fail "$1" "tcp_syncookies=1 refused" ;;
	tfo)
		instances net.ipv4.tcp_fastopen=1 || fail "$1" "tcp_fastopen=1 refused"
		lab_sysctl client net.ipv4.tcp_fastopen=1 || fail "$1" "tcp_fastopen=1 refused"
		;;
	capable) lab_sysctl client net.anypin.prefixes= || fail "$1" "the client role stays" ;;
	esac
}

# judge_without TAG EVENT: the event broke it, as plain anycast.
judge_without() {
	local f
	for f in 4 6; do
		lab_fetch_result "$1-v$f"
		if [ "$2" = cookies ] || [ "$2" = tfo ] && [ "${SEEN[$1]:-0}" = 0 ]; then
			fail "$1-v$f" "inst1's TCP did not use $2: the phase is a plain flap ($(lab_fetch_describe))"
		elif [ "$FETCH_EXACT" = 1 ]; then
			fail "$1-v$f" "byte-exact through the event with instance 0: the test proves nothing"
		elif [ "${A2[$1-$f]}" = 0 ]; then
			fail "$1-v$f" "no packet to A reached inst2: the event did not happen ($(lab_fetch_describe))"
		else
			pass "$1-v$f" "instance 0: broken as plain anycast ($(lab_fetch_describe); $(lab_rsts "$f"))"
		fi
	done
}

# judge_second TAG EVENT: byte-exact through the event, by forwarding.
judge_second() {
	local f fw tu st lim ipip what extra
	for f in 4 6; do
		lab_fetch_result "$1-v$f"
		fw=$(moved inst2 sc_forwarded "$f") tu=$(moved inst1 sc_tunnel "$f")
		st=$(moved inst1 sc_stamped "$f") lim=$(moved inst2 sc_limited "$f")
		ipip=$(lab_count ipip-to-inst1 "$f")
		what="inst2 sc_forwarded=$fw sc_limited=$lim, inst1 sc_tunnel=$tu sc_stamped=$st, $ipip tunnel packets to U1, event after $(lab_mib "${AT[$1-$f]:-0}") MB"
		extra=''
		case $2 in
		drain) [ "${WHO[$1-$f]}" = inst2 ] ||
			extra="a new connection reached '${WHO[$1-$f]}', not inst2" ;;
		cookies)
			what="$what, inst1 sent ${SEEN[$1]:-0} SYN cookies"
			[ "${SEEN[$1]:-0}" -gt 0 ] || extra="inst1 sent no SYN cookie" ;;
		tfo)
			what="$what, inst1 took ${SEEN[$1]:-0} Fast Open SYNs"
			[ "${SEEN[$1]:-0}" -gt 0 ] || extra="inst1 took no Fast Open SYN" ;;
		esac
		if [ "$FETCH_EXACT" != 1 ]; then
			fail "$1-v$f" "$(lab_fetch_describe); $(lab_rsts "$f"); $what"
		elif [ "${A2[$1-$f]}" = 0 ] || [ "${AT[$1-$f]:-0}" -ge $((LAB_DATA_BYTES / 2)) ]; then
			fail "$1-v$f" "byte-exact, but the event came too late or not at all (${A2[$1-$f]} packets to A at inst2); $what"
		elif [ -n "$extra" ]; then
			fail "$1-v$f" "byte-exact, but $extra; $what"
		elif [ "$fw" -gt 0 ] && [ "$tu" -gt 0 ] && [ "$st" -gt 0 ] && [ "$ipip" -gt 0 ]; then
			pass "$1-v$f" "$(lab_fetch_describe) through the event; $what"
		else
			fail "$1-v$f" "byte-exact, but the counters did not move: $what"
		fi
	done
}

EVENTS=(flap spread drain cookies tfo nat)

if lab_plain; then
	say "without the second chance"
	datapath_start || fail lab-config "datapath_start failed"
	for e in "${EVENTS[@]}"; do
		run "without-$e" "$e"
		judge_without "without-$e" "$e"
	done
fi

say "the second chance, no event"
LAB_ANYPIN_SECOND=1 datapath_start || fail lab-config "instance and peers refused"
run control none
for f in 4 6; do
	lab_fetch_result "control-v$f"
	st=$(moved inst1 sc_stamped "$f") mss=$(moved inst1 sc_mss "$f")
	if [ "$FETCH_EXACT" = 1 ] && [ "$st" -gt 0 ] && [ "$mss" -gt 0 ]; then
		pass "control-v$f" "$(lab_fetch_describe); inst1 sc_stamped=$st sc_mss=$mss"
	else
		fail "control-v$f" "$(lab_fetch_describe); inst1 sc_stamped=$st sc_mss=$mss"
	fi
done

say "the second chance, a capable client"
run capable capable
for f in 4 6; do
	lab_fetch_result "capable-v$f"
	b=$(moved client bound "$f") u=$(lab_count u-to-inst1 "$f")
	sc="inst1 sc_stamped=$(moved inst1 sc_stamped "$f") sc_mss=$(moved inst1 sc_mss "$f"), inst2 sc_forwarded=$(moved inst2 sc_forwarded "$f")"
	what="client bound=$b, $u packets to U1; $sc"
	if [ "$FETCH_EXACT" != 1 ]; then
		fail "capable-v$f" "$(lab_fetch_describe); $(lab_rsts "$f"); $what"
	elif [ "$b" -lt 1 ] || [ "$u" = 0 ]; then
		fail "capable-v$f" "byte-exact, but not pinned to U1: $what"
	elif [ "$sc" != "inst1 sc_stamped=0 sc_mss=0, inst2 sc_forwarded=0" ]; then
		fail "capable-v$f" "byte-exact, but handled twice: $what"
	else
		pass "capable-v$f" "$(lab_fetch_describe), pinned to U1 through the move, nothing stamped, lowered or forwarded; $what"
	fi
done

for e in "${EVENTS[@]}"; do
	say "the second chance: $e"
	run "second-$e" "$e"
	judge_second "second-$e" "$e"
done

datapath_stop
kmod_lab_down
guest_dmesg_check
guest_done
