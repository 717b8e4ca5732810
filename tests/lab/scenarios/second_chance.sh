#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# The second chance (docs/second-chance.md): a client that runs no anypin
# (LAB_ANYPIN_LEGACY=client) downloads from A and A6 at once, served by
# inst1; once 100 kB have arrived (the server holds the response there,
# lab_hold), something moves the client's packets to A elsewhere. Both
# instances are responders (unicast U1, U2). The events:
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
#   ptb       flap, and the router's path from inst1 to the client shrinks
#             to an MTU of 1280 at once: inst1's full-size segments draw
#             "fragmentation needed" / "packet too big" errors to A, which
#             the router now sends to inst2. The error must reach inst1's
#             socket, forwarded by the TSval it quotes; without that,
#             inst1 resends full-size segments for good and the download
#             stalls
#   unsent    flap, and at the same moment inst2 loses its routes to
#             inst1's unicast addresses (unreachable routes to U1, as
#             when the path between the instances breaks): inst2 decides
#             to forward the client's segments but cannot send them.
#             Only with a datapath (without, it is flap), which must
#             keep such a forward where it landed: its promise is to be
#             never worse than plain anycast. The module's forwards meet
#             the route to the peer before they leave
#             (ip_route_output_key(), ip6_dst_lookup_flow():
#             docs/kmod.md), and so do anypind's (bpf_fib_lookup()
#             where the device they came in on forwards, elsewhere the
#             route anypind asked rtnetlink for: docs/second-chance.md)
#   nat       flap, with the router's source NAT of the client (to its
#             own address, ports 20000-30000; NAT66 for IPv6), as a home
#             or carrier-grade NAT on the path; last, as it leaves the
#             router's conntrack on for what follows
#
# Each event twice:
#
#   without anypin   (lab_plain) no datapath, which for this client is
#                    what instance 0 is: inst2 has no socket for the
#                    client's segments and resets the connection, as
#                    plain anycast
#   with DATAPATH    instance 1 and 2, peers of each other
#                    (LAB_ANYPIN_SECOND, tests/lab/lib/datapaths.sh):
#                    byte-exact; inst2 forwarded (sc_forwarded) the
#                    segments whose TSecr names inst1 to U1 in IP-in-IP,
#                    inst1 took them out of the tunnel (sc_tunnel) and
#                    stamped what it sent (sc_stamped), the router saw
#                    the tunnel's packets, and inst2 sent every forward
#                    it chose (sc_unsent 0); but for unsent: broken
#                    as plain anycast (inst2's RST), every forward
#                    inst2 chose unsent (sc_unsent = sc_forwarded, at
#                    least 1), none reached inst1, and a connection
#                    made after the event, with A still at inst2 and
#                    U1 still unreachable from it, byte-exact
#
# and two more with DATAPATH, before the events:
#
#   control   no event: byte-exact, inst1 stamps what it sends from A and
#             lowers its MSS
#   capable   flap, the client with the client role (the datapath
#             restarted with it): pinned to U1 by the SYN-ACK (RFC 1546),
#             so the move changes nothing: byte-exact, the client bound
#             both, and neither instance stamped, lowered or forwarded
#             anything for them (no double handling)
#
# The counters are each phase's deltas of the datapath's own (lab_stats,
# lab_stat_delta), the same names for every datapath. A datapath that
# refuses instance and peers but starts without them, or gives no such
# counters, has no second chance: lab_datapath_unavailable says why.
# Check names: "second-flap-v4 without anypin", "second-flap-v4 with kmod".
# Knobs: SECOND_MB (1), SECOND_RATE (1000000 / LAB_SLOW bytes/s),
# SECOND_MAXTIME (20 LAB_SLOW s), SECOND_FORWARDING (6: the instances'
# eth0 forward IPv6 only; 0: neither family, 1: both). anypind's forwards
# leave by the route its programs look up where the device forwards, and
# where it does not (the kernel looks none up for them) by anypind's own
# answer from rtnetlink: the default runs each way once, IPv4 by
# anypind's answer and IPv6 by the programs' lookup, unsent included.
#
# Ten phases per datapath and seven without, each a paced transfer: in
# the VM's guest, beside the lab's, that takes more than one LAB_TIMEOUT.
# lab-timeout: 3

