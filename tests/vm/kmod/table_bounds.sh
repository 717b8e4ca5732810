#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR disable=SC2317
# (SC2317: the conditions lab_wait_until runs are called through it.)
#
# The bounds of anypin.ko's flow table, on half-open connections (SYNs to
# A port 9, which the router drops) from the lab's client
# (tests/lab/lab.sh):
#
#   max_flows   lowered from 65536 to 5 under 20 entries: the table is
#               down to 5 within seconds, without a new connection
#   expiry      syn_timeout and fin_timeout set to 1 s: 5 half-open entries
#               and the rest are gone within seconds, counted as expired
#
#   tests/vm/run --kernel 6.12 -- tests/vm/kmod/run table_bounds
set -u
# shellcheck source=../guest.sh
. tests/vm/guest.sh
guest_init kmod
kmod_lab 4

# Connection attempts to port 9 stay half-open (half_open).
lab_ns router iptables -w -I FORWARD -p tcp --dport 9 -j DROP
lab_ns router ip6tables -w -I FORWARD -p tcp --dport 9 -j DROP

say "max_flows lowered"
lab_sysctl client net.anypin.max_flows=65536
half_open 20 "$A4" 15 &
hpid=$!
twenty() { [ "$(apstat client flows)" -ge 20 ]; }
lab_wait_until 10 twenty
n0=$(apstat client flows)
lab_sysctl client net.anypin.max_flows=5
five_left() { [ "$(apstat client flows)" -le 5 ]; }
if [ "$n0" -ge 20 ] && lab_wait_until 12 five_left; then
	pass max-flows-lowered "max_flows 65536 -> 5 with $n0 entries: down to $(apstat client flows) within seconds, without new connections"
else
	fail max-flows-lowered "$n0 entries, then $(apstat client flows) with max_flows=5"
fi
wait "$hpid"

say "expiry"
lab_sysctl client net.anypin.max_flows=65536
half_open 5 "$A4" 6 &
hpid=$!
# Half-open: syn_sent, or fallback once the stack retransmitted the SYN.
opening() { lab_ns client grep -cE ' (syn_sent|fallback) ' /proc/net/anypin/flows; }
five() { [ "$(opening)" -ge 5 ]; }
lab_wait_until 10 five
n0=$(opening)
flows0=$(lab_ns client cat /proc/net/anypin/flows)
exp0=$(apstat client expired)
lab_sysctl client net.anypin.syn_timeout=1 net.anypin.fin_timeout=1
wait "$hpid"
empty() { [ "$(apstat client flows)" = 0 ]; }
lab_wait_until 15 empty
left=$(apstat client flows)
exp=$(($(apstat client expired) - exp0))
if [ "$n0" -ge 5 ] && [ "$left" = 0 ] && [ "$exp" -ge 5 ]; then
	pass expiry "syn_timeout=fin_timeout=1: $n0 half-open entries and the rest gone within seconds ($exp expired)"
else
	fail expiry "$n0 half-open entries; $left entries left, $exp expired"
	say "flows were: $flows0"
fi
# The lab as it was: under tests/vm/kmod/run the topics after this one
# share it.
lab_ns router iptables -w -D FORWARD -p tcp --dport 9 -j DROP
lab_ns router ip6tables -w -D FORWARD -p tcp --dport 9 -j DROP

guest_done
