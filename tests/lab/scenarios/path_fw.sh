#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# A stateful firewall on the path (a security group, a corporate
# firewall): the router's FORWARD accepts what conntrack calls ESTABLISHED
# or RELATED and new connections to A (A6) on the service port; its policy
# drops the rest.  A SYN-ACK from U1 belongs to no connection the firewall
# has seen (the client's SYN went to A): dropped.
#
#   without anypin   two downloads from A, byte-exact
#   with DATAPATH    byte-exact too: the client's SYN retransmission goes
#                    plain, inst1 answers it from A; the first connection
#                    costs one SYN timeout, A is remembered as a
#                    blackhole, and the second connection goes plain at
#                    once (see tests/lab/middlebox.sh)

set -euo pipefail
# shellcheck source=../middlebox.sh
. "$(dirname "$0")/../middlebox.sh"

# mb_rules F A U1 U2 (the lab's counters are jumped to first, and stay)
mb_rules() {
	printf '%s\n' '*filter' ':FORWARD DROP [0:0]' \
		'-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT' \
		"-A FORWARD -d $2 -p tcp --dport $LAB_PORT -m conntrack --ctstate NEW -j ACCEPT" \
		COMMIT
}

mb_main path-fw fallback