set -euo pipefail
# shellcheck source=../lab.sh
. "$(dirname "$0")/../lab.sh"

MB=${SECOND_MB:-1}
RATE=${SECOND_RATE:-$((1000000 / LAB_SLOW))}
CURL_ARGS=(--max-time "${SECOND_MAXTIME:-$((20 * LAB_SLOW))}" --speed-limit 1024 --speed-time $((3 * LAB_SLOW)))
EVENTS=(flap spread drain cookies tfo ptb unsent nat)
FORWARDING=${SECOND_FORWARDING:-6}
MTU=1280
LAB_ANYPIN_LEGACY=client

# sc_name EVENT [F]: the check's name, of this half.
sc_name() {
	local half='without anypin'
	[ -z "$LAB_DATAPATH" ] || half="with $LAB_DATAPATH"
	printf 'second-%s%s %s' "$1" "${2:+-v$2}" "$half"
}

# snap WHEN: the counters tables of the client, inst1 and inst2 now
# (lab_stats), into ST[WHEN-HOST]; empty without a datapath.
declare -A ST
snap() {
	local h
	for h in client inst1 inst2; do
		ST[$1-$h]=
		[ -z "$LAB_DATAPATH" ] || ST[$1-$h]=$(lab_stats "$h" 2>/dev/null) || ST[$1-$h]=
	done
}

# moved HOST COUNTER F: how much COUNTER of HOST's prefix anyF moved in
# the last phase ("?" when unknown).
moved() {
	lab_stat_delta "${ST[before-$1]}" "${ST[after-$1]}" "$2" "any$3"
}

# event NAME: the router's change mid-transfer.
event() {
	case $1 in
	flap | cookies | tfo | nat | capable) lab_route_a inst2 ;;
	ptb) lab_route_a inst2 && small_mtu on ;;
	# the routes first: until A moves, inst2 has nothing to forward
	unsent) peer_unreachable on && lab_route_a inst2 ;;
	spread) lab_spread_on ;;
	drain) lab_withdraw inst1 ;;
	esac
}

