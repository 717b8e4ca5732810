#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# anypin.ko next to host firewalls: conntrack-based INPUT policies on the
# lab's client and both instances (tests/lab/lab.sh), as a host firewall
# would have them: policy DROP, INVALID dropped in INPUT and OUTPUT,
# established traffic accepted, and on the instances new connections to
# the service ports only. Pinned downloads from A, IPv4 and IPv6, must be
# byte-exact and go to U1, and conntrack must find no packet INVALID on
# the client or inst1 (the rewrites happen before conntrack on the way in
# and after it on the way out, DESIGN.md).
#
#   tests/vm/run --kernel 6.12 -- tests/vm/kmod/run firewall
set -u
# shellcheck source=../guest.sh
. tests/vm/guest.sh
guest_init kmod
kmod_lab 4

# firewall NS -A|-D POLICY: the conntrack-based INPUT policy (INVALID
# counted) added or deleted; the instances accept new connections to the
# service ports only.
firewall() {
	local ipt
	for ipt in "$LAB_IPT" "$LAB_IP6T"; do
		lab_ns "$1" "$ipt" -w "$2" INPUT -m conntrack --ctstate INVALID \
			-m comment --comment kb-invalid -j DROP
		lab_ns "$1" "$ipt" -w "$2" INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
		if [ "$1" != client ]; then
			lab_ns "$1" "$ipt" -w "$2" INPUT -p tcp -m multiport \
				--dports "$LAB_PORT,$LAB_SINK_PORT" --syn -m conntrack --ctstate NEW -j ACCEPT
		fi
		lab_ns "$1" "$ipt" -w "$2" INPUT -i lo -j ACCEPT
		lab_ns "$1" "$ipt" -w "$2" OUTPUT -m conntrack --ctstate INVALID \
			-m comment --comment kb-invalid -j DROP
	done
	lab_ns "$1" "$LAB_IPT" -w -P INPUT "$3"
	lab_ns "$1" "$LAB_IP6T" -w -P INPUT "$3"
	# Neighbour discovery is not tracked: let it in.
	if [ "$2" = -A ]; then
		lab_ns "$1" "$LAB_IP6T" -w -I INPUT -p icmpv6 --icmpv6-type neighbour-solicitation -j ACCEPT
		lab_ns "$1" "$LAB_IP6T" -w -I INPUT -p icmpv6 --icmpv6-type neighbour-advertisement -j ACCEPT
	else
		lab_ns "$1" "$LAB_IP6T" -w -F INPUT
	fi
}

# invalid_drops NS: packets dropped as INVALID, both families.
invalid_drops() {
	local n=0 ipt c
	for ipt in "$LAB_IPT" "$LAB_IP6T"; do
		# shellcheck disable=SC2016  # an awk program
		c=$(lab_ns "$1" "$ipt" -w -nvxL INPUT | awk '/kb-invalid/ { s += $1 } END { print s + 0 }')
		n=$((n + c))
	done
	echo "$n"
}

say "stateful firewalls"
for ns in client inst1 inst2; do
	firewall $ns -A DROP
done
for f in 4 6; do
	kmod_fetch "fw$f" $f
	if [ "$FETCH_EXACT" = 1 ] && [ "$TO_U1" -gt 20 ]; then
		pass "firewall-v$f" "pinned download through conntrack firewalls (INPUT policy DROP, INVALID dropped) on the client and the instances: byte-exact, $TO_U1 packets to U1"
	else
		fail "firewall-v$f" "exact=$FETCH_EXACT ($FETCH_ERR), $TO_U1 packets to U1"
	fi
done
inv="$(invalid_drops client)/$(invalid_drops inst1)"
if [ "$inv" = 0/0 ]; then
	pass firewall-invalid "conntrack found no packet INVALID on the client or inst1"
else
	fail firewall-invalid "INVALID drops on client/inst1: $inv"
fi
for ns in client inst1 inst2; do
	firewall $ns -D ACCEPT
done

guest_done
