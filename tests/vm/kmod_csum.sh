#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# anypin.ko on CHECKSUM_COMPLETE packets, inside the VM guest:
#
#   tests/vm/run --kernel 6.12 -- tests/vm/kmod_csum.sh
#
# veth never hands the stack a CHECKSUM_COMPLETE skb, but a VXLAN with UDP
# checksums does: with transmit checksumming off on the veth underneath,
# the outer UDP checksum is verified in software
# (udp_lib_checksum_complete), which leaves the skb CHECKSUM_COMPLETE, and
# the decapsulated packet keeps it (GRO off on the VXLAN device). Over
# that, a client and a responder in two namespaces pin a download from A
# (IPv4 and IPv6), so both ends rewrite received COMPLETE packets.
#
# A wrong skb->csum after a rewrite does not break TCP: it falls back to a
# software checksum of the whole segment, silently. So the check counts
# calls of __skb_checksum_complete() (a kprobe): one per VXLAN packet (the
# outer UDP checksum), and one more for every TCP segment whose
# CHECKSUM_COMPLETE sum anypin left wrong.
#
# A and U must differ in their one's complement sums: 10.202.0.1 and
# 10.201.0.2 would not, and the IPv4 rewrite would leave the packet's sum
# as it was, fixed up or not (a module without the fixup passed then; with
# these addresses its IPv4 downloads need a software checksum for every
# segment). An IPv6 address rewrite never changes the sum (no IP header
# checksum: the TCP checksum's change cancels the address's), so there
# the check catches a wrong fixup, not a missing one.
set -u
cd "${ANYPIN_REPO:-.}" || exit 2
# shellcheck source=guest.sh
. tests/vm/guest.sh
guest_init kmod-csum
C=cs-cli S=cs-srv
. tests/vm/pair.sh
A4=10.202.0.7 U4=10.201.0.2 A6=fd00:202::7 U6=fd00:201::2
T=/sys/kernel/tracing

setup() {
	ip netns add "$C" && ip netns add "$S" &&
	ip link add cs0 netns "$C" type veth peer name cs1 netns "$S" || return 1
	local ns me peer dev
	for ns in "$C" "$S"; do
		if [ "$ns" = "$C" ]; then me=1 peer=2 dev=cs0; else me=2 peer=1 dev=cs1; fi
		ip -n "$ns" link set lo up &&
		ip -n "$ns" addr add "10.200.0.$me/24" dev "$dev" &&
		ip -n "$ns" link set "$dev" up &&
		ip netns exec "$ns" ethtool -K "$dev" tx off >/dev/null &&
		ip -n "$ns" link add vx0 type vxlan id 42 local "10.200.0.$me" \
			remote "10.200.0.$peer" dstport 4789 udpcsum &&
		ip netns exec "$ns" ethtool -K vx0 gro off >/dev/null &&
		ip -n "$ns" addr add "10.201.0.$me/24" dev vx0 &&
		ip -n "$ns" addr add "fd00:201::$me/64" dev vx0 nodad &&
		ip -n "$ns" link set vx0 up || return 1
	done
	ip -n "$S" addr add "$A4/32" dev lo &&
	ip -n "$S" addr add "$A6/128" dev lo &&
	ip -n "$C" route add "$A4/32" via "$U4" &&
	ip -n "$C" route add "$A6/128" via "$U6"
}

# conf NS PATH=VALUE...: writes each VALUE to /proc/sys/PATH in NS.
conf() {
	# shellcheck disable=SC2016  # bash -c's script reads its arguments
	ip netns exec "$1" bash -c '
		for kv; do printf "%s\n" "${kv#*=}" > "/proc/sys/${kv%%=*}" || exit 1; done' _ "${@:2}"
}

# csum_calls: hits of the kprobe so far.
csum_calls() {
	awk '$1 == "anypin_csum" { print $2 }' "$T/kprobe_profile"
}

# rx DEV NS: packets DEV received.
rx() {
	ip netns exec "$2" cat "/sys/class/net/$1/statistics/rx_packets"
}

# fetch NAME URL: downloads into $W/NAME; prints the extra calls of
# __skb_checksum_complete beyond one per VXLAN packet, and the packets.
fetch() {
	local c0 p0 c1 p1
	c0=$(csum_calls) p0=$(($(rx cs0 "$C") + $(rx cs1 "$S")))
	pair_fetch "$1" "$2" || return 1
	c1=$(csum_calls) p1=$(($(rx cs0 "$C") + $(rx cs1 "$S")))
	echo "$((c1 - c0 - (p1 - p0))) $((p1 - p0))"
}