# phase EVENT: paced downloads TAG-v4 and TAG-v6 from A and A6 with A
# routed to inst1; unless EVENT is control, EVENT happens once 100 kB
# have arrived. Sets AT[F], the bytes before the event, A2[F], the
# packets the router sent to A at inst2, WHO[F], which instance a new
# connection reached after the event (drain only), and the snapshots
# ST[before-HOST], ST[after-HOST]. For unsent, once both have ended, a
# whole download TAG-after-vF from each of A and A6 too, with the event
# still in place.
declare -A AT A2 WHO
phase() {
	local f a r=$RATE h4='' h6=''
	AT=() A2=() WHO=()
	if [ "$1" = control ]; then
		r=$((RATE * 4))
	else
		h4="&$(lab_hold "$TAG-v4")" h6="&$(lab_hold "$TAG-v6")"
	fi
	lab_route_a inst1
	lab_count_zero
	snap before
	lab_fetch_bg "$TAG-v4" "$(lab_url "$A4" "data.bin?rate=$r$h4")" "${CURL_ARGS[@]}" "${MORE_ARGS[@]}"
	lab_fetch_bg "$TAG-v6" "$(lab_url "$A6" "data.bin?rate=$r$h6")" "${CURL_ARGS[@]}" "${MORE_ARGS[@]}"
	if [ "$1" != control ]; then
		lab_fetch_wait_bytes "$TAG-v4" 100000 $((15 * LAB_SLOW)) || true
		lab_fetch_wait_bytes "$TAG-v6" 100000 $((15 * LAB_SLOW)) || true
		event "$1" || lab_fail "$(sc_name "$1")" "the event $1 failed"
		AT[4]=$(lab_fetch_bytes "$TAG-v4")
		AT[6]=$(lab_fetch_bytes "$TAG-v6")
		lab_release "$TAG-v4" "$TAG-v6"
		for f in 4 6; do
			a=A$f
			[ "$1" != drain ] || WHO[$f]=$(lab_whoami "${!a}") || WHO[$f]=
		done
	fi
	lab_fetch_wait
	for f in 4 6; do
		A2[$f]=$(lab_count a-to-inst2 "$f")
	done
	if [ "$1" = unsent ]; then
		lab_fetch_bg "$TAG-after-v4" "$(lab_url "$A4" data.bin)" "${CURL_ARGS[@]}"
		lab_fetch_bg "$TAG-after-v6" "$(lab_url "$A6" data.bin)" "${CURL_ARGS[@]}"
		lab_fetch_wait
	fi
	snap after
	[ "$1" != spread ] || lab_spread_off
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

# small_mtu on|off: the router's MTU for what inst1 sends to the client.
# off takes away whatever on put there, and flushes the instances' route
# caches (the path MTU they learned) for the phases that follow, even
# when something of it is missing; it fails if some of it was there but
# would not go.
small_mtu() {
	local i rc=0
	if [ "$1" = on ]; then
		ip -n "$NS_ROUTER" rule add iif i1 lookup 171 pref 171 &&
			ip -n "$NS_ROUTER" -6 rule add iif i1 lookup 171 pref 171 &&
			ip -n "$NS_ROUTER" route add "$C4/32" dev c0 table 171 mtu lock "$MTU" &&
			ip -n "$NS_ROUTER" -6 route add "$C6/128" dev c0 table 171 mtu lock "$MTU"
		return
	fi
	for i in -4 -6; do
		if ip -n "$NS_ROUTER" "$i" rule show pref 171 | grep -q .; then
			ip -n "$NS_ROUTER" "$i" rule del pref 171 || rc=1
		fi
		ip -n "$NS_ROUTER" "$i" route flush table 171 2>/dev/null || true
	done
	for i in inst1 inst2; do
		lab_ns "$i" ip route flush cache 2>/dev/null || true
		lab_ns "$i" ip -6 route flush cache 2>/dev/null || true
	done
	return "$rc"
}

# peer_unreachable on|off: inst2's routes to inst1's unicast addresses
# U1 unreachable, or back to its default routes. off takes away whatever
# on put there; it fails if some of it was there but would not go.
peer_unreachable() {
	local f u rc=0
	for u in "4 $U1_4/32" "6 $U1_6/128"; do
		read -r f u <<<"$u"
		if [ "$1" = on ]; then
			ip -n "$NS_INST2" "-$f" route add unreachable "$u" || return 1
		elif ip -n "$NS_INST2" "-$f" route show to exact "$u" type unreachable | grep -q .; then
			ip -n "$NS_INST2" "-$f" route del unreachable "$u" || rc=1
		fi
	done
	return "$rc"
}

# ptbs NS F: the "fragmentation needed" (F 4) or "packet too big" (F 6)
# errors NS's ICMP has taken.
# shellcheck disable=SC2016  # awk programs
ptbs() {
	if [ "$2" = 4 ]; then
		lab_ns "$1" awk '$1 == "Icmp:" && !h { for (i = 2; i <= NF; i++) col[$i] = i; h = 1; next }
			$1 == "Icmp:" { print $col["InDestUnreachs"] + 0 }' /proc/net/snmp || echo 0
	else
		lab_ns "$1" awk '$1 == "Icmp6InPktTooBigs" { print $2 + 0 }' /proc/net/snmp6 || echo 0
	fi
}

# icmp_out F: the ICMP errors of F the router sent to A (its OUTPUT rule
# ptb-to-a, added below).
icmp_out() {
	local ipt=$LAB_IPT
	[ "$1" = 4 ] || ipt=$LAB_IP6T
	{ lab_ns router "$ipt" -w -nvxL OUTPUT || true; } |
		awk 'index($0, "/* ptb-to-a */") { s += $1 } END { print s + 0 }'
}

# forwarding NAME 0|1|6: whether the instance NAME's eth0, where the
# client's packets come in, forwards: neither family, both, IPv6 only.
forwarding() {
	local v4=0 v6=0
	case $2 in
	1) v4=1 v6=1 ;;
	6) v6=1 ;;
	esac
	lab_sysctl "$1" "net.ipv4.conf.eth0.forwarding=$v4" "net.ipv6.conf.eth0.forwarding=$v6"
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

