#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# anypin.ko on CHECKSUM_COMPLETE packets, inside the VM guest:
#
#   tests/vm/run --kernel 6.12 -- tests/vm/kmod_csum.sh
#
# A client and a responder in two namespaces, joined by a VXLAN whose
# packets reach TCP CHECKSUM_COMPLETE (tests/vm/pair.sh, csum_setup), pin
# a download from A over IPv4 and IPv6, so both ends rewrite received
# COMPLETE packets; a kprobe counts the TCP segments whose skb->csum the
# module left wrong (each costs a software checksum). anypind_csum.sh is
# the same for anypind.
set -u
cd "${ANYPIN_REPO:-.}" || exit 2
# shellcheck source=guest.sh
. tests/vm/guest.sh
guest_init kmod-csum
C=cs-cli S=cs-srv
# shellcheck source=pair.sh
. tests/vm/pair.sh

# apply NS FILE: FILE's lines (sysctl.d syntax, `key = value`) written
# to NS's sysctls one after the other, as systemd-sysctl applies a
# sysctl.d file.
apply() {
	# shellcheck disable=SC2016  # bash -c's script
	ip netns exec "$1" bash -c '
		while IFS= read -r line; do
			k=${line%%=*} v=${line#*=}
			k=${k%"${k##*[! ]}"} v=${v#"${v%%[! ]*}"}
			printf "%s\n" "$v" > "/proc/sys/${k//.//}" || exit 1
		done' < "$2"
}

# csum_state: both ends' flow tables and counters, and the sockets, on a line.
csum_state() {
	local ns
	for ns in $C $S; do
		printf '%s: ' "$ns"
		ip netns exec "$ns" sh -c 'cat /proc/net/anypin/flows /proc/net/anypin/stats 2>/dev/null; ss -tni' | tr -s ' \n' ' |'
	done
}

csum_setup || { fail setup "namespaces, veth, VXLAN"; exit 1; }
csum_probe || { fail kprobe "cannot probe __skb_checksum_complete"; exit 1; }
pair_serve 8 || { fail setup "the HTTP server"; exit 1; }

csum_plain

insmod "$ANYPIN_KO" || { fail insmod "insmod failed"; exit 1; }
{ csum_conf && apply "$C" "$W/client.conf" && apply "$S" "$W/responder.conf"; } ||
	{ fail conf "configuring anypin"; exit 1; }

for f in 4 6; do
	csum_pinned "$f" ip netns exec "$C" cat /proc/net/anypin/flows || continue
	csum_judge "pinned-v$f" \
		"8 MB byte-exact from A, pinned to $unicast, both ends rewriting CHECKSUM_COMPLETE packets" \
		"skb->csum was left wrong"
done

csum_tcp_errors
csum_no_fault
guest_done