setup || { fail setup "namespaces, veth, VXLAN"; exit 1; }
mountpoint -q "$T" || mount -t tracefs nodev "$T" || { fail kprobe "no tracefs"; exit 1; }
# (Kept to the end of the boot: a removal would patch the text again.)
{ { grep -q '^p:kprobes/anypin_csum ' "$T/kprobe_events" ||
	echo 'p:anypin_csum __skb_checksum_complete' >> "$T/kprobe_events"; } &&
	echo 1 > "$T/events/kprobes/anypin_csum/enable"; } ||
	{ fail kprobe "cannot probe __skb_checksum_complete"; exit 1; }

pair_serve 8 || { fail setup "the HTTP server"; exit 1; }

# state: both ends' flow tables and counters, and the sockets, on a line.
state() {
	local ns
	for ns in $C $S; do
		printf '%s: ' "$ns"
		ip netns exec "$ns" sh -c 'cat /proc/net/anypin/flows /proc/net/anypin/stats 2>/dev/null; ss -tni' | tr -s ' \n' ' |'
	done
}

# download NAME F URL: fetches URL into $W/NAME and sets extra and pkts
# (see fetch), or fails NAME-vF.
download() {
	local r
	if ! r=$(fetch "$1$2" "$3"); then
		fail "$1-v$2" "download failed: $r; $(state)"
		return 1
	fi
	read -r extra pkts <<<"$r"
}

# Without anypin, to U: the control of the count.
for f in 4 6; do
	if [ "$f" = 4 ]; then u=$U4; else u="[$U6]"; fi
	download plain "$f" "http://$u:$PORT/data.bin" || continue
	if [ "$extra" -lt $((-pkts / 10)) ]; then
		fail "plain-v$f" "only $((pkts + extra)) software checksums for $pkts VXLAN packets: the outer UDP checksum was not verified in software, so no packet is CHECKSUM_COMPLETE"
	elif [ "$extra" -gt $((pkts / 50)) ]; then
		fail "plain-v$f" "$extra software checksums beyond one per VXLAN packet ($pkts): the setup does not show what it should"
	else
		pass "plain-v$f" "8 MB byte-exact over VXLAN from U; $pkts VXLAN packets, $extra more software checksums"
	fi
done

insmod "$ANYPIN_KO" || { fail insmod "insmod failed"; exit 1; }
{ conf "$C" net/anypin/prefixes="any4=10.202.0.0/24 any6=fd00:202::/64" \
	net/anypin/prefix/any4/responders=10.201.0.0/24 \
	net/anypin/prefix/any6/responders=fd00:201::/64 &&
conf "$S" net/anypin/prefixes="any4=10.202.0.0/24 any6=fd00:202::/64" \
	net/anypin/prefix/any4/role=responder net/anypin/prefix/any4/unicast="$U4" \
	net/anypin/prefix/any6/role=responder net/anypin/prefix/any6/unicast="$U6"; } ||
	{ fail conf "configuring anypin"; exit 1; }

for f in 4 6; do
	if [ "$f" = 4 ]; then a=$A4 u=$U4; else a="[$A6]" u=$U6; fi
	download pinned "$f" "http://$a:$PORT/data.bin" || continue
	# shellcheck disable=SC2016  # an awk program: $1, $6 and $8 are its fields
	pinned=$(ip netns exec "$C" awk -v a="${a//[][]/}" -v u="$u" \
		'$1 == "client" && $6 == a && $8 == u' /proc/net/anypin/flows | wc -l)
	if [ "$pinned" = 0 ]; then
		fail "pinned-v$f" "byte-exact, but the client's table has no flow from A pinned to $u: $(ip netns exec "$C" cat /proc/net/anypin/flows | tr '\n' '|')"
	elif [ "$extra" -gt $((pkts / 50)) ]; then
		fail "pinned-v$f" "byte-exact, but $extra of $pkts rewritten packets needed a software checksum: skb->csum was left wrong"
	else
		pass "pinned-v$f" "8 MB byte-exact from A, pinned to $u, both ends rewriting CHECKSUM_COMPLETE packets: $pkts VXLAN packets, $extra more software checksums"
	fi
done

# The other way, what the hooks rewrote in CHECKSUM_PARTIAL and GSO skbs
# (the client's requests and ACKs, the server's data through the
# responder's POST_ROUTING) was finished in software at the veth and
# verified by the receiver.
bad=
for ns in $C $S; do
	n=$(ip netns exec "$ns" nstat -az TcpInCsumErrors | awk '$1 == "TcpInCsumErrors" { print $2 }')
	[ "${n:-x}" = 0 ] || bad="$bad $ns:${n:-?}"
done
tso=$(ip netns exec "$S" ethtool -k vx0 | awk '$1 == "tcp-segmentation-offload:" { print $2 }')
if [ -n "$bad" ]; then
	fail "tcp-checksums" "TCP checksum errors (namespace:count):$bad"
else
	pass "tcp-checksums" "no TCP checksum error at either end; checksums of rewritten PARTIAL skbs finished in software (GSO on the server's VXLAN device: $tso)"
fi
guest_done