# run EVENT: phase EVENT, named TAG (the datapath, or plain, and EVENT),
# with what EVENT needs set up around it; for cookies and tfo, SEEN is
# how often inst1's TCP used them (TcpExt SyncookiesSent,
# TCPFastOpenPassive); for ptb, PTB_OUT[F] and PTB_IN[F] are the errors
# of family F the router sent to A and inst1's ICMP took. capable
# restarts the datapath with the client role on the client, and again
# without it after.
MORE_ARGS=()
declare -A PTB_OUT PTB_IN
run() {
	local ext='' k0=0 ok=1 name f
	local -A out0 in0
	name=$(sc_name "$1")
	TAG=${LAB_DATAPATH:-plain}-$1 SEEN=0
	case $1 in
	nat) nat on || lab_fail "$name" "the SNAT rules were refused" ;;
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
		lab_datapath_stop
		LAB_ANYPIN_LEGACY='' lab_datapath_start ||
			lab_fail "$name" "the datapath did not start with the client role"
		;;
	esac
	[ "$ok" = 1 ] || lab_fail "$name" "the instances refused the settings of $1"
	[ -z "$ext" ] || k0=$(tcpext inst1 "$ext")
	for f in 4 6; do
		out0[$f]=$(icmp_out "$f") in0[$f]=$(ptbs inst1 "$f")
	done
	phase "$1"
	[ -z "$ext" ] || SEEN=$(($(tcpext inst1 "$ext") - k0))
	for f in 4 6; do
		PTB_OUT[$f]=$(($(icmp_out "$f") - out0[$f]))
		PTB_IN[$f]=$(($(ptbs inst1 "$f") - in0[$f]))
	done
	MORE_ARGS=()
	case $1 in
	ptb) small_mtu off || lab_fail "$name" "the small MTU was not taken away" ;;
	unsent) peer_unreachable off || lab_fail "$name" "inst2's unreachable routes to U1 would not go" ;;
	nat) nat off || lab_fail "$name" "the SNAT rules were not removed" ;;
	cookies) instances net.ipv4.tcp_syncookies=1 || lab_fail "$name" "tcp_syncookies=1 refused" ;;
	tfo)
		instances net.ipv4.tcp_fastopen=1 || lab_fail "$name" "tcp_fastopen=1 refused"
		lab_sysctl client net.ipv4.tcp_fastopen=1 || lab_fail "$name" "tcp_fastopen=1 refused"
		;;
	capable)
		lab_datapath_stop
		lab_datapath_start || lab_fail "$name" "the datapath did not start again without the client role"
		;;
	esac
}

# judge_without EVENT: the event broke it, as plain anycast.
judge_without() {
	local f name
	for f in 4 6; do
		name=$(sc_name "$1" "$f")
		lab_fetch_result "$TAG-v$f"
		if { [ "$1" = cookies ] || [ "$1" = tfo ]; } && [ "$SEEN" = 0 ]; then
			lab_fail "$name" "inst1's TCP did not use $1: the phase is a plain flap ($(lab_fetch_describe))"
		elif [ "$FETCH_EXACT" = 1 ]; then
			lab_fail "$name" "byte-exact through the event without anypin: the test proves nothing"
		elif [ "${A2[$f]}" = 0 ]; then
			lab_fail "$name" "no packet to A reached inst2: the event did not happen ($(lab_fetch_describe))"
		else
			lab_pass "$name" "broken as plain anycast ($(lab_fetch_describe); $(lab_rsts "$f"))"
		fi
	done
}

