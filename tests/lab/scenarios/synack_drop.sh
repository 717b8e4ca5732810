#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# SYN-ACKs from the instances' unicast addresses dropped on the path: the
# router drops TCP segments with SYN and ACK whose source is U1 or U2 (a
# filter that admits only the anycast service's address, or anti-spoofing
# on the way back).  Everything else passes, the SYN-ACK from A too.
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

# mb_rules F A U1 U2
mb_rules() {
	printf '%s\n' '*filter' \
		"-A FORWARD -s $3 -p tcp --tcp-flags SYN,ACK SYN,ACK -j DROP" \
		"-A FORWARD -s $4 -p tcp --tcp-flags SYN,ACK SYN,ACK -j DROP" \
		COMMIT
}

mb_main synack-drop fallback
