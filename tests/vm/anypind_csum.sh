#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# anypind on CHECKSUM_COMPLETE packets, inside the VM guest (build/anypind
# and build/anypinctl built on the host first, `make userspace`):
#
#   tests/vm/run --kernel 6.12 -- tests/vm/anypind_csum.sh
#
# kmod_csum.sh's path and counts (tests/vm/pair.sh, csum_*) with anypind
# as the datapath: one anypind in the client's namespace and one in the
# responder's, each with its configuration file and control socket. The
# packets of pinned flows are rewritten by the kernel, from anypind's
# maps, with nft payload statements that also update the TCP checksum's
# pseudo-header part (NFT_PAYLOAD_L4CSUM_PSEUDOHDR). For a
# CHECKSUM_COMPLETE skb, nft_payload_l4csum_update() then adjusts
# skb->csum by the address's change as well: right for IPv4, where the IP
# header checksum changes too, wrong for IPv6, where the address's change
# and the TCP checksum's cancel in the packet's sum. skb->csum is then off
# by the difference of the two addresses' sums, and TCP checksums every
# such segment again in software: the count shows it, pinned-v6 fails
# and names the bug, for as long as the kernel does it and anypind does
# not work around it.
# Last, the second chance's tc BPF programs (userspace/bpf/second.bpf.c)
# through this kernel's verifier: attached by a responder with an
# instance, removed when it ends.
set -u
cd "${ANYPIN_REPO:-.}" || exit 2
# shellcheck source=guest.sh
. tests/vm/guest.sh
guest_init anypind-csum
ANYPIND=$PWD/build/anypind
ANYPINCTL=$PWD/build/anypinctl
for b in "$ANYPIND" "$ANYPINCTL"; do
	[ -x "$b" ] || { echo "anypind_csum.sh: $b not built (make userspace on the host)" >&2; exit 2; }
done
C=ac-cli S=ac-srv
# shellcheck source=pair.sh
. tests/vm/pair.sh
# The control sockets, one per anypind.
SOCKS=$(mktemp -d /tmp/anypind-csum.XXXXXX)
declare -A apd_pid

# apd ROLE ARG...: anypinctl against ROLE's anypind (client, responder).
apd() {
	"$ANYPINCTL" --anypind -s "$SOCKS/$1.sock" "${@:2}"
}

# apd_count ROLE status KEY, apd_count ROLE stats COLUMN: a number from
# ROLE's anypind: the value of KEY in its status, or COLUMN of its stats'
# row total.
apd_count() {
	apd "$1" "$2" 2>/dev/null | awk -v k="$3" '
		$1 == "prefix" { for (i = 1; i <= NF; i++) col[$i] = i }
		$1 == "total" && col[k] { print $col[k]; exit }
		$1 == k { print $2; exit }'
}

# apd_sum status KEY | stats COLUMN: apd_count of both anypinds, added.
apd_sum() {
	local c r
	c=$(apd_count client "$@") r=$(apd_count responder "$@")
	echo $((${c:-0} + ${r:-0}))
}

# csum_state: both ends' flow tables and counters, and the sockets, on a line.
csum_state() {
	local ns role
	for role in client responder; do
		if [ "$role" = client ]; then ns=$C; else ns=$S; fi
		printf '%s: ' "$ns"
		{ apd "$role" flows; apd "$role" stats; ip netns exec "$ns" ss -tni; } 2>&1 | tr -s ' \n' ' |'
	done
}

# apd_start NS ROLE: anypind in NS with $W/ROLE.conf and the socket
# $SOCKS/ROLE.sock, its log in $W/anypind-ROLE.log, until its "ready"
# line (60 s at most): the check start-ROLE.
apd_start() {
	local log=$W/anypind-$2.log pid queue
	ip netns exec "$1" "$ANYPIND" -c "$W/$2.conf" -s "$SOCKS/$2.sock" >"$log" 2>&1 &
	pid=$!
	apd_pid[$2]=$pid
	pair_pids="$pair_pids $pid"
	for _ in $(seq 120); do
		grep -q '^anypind: ready' "$log" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	if ! grep -q '^anypind: ready' "$log"; then
		fail "start-$2" "no ready line from anypind in $1: $(tr '\n' '|' <"$log")"
		return 1
	fi
	queue="nft's queue statement"
	grep -q 'queueing with xt NFQUEUE' "$log" && queue="xt NFQUEUE through nft_compat"
	if ip netns exec "$1" nft list tables | grep -qx 'table inet anypin'; then
		pass "start-$2" "anypind ready in $1, table inet anypin in place, queueing with $queue"
	else
		fail "start-$2" "anypind ready in $1, but no table inet anypin there: $(ip netns exec "$1" nft list tables | tr '\n' '|')"
		return 1
	fi
}