# judge_second EVENT: byte-exact through the event, by forwarding, every
# forward sent (sc_unsent 0: TCP's retransmissions would hide a lost one).
# inst2's sc_limited, forwards refused by forward_rate, is only reported:
# where a download broke, it says why.
judge_second() {
	local f name fw tu st lim un ipip what extra
	for f in 4 6; do
		name=$(sc_name "$1" "$f")
		lab_fetch_result "$TAG-v$f"
		fw=$(moved inst2 sc_forwarded "$f") tu=$(moved inst1 sc_tunnel "$f")
		st=$(moved inst1 sc_stamped "$f") lim=$(moved inst2 sc_limited "$f")
		un=$(moved inst2 sc_unsent "$f") ipip=$(lab_count ipip-to-inst1 "$f")
		what="inst2 sc_forwarded=$fw sc_limited=$lim sc_unsent=$un, inst1 sc_tunnel=$tu sc_stamped=$st, $ipip tunnel packets to U1, event after $(lab_mib "${AT[$f]:-0}") MB"
		extra=''
		case $1 in
		drain) [ "${WHO[$f]}" = inst2 ] ||
			extra="a new connection reached '${WHO[$f]}', not inst2" ;;
		cookies)
			what="$what, inst1 sent $SEEN SYN cookies"
			[ "$SEEN" -gt 0 ] || extra="inst1 sent no SYN cookie" ;;
		tfo)
			what="$what, inst1 took $SEEN Fast Open SYNs"
			[ "$SEEN" -gt 0 ] || extra="inst1 took no Fast Open SYN" ;;
		ptb)
			what="$what, the router sent ${PTB_OUT[$f]} ICMP errors to A, inst1 took ${PTB_IN[$f]}"
			if [ "${PTB_OUT[$f]}" = 0 ]; then
				extra="the router sent no ICMP error to A: the small MTU was never met"
			elif [ "${PTB_IN[$f]}" = 0 ]; then
				extra="none of the router's ICMP errors reached inst1"
			fi ;;
		esac
		if [ "$FETCH_EXACT" != 1 ]; then
			lab_fail "$name" "$(lab_fetch_describe); $(lab_rsts "$f"); $what"
		elif [ "${A2[$f]}" = 0 ] || [ "${AT[$f]:-0}" -ge $((LAB_DATA_BYTES / 2)) ]; then
			lab_fail "$name" "byte-exact, but the event came too late or not at all (${A2[$f]} packets to A at inst2); $what"
		elif [ -n "$extra" ]; then
			lab_fail "$name" "byte-exact, but $extra; $what"
		elif [ "$un" != 0 ]; then
			lab_fail "$name" "byte-exact, but inst2 could not send $un of its forwards; $what"
		elif lab_stat_ge "$fw" 1 && lab_stat_ge "$tu" 1 && lab_stat_ge "$st" 1 && [ "$ipip" -gt 0 ]; then
			lab_pass "$name" "$(lab_fetch_describe) through the event; $what"
		else
			lab_fail "$name" "byte-exact, but the counters did not move: $what"
		fi
	done
}

