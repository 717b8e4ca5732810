#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# Pinned transfers through anypin.ko in the lab (tests/lab/lab.sh: client,
# router, inst1 and inst2, A routed to inst1), checked on the router's
# counters and in the module's proc files:
#
#   baseline   without anypin: 4 MB from A, no packet to U1
#   pinned     with the module, over IPv4 and IPv6: byte-exact, the packets
#              to U1, only the SYN to A
#   proc       the client's flows bound to U1, inst1's answering from U1;
#              the counters of both roles count them
#   remap      a rewrite of net.anypin.prefixes that reorders the list and
#              adds a name keeps each prefix's counters and settings; the
#              new name starts at 0
#
#   tests/vm/run --kernel 6.12 -- tests/vm/kmod/run pinning
set -u
# shellcheck source=../guest.sh
. tests/vm/guest.sh
guest_init kmod
kmod_lab 4 plain

say "baseline"
kmod_fetch base4 4
if [ "$FETCH_EXACT" = 1 ] && [ "$TO_U1" = 0 ]; then
	pass lab-baseline "without anypin: 4 MB from A, 0 packets to U1"
else
	fail lab-baseline "exact=$FETCH_EXACT, $TO_U1 packets to U1"
fi

say "pinned transfers"
datapath_start || fail lab-config "datapath_start failed"
for f in 4 6; do
	kmod_fetch "pin$f" $f
	if [ "$FETCH_EXACT" = 1 ] && [ "$TO_U1" -gt 20 ] && [ "$TO_A" -le 3 ]; then
		pass "pin-v$f" "4 MB byte-exact in $FETCH_SECS s; on the wire $TO_U1 packets to U1, $TO_A to A (the SYN)"
	else
		fail "pin-v$f" "exact=$FETCH_EXACT ($FETCH_ERR), $TO_U1 packets to U1, $TO_A to A"
	fi
done

say "proc files"
cf=$(lab_ns client cat /proc/net/anypin/flows)
rf=$(lab_ns inst1 cat /proc/net/anypin/flows)
if grep -q "^client any4 [a-z]* $C4 [0-9]* $A4 $LAB_PORT $U1_4 " <<<"$cf" &&
	grep -q "^client any6 [a-z]* $C6 [0-9]* $A6 $LAB_PORT $U1_6 " <<<"$cf" &&
	grep -q "^responder any4 [a-z]* $C4 [0-9]* $A4 $LAB_PORT $U1_4 " <<<"$rf"; then
	pass proc-flows "client entries bound to U1, responder entries answering from U1"
else
	fail proc-flows "client: $(tr '\n' '|' <<<"$cf") inst1: $(tr '\n' '|' <<<"$rf")"
fi
c_syn=$(apstat client syn) c_opt=$(apstat client opt_added) c_bound=$(apstat client bound)
c_rw=$(apstat client rewritten)
r_opt=$(apstat inst1 opt_added) r_syn=$(apstat inst1 resp_syn) r_rw=$(apstat inst1 rewritten)
cs="$c_syn $c_opt $c_bound $c_rw" rs="$r_opt $r_syn $r_rw"
if [ "$c_syn" -ge 2 ] && [ "$c_opt" -ge 2 ] && [ "$c_bound" -ge 2 ] && [ "$c_rw" -gt 200 ] &&
	[ "$r_opt" -ge 2 ] && [ "$r_syn" -ge 2 ] && [ "$r_rw" -gt 200 ]; then
	pass proc-stats "client syn/opt_added/bound/rewritten $c_syn/$c_opt/$c_bound/$c_rw, responder opt_added/resp_syn/rewritten $r_opt/$r_syn/$r_rw"
else
	fail proc-stats "client '$cs', responder '$rs'"
fi

say "counters kept across a rewrite of prefixes"
b4=$(apstat client bound any4) rw4=$(apstat client rewritten any4)
lab_sysctl client "net.anypin.prefixes=extra=10.0.0.0/8 any6=$PREFIX6 any4=$PREFIX4"
b4n=$(apstat client bound any4) rw4n=$(apstat client rewritten any4) xb=$(apstat client syn extra)
resp=$(lab_ns client cat /proc/sys/net/anypin/prefix/any4/responders)
if [ "$b4n" = "$b4" ] && [ "$rw4n" = "$rw4" ] && [ "$xb" = 0 ] && [ "$resp" = "$RESP4" ]; then
	pass counters-remap "any4 keeps bound=$b4 rewritten=$rw4 and its responders after the list is reordered; the new name starts at 0"
else
	fail counters-remap "any4 bound $b4 -> $b4n, rewritten $rw4 -> $rw4n, extra syn $xb, responders '$resp'"
fi

guest_done
