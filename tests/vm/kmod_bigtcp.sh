#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# anypin.ko and BIG TCP, inside the VM guest:
#
#   tests/vm/run --kernel 6.12 -- tests/vm/kmod_bigtcp.sh
#
# With the GSO and GRO limits of a veth past 64 KiB, the stack sends and
# receives TCP packets up to 185000 bytes: IPv6 ones with payload length 0
# and a Hop-by-Hop header holding the Jumbo Payload option (RFC 2675),
# IPv4 ones (6.3+) with total length 0. A client and a responder in two
# namespaces download from A, first without anypin (the data comes from
# A), then pinned. nftables counts what each end really sends and
# receives (before anypin on the way in, after it on the way out):
# pinned, no data packet may carry A, and packets over 64 KiB must have
# passed both ends' hooks. A datapath that passed such packets untouched
# would send the server's big ones from A, and drop the client's big ones
# from U, which match no socket.
set -u
cd "${ANYPIN_REPO:-.}" || exit 2
# shellcheck source=guest.sh
. tests/vm/guest.sh
guest_init kmod-bigtcp
C=bt-cli S=bt-srv
. tests/vm/pair.sh
A4=10.204.0.7 U4=10.203.0.2 A6=fd00:302::7 U6=fd00:301::2
BIG=185000
families=6
# IPv4 BIG TCP came with 6.3.
[ "$(printf '%s\n' 6.3 "$series" | sort -V | head -n1)" = 6.3 ] && families="4 6"

# ipv4_big NS DEV: gso_ipv4_max_size and gro_ipv4_max_size of DEV to $BIG
# (bookworm's iproute2 does not know them: RTM_NEWLINK by hand).
ipv4_big() {
	ip netns exec "$1" python3 - "$2" "$BIG" <<'PY'
import socket, struct, sys
IFLA_GSO_IPV4_MAX_SIZE, IFLA_GRO_IPV4_MAX_SIZE = 63, 64
RTM_NEWLINK, NLM_F_REQUEST, NLM_F_ACK = 16, 1, 4
idx, size = socket.if_nametoindex(sys.argv[1]), int(sys.argv[2])
attrs = b"".join(struct.pack("=HHI", 8, t, size)
                 for t in (IFLA_GSO_IPV4_MAX_SIZE, IFLA_GRO_IPV4_MAX_SIZE))
body = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, idx, 0, 0) + attrs
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
s.send(struct.pack("=IHHII", 16 + len(body), RTM_NEWLINK,
                   NLM_F_REQUEST | NLM_F_ACK, 1, 0) + body)
err = struct.unpack_from("=i", s.recv(4096), 16)[0]
sys.exit(0 if err == 0 else 1)
PY
}

setup() {
	ip netns add "$C" && ip netns add "$S" &&
	ip link add bt0 netns "$C" type veth peer name bt1 netns "$S" || return 1
	local ns me dev
	for ns in "$C" "$S"; do
		if [ "$ns" = "$C" ]; then me=1 dev=bt0; else me=2 dev=bt1; fi
		ip -n "$ns" link set lo up &&
		ip -n "$ns" link set "$dev" gso_max_size "$BIG" gro_max_size "$BIG" &&
		ip netns exec "$ns" ethtool -K "$dev" gro on >/dev/null &&
		ip -n "$ns" addr add "10.203.0.$me/24" dev "$dev" &&
		ip -n "$ns" addr add "fd00:301::$me/64" dev "$dev" nodad &&
		ip -n "$ns" link set "$dev" up || return 1
		case $families in *4*) ipv4_big "$ns" "$dev" || return 1 ;; esac
	done
	ip -n "$S" addr add "$A4/32" dev lo &&
	ip -n "$S" addr add "$A6/128" dev lo &&
	ip -n "$C" route add "$A4/32" via "$U4" &&
	ip -n "$C" route add "$A6/128" via "$U6"
}

# counter_chain HOOK PRIORITY: counts packets from A and from U (each
# family) and packets over 64 KiB.
counter_chain() {
	cat <<NFT
table inet bt {
	chain count {
		type filter hook $1 priority $2;
		ip saddr $A4 tcp sport $PORT counter comment "a4"
		ip saddr $U4 tcp sport $PORT counter comment "u4"
		ip6 saddr $A6 tcp sport $PORT counter comment "a6"
		ip6 saddr $U6 tcp sport $PORT counter comment "u6"
		meta length > 65535 counter comment "big"
	}
}
NFT
}