# judge_unsent: inst2 chose to forward but could not send, so the
# connection ended as plain anycast ends it: inst2's stack took the
# client's segment and reset it. Every forward counted unsent (an unsent
# one is left to the host, a sent one would have reached inst1), and a
# connection made after the event, A still at inst2, was served whole.
judge_unsent() {
	local f name fw un lim tu ipip rst what after
	for f in 4 6; do
		name=$(sc_name unsent "$f")
		fw=$(moved inst2 sc_forwarded "$f") un=$(moved inst2 sc_unsent "$f")
		lim=$(moved inst2 sc_limited "$f") tu=$(moved inst1 sc_tunnel "$f")
		ipip=$(lab_count ipip-to-inst1 "$f") rst=$(lab_count rst-from-inst2 "$f")
		what="inst2 sc_forwarded=$fw sc_unsent=$un sc_limited=$lim, inst1 sc_tunnel=$tu, $ipip tunnel packets to U1, event after $(lab_mib "${AT[$f]:-0}") MB"
		lab_fetch_result "$TAG-after-v$f"
		what="$what; a connection after it: $(lab_fetch_describe)"
		after=$FETCH_EXACT
		lab_fetch_result "$TAG-v$f"
		if [ "$FETCH_EXACT" = 1 ]; then
			lab_fail "$name" "byte-exact through the event: no forward was left unsent; $what"
		elif [ "${A2[$f]}" = 0 ]; then
			lab_fail "$name" "no packet to A reached inst2: the event did not happen ($(lab_fetch_describe)); $what"
		elif ! lab_stat_ge "$un" 1; then
			lab_fail "$name" "$(lab_fetch_describe), but inst2 counted no unsent forward; $what"
		elif [ "$un" != "$fw" ] || [ "$tu" != 0 ] || [ "$ipip" != 0 ]; then
			lab_fail "$name" "$(lab_fetch_describe), but not every forward stayed unsent; $what"
		elif [ "$rst" = 0 ]; then
			lab_fail "$name" "$(lab_fetch_describe), but inst2 sent no RST: not as plain anycast; $what"
		elif [ "$after" != 1 ]; then
			lab_fail "$name" "$(lab_fetch_describe), but a connection made after the event failed; $what"
		else
			lab_pass "$name" "reset as plain anycast ($(lab_fetch_describe); $(lab_rsts "$f")); $what"
		fi
	done
}

# judge_control: byte-exact, stamped and the MSS lowered.
judge_control() {
	local f name st mss
	for f in 4 6; do
		name=$(sc_name control "$f")
		lab_fetch_result "$TAG-v$f"
		st=$(moved inst1 sc_stamped "$f") mss=$(moved inst1 sc_mss "$f")
		if [ "$FETCH_EXACT" = 1 ] && lab_stat_ge "$st" 1 && lab_stat_ge "$mss" 1; then
			lab_pass "$name" "$(lab_fetch_describe); inst1 sc_stamped=$st sc_mss=$mss"
		else
			lab_fail "$name" "$(lab_fetch_describe); inst1 sc_stamped=$st sc_mss=$mss"
		fi
	done
}

# judge_capable: pinned by RFC 1546, and nothing done twice.
judge_capable() {
	local f name b u sc what
	for f in 4 6; do
		name=$(sc_name capable "$f")
		lab_fetch_result "$TAG-v$f"
		b=$(moved client bound "$f") u=$(lab_count u-to-inst1 "$f")
		sc="inst1 sc_stamped=$(moved inst1 sc_stamped "$f") sc_mss=$(moved inst1 sc_mss "$f"), inst2 sc_forwarded=$(moved inst2 sc_forwarded "$f")"
		what="client bound=$b, $u packets to U1; $sc"
		if [ "$FETCH_EXACT" != 1 ]; then
			lab_fail "$name" "$(lab_fetch_describe); $(lab_rsts "$f"); $what"
		elif ! lab_stat_ge "$b" 1 || [ "$u" = 0 ]; then
			lab_fail "$name" "byte-exact, but not pinned to U1: $what"
		elif [ "${sc//[!?]/}" ]; then
			lab_fail "$name" "byte-exact, but the datapath gave no such counters: $what"
		elif [ "$sc" != "inst1 sc_stamped=0 sc_mss=0, inst2 sc_forwarded=0" ]; then
			lab_fail "$name" "byte-exact, but handled twice: $what"
		else
			lab_pass "$name" "$(lab_fetch_describe), pinned to U1 through the move, nothing stamped, lowered or forwarded; $what"
		fi
	done
}

