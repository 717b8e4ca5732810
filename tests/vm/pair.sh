# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck shell=bash disable=SC2034
# (SC2034: the sourcing script uses PORT, W and what csum_* set.)
# Shared by the guest scripts that build a client namespace $C and a server
# namespace $S of their own (kmod_csum.sh, anypind_csum.sh,
# kmod_bigtcp.sh): a working directory, an HTTP server in $S, a checked
# download, and the cleanup; for the first two, the VXLAN path that hands
# TCP CHECKSUM_COMPLETE packets (csum_*, below). Source tests/vm/guest.sh
# and call guest_init first, set C and S; cwd: the repository.

PORT=8080
W=$(mktemp -d "/run/$GUEST_TAG.XXXXXX")
# The script's own background processes, killed (SIGTERM) on exit.
pair_pids=

pair_cleanup() {
	local p
	for p in ${pair_http:-} $pair_pids; do kill "$p" 2>/dev/null; done
	ip netns del "$C" 2>/dev/null
	ip netns del "$S" 2>/dev/null
	loaded && rmmod anypin
}
trap pair_cleanup EXIT

# pair_serve MB: MB of random data as data.bin, served by tests/lab/httpd.py
# in $S on $PORT (both families).
pair_serve() {
	mkdir -p "$W/www" &&
		head -c $(($1 * 1024 * 1024)) /dev/urandom > "$W/www/data.bin" || return 1
	ip netns exec "$S" python3 tests/lab/httpd.py --port $PORT --name srv "$W/www" \
		>"$W/http.log" 2>&1 &
	pair_http=$!
	for _ in $(seq 100); do
		ip netns exec "$S" ss -Hltn "sport = :$PORT" | grep -q . && return 0
		sleep 0.2
	done
	return 1
}

# pair_fetch NAME URL: downloads URL from $C into $W/NAME, which must be
# data.bin byte for byte; prints why not. The time limit is wide: next to
# a lab run, these scripts get the CPU it leaves (nice 19).
pair_fetch() {
	local err
	err=$(ip netns exec "$C" curl -gsS --max-time 300 -o "$W/$1" "$2" 2>&1) ||
		{ echo "curl: $err"; return 1; }
	cmp -s "$W/$1" "$W/www/data.bin" || { echo "not byte-exact"; return 1; }
}

# ---------------------------------------------------------------------------
# Pinned downloads whose packets arrive CHECKSUM_COMPLETE (kmod_csum.sh for
# anypin.ko, anypind_csum.sh for anypind).
#
# veth never hands the stack a CHECKSUM_COMPLETE skb, but a VXLAN with UDP
# checksums does: with transmit checksumming off on the veth underneath,
# the outer UDP checksum is verified in software
# (udp_lib_checksum_complete), which leaves the skb CHECKSUM_COMPLETE, and
# the decapsulated packet keeps it (GRO off on the VXLAN device). Over
# that, a client in $C and a responder in $S pin a download from A (IPv4
# and IPv6), so both ends rewrite received COMPLETE packets.
#
# A wrong skb->csum after a rewrite does not break TCP: it falls back to a
# software checksum of the whole segment, silently. So the checks count
# calls of __skb_checksum_complete() (a kprobe): one per VXLAN packet (the
# outer UDP checksum), and one more for every TCP segment whose
# CHECKSUM_COMPLETE sum was left wrong. (The kernel would log "hw csum
# failure" for such a segment if a device had computed the sum; here
# software did, csum_complete_sw, so it stays silent: the count is the
# test.)
#
#   csum_setup          the namespaces, the veth, the VXLAN; A4, U4, A6, U6
#   csum_conf           both ends' configuration files, for either datapath
#   csum_probe          the kprobe
#   csum_download NAME F URL   a download, counted: sets extra, pkts, per
#   csum_plain          the control: plain-v4, plain-v6, to U, no anypin
#   csum_pinned F CMD...       a download from A pinned to U (CMD prints
#                       the client's flow table)
#   csum_judge NAME WHAT WHY   pass NAME or fail it with WHY, on extra
#   csum_tcp_errors     the check tcp-checksums
#   csum_no_fault       the check no-csum-fault (dmesg)
# The sourcing script defines csum_state: both ends' flows and counters
# and the sockets, on a line, for the failures.