# apd_stop NS ROLE: SIGTERM to ROLE's anypind; it must end (20 s at
# most) with status 0, and leave no table inet anypin in NS: the check
# stop-ROLE.
apd_stop() {
	local pid=${apd_pid[$2]} log=$W/anypind-$2.log rc tables
	kill -TERM "$pid"
	for _ in $(seq 40); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid"
		wait "$pid"
		fail "stop-$2" "anypind in $1 still running 20 s after SIGTERM (killed): $(tail -n 3 "$log" | tr '\n' '|')"
		return 1
	fi
	wait "$pid"
	rc=$?
	pair_pids=${pair_pids/ $pid/}
	tables=$(ip netns exec "$1" nft list tables)
	if [ "$rc" != 0 ]; then
		fail "stop-$2" "anypind in $1 exited $rc on SIGTERM: $(tail -n 3 "$log" | tr '\n' '|')"
	elif grep -qx 'table inet anypin' <<<"$tables"; then
		fail "stop-$2" "anypind in $1 ended, but table inet anypin is still there"
	else
		pass "stop-$2" "anypind in $1 ended on SIGTERM with status 0, table inet anypin gone"
	fi
}

csum_setup || { fail setup "namespaces, veth, VXLAN"; exit 1; }
csum_probe || { fail kprobe "cannot probe __skb_checksum_complete"; exit 1; }
pair_serve 8 || { fail setup "the HTTP server"; exit 1; }

csum_plain

csum_conf || { fail conf "writing the configuration files"; exit 1; }
{ apd_start "$C" client && apd_start "$S" responder; } || exit 1

for f in 4 6; do
	rw0=$(apd_sum stats rewritten) q0=$(apd_sum status packets)
	csum_pinned "$f" apd client flows || continue
	rw=$(($(apd_sum stats rewritten) - rw0)) q=$(($(apd_sum status packets) - q0))
	what="8 MB byte-exact from A, pinned to $unicast; the kernel rewrote the CHECKSUM_COMPLETE packets at both ends from anypind's maps ($rw packets rewritten, $q queued to anypind)"
	if [ "$f" = 4 ]; then
		csum_judge pinned-v4 "$what" \
			"the kernel's payload rewrite (nft_payload_l4csum_update) left skb->csum wrong"
	else
		csum_judge pinned-v6 "$what" \
			"the kernel bug: nft_payload_l4csum_update() adjusts a CHECKSUM_COMPLETE skb->csum by an IPv6 address's change, which the TCP checksum's change cancels in the packet's sum (BPF had the same, fixed with BPF_F_IPV6), so skb->csum is left wrong and TCP checksums each segment again in software ($rw packets rewritten, $q queued to anypind)"
	fi
done

csum_tcp_errors
apd_stop "$C" client
apd_stop "$S" responder

# sc_filters: how many of anypind's tc filters (its handle) sit on the
# responder's devices, ingress and egress.
sc_filters() {
	local dev at n=0
	for dev in cs1 vx0; do
		for at in ingress egress; do
			n=$((n + $(ip netns exec "$S" tc filter show dev "$dev" "$at" | grep -c 'handle 0x616e7970')))
		done
	done
	echo "$n"
}
# The second chance's BPF programs through this kernel's verifier: a
# responder with an instance and a peer attaches them to each device,
# and takes them away when it ends.
{
	cat "$W/responder.conf"
	echo "net.anypin.prefix.any4.instance = 1"
	echo "net.anypin.prefix.any4.peers = 2=10.201.0.1"
} >"$W/second.conf"
if apd_start "$S" second; then
	n=$(sc_filters)
	if [ "$n" = 4 ]; then
		pass second-load "the second chance's programs passed the verifier, on cs1 and vx0, ingress and egress"
	else
		fail second-load "$n of 4 filters on cs1 and vx0: $(tr '\n' '|' <"$W/anypind-second.log")"
	fi
	apd_stop "$S" second
	n=$(sc_filters)
	if [ "$n" = 0 ]; then
		pass second-unload "no filter of anypind's left"
	else
		fail second-unload "$n filters of anypind's left after it ended"
	fi
fi
csum_no_fault
guest_done
