#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# NAT on the path: the router masquerades whatever it sends towards the
# instances (MASQUERADE on i1 and i2; NAT66 for IPv6), as a home router,
# a carrier NAT or a cloud NAT gateway would.  The capable SYN to A goes
# out from the router's address; inst1's SYN-ACK from U1 matches no NAT
# mapping (the mapping is to A), so the router takes it for itself, never
# forwards it to the client, and answers it with a RST (no socket of its
# own has that connection), which ends inst1's half-open connection and
# closes its responder entry.
#
#   without anypin   two downloads from A, byte-exact
#   with DATAPATH    byte-exact too: the client's SYN retransmission goes
#                    plain, inst1 takes it for the fallback of the capable
#                    SYN (counter fallback) and answers it from A; the
#                    first connection costs one SYN timeout, A is
#                    remembered as a blackhole, and the second connection
#                    goes plain at once (see tests/lab/middlebox.sh)

set -euo pipefail
# shellcheck source=../middlebox.sh
. "$(dirname "$0")/../middlebox.sh"

# mb_rules F A U1 U2
mb_rules() {
	printf '%s\n' '*nat' \
		'-A POSTROUTING -o i1 -j MASQUERADE' \
		'-A POSTROUTING -o i2 -j MASQUERADE' \
		COMMIT
}

mb_main nat fallback