# csum_setup: $C and $S joined by a veth (cs0, cs1) with transmit
# checksumming off, a VXLAN (vx0, 10.201.0.0/24, fd00:201::/64) with UDP
# checksums and no GRO over it, A on $S's lo, routed from $C via U.
#
# A and U must differ in their one's complement sums: 10.202.0.1 and
# 10.201.0.2 would not, and the IPv4 rewrite would leave the packet's sum
# as it was, fixed up or not (a module without the fixup passed then; with
# these addresses its IPv4 downloads need a software checksum for every
# segment). An IPv6 address rewrite never changes the sum (no IP header
# checksum: the TCP checksum's change cancels the address's), so there
# the check catches a wrong fixup, not a missing one.
csum_setup() {
	A4=10.202.0.7 U4=10.201.0.2 A6=fd00:202::7 U6=fd00:201::2
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

# csum_conf: the configuration of the client ($W/client.conf, for $C) and
# of the responder ($W/responder.conf, for $S), in sysctl.d syntax as the
# lab writes it (tests/lab/lib/datapaths.sh): anypind reads the file, the
# module gets its lines as sysctls.
csum_conf() {
	{
		echo "net.anypin.prefixes = any4=10.202.0.0/24 any6=fd00:202::/64"
		echo "net.anypin.prefix.any4.responders = 10.201.0.0/24"
		echo "net.anypin.prefix.any6.responders = fd00:201::/64"
	} > "$W/client.conf" &&
	{
		echo "net.anypin.prefixes = any4=10.202.0.0/24 any6=fd00:202::/64"
		echo "net.anypin.prefix.any4.role = responder"
		echo "net.anypin.prefix.any4.unicast = $U4"
		echo "net.anypin.prefix.any6.role = responder"
		echo "net.anypin.prefix.any6.unicast = $U6"
	} > "$W/responder.conf"
}

CSUM_T=/sys/kernel/tracing

# csum_probe: the kprobe anypin_csum on __skb_checksum_complete, enabled.
# (Kept to the end of the boot: a removal would patch the text again.)
csum_probe() {
	mountpoint -q "$CSUM_T" || mount -t tracefs nodev "$CSUM_T" || return 1
	{ grep -q '^p:kprobes/anypin_csum ' "$CSUM_T/kprobe_events" ||
		echo 'p:anypin_csum __skb_checksum_complete' >> "$CSUM_T/kprobe_events"; } &&
		echo 1 > "$CSUM_T/events/kprobes/anypin_csum/enable"
}

# csum__calls: hits of the kprobe so far.
csum__calls() {
	awk '$1 == "anypin_csum" { print $2 }' "$CSUM_T/kprobe_profile"
}

# csum__rx: packets both veth ends received (VXLAN packets, each holding
# one TCP segment, and a few ARP and ND ones).
csum__rx() {
	echo $(($(ip netns exec "$C" cat /sys/class/net/cs0/statistics/rx_packets) +
		$(ip netns exec "$S" cat /sys/class/net/cs1/statistics/rx_packets)))
}

# csum_download NAME F URL: fetches URL into $W/NAMEF (pair_fetch) and
# sets extra (the calls of __skb_checksum_complete beyond one per VXLAN
# packet), pkts (the VXLAN packets) and per (extra per packet, that is per
# TCP segment: "0.00"); or fails NAME-vF and returns 1.
csum_download() {
	local c0 p0 r
	c0=$(csum__calls) p0=$(csum__rx)
	if ! r=$(pair_fetch "$1$2" "$3"); then
		fail "$1-v$2" "download failed: $r; $(csum_state)"
		return 1
	fi
	pkts=$(($(csum__rx) - p0))
	extra=$(($(csum__calls) - c0 - pkts))
	per=$(awk -v e="$extra" -v p="$pkts" 'BEGIN { printf "%.2f", p ? e / p : 0 }')
}

# csum_plain: without anypin, to U: the control of the count, checks
# plain-v4 and plain-v6.
csum_plain() {
	local f u
	for f in 4 6; do
		if [ "$f" = 4 ]; then u=$U4; else u="[$U6]"; fi
		csum_download plain "$f" "http://$u:$PORT/data.bin" || continue
		if [ "$extra" -lt $((-pkts / 10)) ]; then
			fail "plain-v$f" "only $((pkts + extra)) software checksums for $pkts VXLAN packets: the outer UDP checksum was not verified in software, so no packet is CHECKSUM_COMPLETE"
		elif [ "$extra" -gt $((pkts / 50)) ]; then
			fail "plain-v$f" "$extra software checksums beyond one per VXLAN packet ($pkts): the setup does not show what it should"
		else
			pass "plain-v$f" "8 MB byte-exact over VXLAN from U; $pkts VXLAN packets, $extra more software checksums"
		fi
	done
}

# csum_pinned F CMD...: data.bin from A over IPv F (csum_download pinned
# F: sets extra, pkts, per; and unicast, U), then the client's flow table
# as CMD prints it (the format of /proc/net/anypin/flows) must hold a
# flow from A pinned to U; fails pinned-vF and returns 1 when not.
csum_pinned() {
	local f=$1 a u flows
	shift
	if [ "$f" = 4 ]; then a=$A4 u=$U4; else a="[$A6]" u=$U6; fi
	unicast=$u
	csum_download pinned "$f" "http://$a:$PORT/data.bin" || return 1
	flows=$("$@")
	# shellcheck disable=SC2016  # an awk program: $1, $6 and $8 are its fields
	awk -v a="${a//[][]/}" -v u="$u" '$1 == "client" && $6 == a && $8 == u { n++ }
		END { exit !n }' <<<"$flows" && return 0
	fail "pinned-v$f" "byte-exact, but the client's table has no flow from A pinned to $u: $(tr '\n' '|' <<<"$flows")"
	return 1
}

# csum_judge NAME WHAT WHY: after csum_pinned, passes NAME ("WHAT: the
# count") when at most one packet in 50 needed a software checksum beyond
# the VXLAN ones (the handshake, packets a datapath rewrote outside the
# kernel's fixups), fails it with WHY otherwise.
csum_judge() {
	if [ "$extra" -gt $((pkts / 50)) ]; then
		fail "$1" "byte-exact, but $extra software checksums beyond the VXLAN ones for $pkts packets ($per per TCP segment): $3"
	else
		pass "$1" "$2: $pkts VXLAN packets, $extra more software checksums ($per per TCP segment)"
	fi
}

# csum_tcp_errors: the check tcp-checksums. The other way, what the
# datapath rewrote in CHECKSUM_PARTIAL and GSO skbs (the client's requests
# and ACKs, the server's data leaving from U) was finished in software at
# the veth and verified by the receiver.
csum_tcp_errors() {
	local ns n tso bad=''
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
}

# csum_no_fault: the check no-csum-fault: no "hw csum failure"
# (netdev_rx_csum_fault) in the kernel log since guest_init. On this path
# it cannot appear: the kernel reports only a sum a device computed, and
# here software computed it (csum_complete_sw). The count is the test.
csum_no_fault() {
	local bad
	bad=$(dmesg | tail -n +"$((GUEST_DMESG_MARK + 1))" | grep -m 3 'hw csum failure')
	if [ -z "$bad" ]; then
		pass no-csum-fault "no \"hw csum failure\" in the kernel log"
	else
		fail no-csum-fault "$(tr '\n' '|' <<<"$bad")"
	fi
}
