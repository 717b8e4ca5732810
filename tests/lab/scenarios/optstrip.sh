#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# The capability option stripped on the path: the router removes TCP
# option kind 253 from everything it forwards (mangle FORWARD, TCPOPTSTRIP
# --strip-options 253), as some middleboxes do with options they do not
# know.  inst1 sees a SYN without the option, takes the client for a
# legacy one and answers from A.
#
#   without anypin   two downloads from A, byte-exact
#   with DATAPATH    byte-exact too, and as fast as plain: no fallback is
#                    needed, the connections are simply plain (the client
#                    added the option, inst1 saw no capable SYN and
#                    answered from A, the client counted plain answers),
#                    nothing is remembered as a blackhole (see
#                    tests/lab/middlebox.sh)

set -euo pipefail
# shellcheck source=../middlebox.sh
. "$(dirname "$0")/../middlebox.sh"

# mb_rules F A U1 U2
mb_rules() {
	printf '%s\n' '*mangle' \
		'-A FORWARD -p tcp -j TCPOPTSTRIP --strip-options 253' \
		COMMIT
}

mb_main optstrip plain
