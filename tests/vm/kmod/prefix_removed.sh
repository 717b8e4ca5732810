#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# A pinned transfer outlives its prefix: a paced download from A through
# anypin.ko in the lab (tests/lab/lab.sh), IPv4 and IPv6; once 300 kB
# have arrived, every namespace's net.anypin.prefixes is emptied and the
# router moves A to inst2. The download must go on, byte-exact, with
# nothing sent to U2.
#
#   tests/vm/run --kernel 6.12 -- tests/vm/kmod/run prefix_removed
set -u
# shellcheck source=../guest.sh
. tests/vm/guest.sh
guest_init kmod
kmod_lab 4

for f in 4 6; do
	say "IPv$f: prefixes removed during a transfer"
	a=A$f
	lab_count_zero
	lab_fetch "rm$f" "$(lab_url "${!a}" "data.bin?rate=1000000")" --max-time 30 &
	fpid=$!
	lab_fetch_wait_bytes "rm$f" 300000 15
	for ns in client inst1 inst2; do
		lab_sysctl $ns net.anypin.prefixes=
	done
	lab_route_a inst2
	wait $fpid
	lab_fetch_result "rm$f"
	if [ "$FETCH_EXACT" = 1 ] && [ "$(lab_count u-to-inst2 $f)" = 0 ]; then
		pass "prefix-removed-v$f" "the pinned transfer goes on after every prefix is removed and A moves: byte-exact in $FETCH_SECS s"
	else
		fail "prefix-removed-v$f" "exact=$FETCH_EXACT ($FETCH_ERR)"
	fi
	lab_route_a inst1
	datapath_start
done

guest_done