# count NS F: N_A, N_U, N_BIG: packets from A and from U (family F) and
# over 64 KiB that the counting chain in NS saw since the last count.
declare -A last
count() {
	local now a u b la lu lb
	now=$(ip netns exec "$1" nft list chain inet bt count |
		awk -v a="\"a$2\"" -v u="\"u$2\"" '$NF == a { na = $(NF - 4) }
		     $NF == u { nu = $(NF - 4) } $NF == "\"big\"" { nb = $(NF - 4) }
		     END { print na + 0, nu + 0, nb + 0 }')
	read -r a u b <<<"$now"
	read -r la lu lb <<<"${last[$1$2]:-0 0 0}"
	last[$1$2]=$now
	N_A=$((a - la)) N_U=$((u - lu)) N_BIG=$((b - lb))
}

# counts F: ca cu cb (the client), sa su sb (the server).
counts() {
	count "$C" "$1"
	ca=$N_A cu=$N_U cb=$N_BIG
	count "$S" "$1"
	sa=$N_A su=$N_U sb=$N_BIG
}

setup || { fail setup "namespaces, veth with BIG TCP"; exit 1; }
# The client counts what arrives before anypin's PRE_ROUTING hook
# (priority -399); the server what leaves after its POST_ROUTING hook (101).
{ counter_chain prerouting -450 | ip netns exec "$C" nft -f - &&
	counter_chain postrouting 200 | ip netns exec "$S" nft -f -; } ||
	{ fail setup "nftables counters"; exit 1; }

pair_serve 16 || { fail setup "the HTTP server"; exit 1; }

url() {
	if [ "$1" = 4 ]; then echo "http://$A4:$PORT/data.bin"; else echo "http://[$A6]:$PORT/data.bin"; fi
}

for f in $families; do
	counts "$f"
	if ! r=$(pair_fetch "plain$f" "$(url "$f")"); then
		fail "without-v$f" "download from A failed: $r"
		continue
	fi
	counts "$f"
	if [ "$sb" = 0 ] || [ "$cb" = 0 ]; then
		fail "without-v$f" "no packet over 64 KiB (server sent $sb, client received $cb): BIG TCP is not in effect, the test proves nothing"
	elif [ "$cu" != 0 ] || [ "$su" != 0 ] || [ "$ca" -lt 10 ]; then
		fail "without-v$f" "expected the data from A: client received $ca from A, $cu from U; server sent $sa from A, $su from U"
	else
		pass "without-v$f" "16 MB byte-exact from A; the server sent $sb packets over 64 KiB, the client received $cb; all from A ($sa sent, $ca received)"
	fi
done

insmod "$ANYPIN_KO" || { fail insmod "insmod failed"; exit 1; }
# shellcheck disable=SC2016  # $1 and $2 are bash -c's arguments, U4 and U6
{ ip netns exec "$C" bash -c '
	echo "any4=10.204.0.0/24 any6=fd00:302::/64" > /proc/sys/net/anypin/prefixes &&
	echo 10.203.0.0/24 > /proc/sys/net/anypin/prefix/any4/responders &&
	echo fd00:301::/64 > /proc/sys/net/anypin/prefix/any6/responders' &&
ip netns exec "$S" bash -c '
	echo "any4=10.204.0.0/24 any6=fd00:302::/64" > /proc/sys/net/anypin/prefixes &&
	echo responder > /proc/sys/net/anypin/prefix/any4/role &&
	echo "$1" > /proc/sys/net/anypin/prefix/any4/unicast &&
	echo responder > /proc/sys/net/anypin/prefix/any6/role &&
	echo "$2" > /proc/sys/net/anypin/prefix/any6/unicast' _ "$U4" "$U6"; } ||
	{ fail conf "configuring anypin"; exit 1; }

for f in $families; do
	if [ "$f" = 4 ]; then a=$A4 u=$U4; else a=$A6 u=$U6; fi
	counts "$f"
	if ! r=$(pair_fetch "pinned$f" "$(url "$f")"); then
		counts "$f"
		fail "pinned-v$f" "download failed: $r (server sent $sa from A, $su from U, $sb over 64 KiB; client received $ca from A, $cu from U)"
		continue
	fi
	counts "$f"
	# shellcheck disable=SC2016  # an awk program: $1, $6 and $8 are its fields
	pinned=$(ip netns exec "$C" awk -v a="$a" -v u="$u" '$1 == "client" && $6 == a && $8 == u' /proc/net/anypin/flows | wc -l)
	if [ "$pinned" = 0 ]; then
		fail "pinned-v$f" "byte-exact, but the client's table has no flow from A pinned to U"
	elif [ "$sb" = 0 ] || [ "$cb" = 0 ]; then
		fail "pinned-v$f" "byte-exact, but no packet over 64 KiB (server sent $sb, client received $cb): BIG TCP was not in effect"
	elif [ "$sa" != 0 ] || [ "$ca" != 0 ]; then
		fail "pinned-v$f" "byte-exact, but $sa packets left the server from A and $ca reached the client from A: big packets passed anypin unrewritten"
	else
		pass "pinned-v$f" "16 MB byte-exact, pinned to U: the server sent $su packets from U ($sb over 64 KiB), none from A; the client received $cu from U ($cb over 64 KiB), none from A"
	fi
done
guest_done