# sc_start: the chosen datapath started with the second chance on both
# instances (LAB_ANYPIN_SECOND=1). 0: it runs and counts sc_stamped;
# 1: it has no second chance (it refuses instance and peers but starts
# without them, or it gives no such counter); 2: it does not start even
# without them. The reason of 1 and 2 in LAB_DATAPATH_WHY.
sc_start() {
	local err=$LAB_STATE/sc-start.err why
	if lab_datapath_start 2>"$err"; then
		cat "$err" >&2
		if lab_stats inst1 2>/dev/null | lab_stat_of sc_stamped any4 >/dev/null; then
			return 0
		fi
		lab_datapath_stop
		LAB_DATAPATH_WHY="it gives no counter sc_stamped (lab_stats) to judge a second chance by"
		return 1
	fi
	cat "$err" >&2
	why=$(grep -m 1 -E 'second chance|instance|peers' "$err" | sed 's/^[ |]*//') || why=
	[ -n "$why" ] || why=$(grep -v '^[ |]*$' "$err" | tail -n 1 | sed 's/^[ |]*//') || why=
	lab_datapath_stop
	if LAB_ANYPIN_SECOND='' lab_datapath_start 2>/dev/null; then
		lab_datapath_stop
		LAB_DATAPATH_WHY="it does not take instance and peers${why:+ ($why)}"
		return 1
	fi
	lab_datapath_stop
	LAB_DATAPATH_WHY="it does not start, with or without instance and peers${why:+ ($why)}"
	return 2
}

lab_up
forwarding inst1 "$FORWARDING"
forwarding inst2 "$FORWARDING"
lab_serve "$MB"
lab_ns router "$LAB_IPT" -w -A OUTPUT -d "$A4" -p icmp --icmp-type fragmentation-needed \
	-m comment --comment ptb-to-a
lab_ns router "$LAB_IP6T" -w -A OUTPUT -d "$A6" -p icmpv6 --icmpv6-type packet-too-big \
	-m comment --comment ptb-to-a
lab_count_add ipip-to-inst1 4 -o i1 -d "$U1_4" -p 4
lab_count_add ipip-to-inst1 6 -o i1 -d "$U1_6" -p 41

LAB_DATAPATH=
if lab_plain; then
	for e in "${EVENTS[@]}"; do
		# Without anypin, unsent is flap: nothing to send or not.
		[ "$e" != unsent ] || continue
		lab_log "without anypin: $e"
		run "$e"
		judge_without "$e"
	done
fi

for dp in $(lab_datapaths); do
	names=()
	for e in control capable "${EVENTS[@]}"; do
		names+=("second-$e-v4 with $dp" "second-$e-v6 with $dp")
	done
	if ! lab_datapath_use "$dp"; then
		lab_datapath_unavailable "${names[@]}"
		continue
	fi
	LAB_ANYPIN_SECOND=1
	rc=0
	sc_start || rc=$?
	case $rc in
	0)
		lab_log "with $dp: control"
		run control
		judge_control
		lab_log "with $dp: capable"
		run capable
		judge_capable
		for e in "${EVENTS[@]}"; do
			lab_log "with $dp: $e"
			run "$e"
			if [ "$e" = unsent ]; then
				judge_unsent
			else
				judge_second "$e"
			fi
		done
		lab_datapath_stop
		;;
	1) lab_datapath_unavailable "${names[@]}" ;;
	*)
		for n in "${names[@]}"; do
			lab_fail "$n" "$LAB_DATAPATH_WHY"
		done
		;;
	esac
	LAB_ANYPIN_SECOND=
done

lab_done
