#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# Middleboxes on the path (DESIGN.md "Never worse than plain anycast"),
# one after the other on the router, in one lab (see tests/lab/middlebox.sh
# for what each case checks):
#
#   nat          the router masquerades toward the instances (NAT66 for
#                IPv6), as a home router or a cloud NAT gateway would. The
#                SYN-ACK from U1 matches no mapping (the mapping is to A):
#                the router takes it for itself and answers it with a RST,
#                which ends inst1's half-open connection and closes its
#                responder entry.
#   path-fw      a stateful firewall (a security group): FORWARD accepts
#                ESTABLISHED/RELATED and new connections to A on the
#                service port, its policy drops the rest, so the SYN-ACK
#                from U1, part of no connection it saw, is dropped.
#   optstrip     TCPOPTSTRIP removes option 253 from everything forwarded:
#                inst1 sees a legacy client and answers from A.
#   synack-drop  SYN-ACKs from U1 and U2 are dropped (a filter that admits
#                only the service's address).
#
#   without anypin   two downloads from A, byte-exact, through each
#   with DATAPATH    byte-exact too. nat, path-fw, synack-drop: the
#                    client's SYN retransmission goes plain, inst1 takes
#                    it for the capable SYN's fallback and answers from A;
#                    the first connection costs one SYN timeout, A is
#                    remembered as a blackhole, the second goes plain at
#                    once. optstrip: plain at once, as fast as without,
#                    nothing remembered.
#
# lab-timeout: 3

set -euo pipefail
# shellcheck source=../middlebox.sh
. "$(dirname "$0")/../middlebox.sh"

# mb_rules_NAME F A U1 U2: the middlebox as iptables-restore input.
mb_rules_nat() {
	printf '%s\n' '*nat' \
		'-A POSTROUTING -o i1 -j MASQUERADE' \
		'-A POSTROUTING -o i2 -j MASQUERADE' \
		COMMIT
}

mb_rules_path_fw() {
	printf '%s\n' '*filter' ':FORWARD DROP [0:0]' \
		'-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT' \
		"-A FORWARD -d $2 -p tcp --dport $LAB_PORT -m conntrack --ctstate NEW -j ACCEPT" \
		COMMIT
}

mb_rules_optstrip() {
	printf '%s\n' '*mangle' \
		'-A FORWARD -p tcp -j TCPOPTSTRIP --strip-options 253' \
		COMMIT
}

mb_rules_synack_drop() {
	printf '%s\n' '*filter' \
		"-A FORWARD -s $3 -p tcp --tcp-flags SYN,ACK SYN,ACK -j DROP" \
		"-A FORWARD -s $4 -p tcp --tcp-flags SYN,ACK SYN,ACK -j DROP" \
		COMMIT
}

mb_main nat:fallback path-fw:fallback optstrip:plain synack-drop:fallback
