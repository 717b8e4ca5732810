#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR disable=SC2317
# (SC2317: the conditions lab_wait_until runs are called through it.)
#
# anypin.ko under load, inside the VM guest:
#
#   tests/vm/run --kernel 6.12 -- tests/vm/kmod_stress.sh
#
#   large-table   10000 half-open entries: the flows file lists each once
#                 (many reads of one walker), slab objects per entry
#   churn         parallel downloads while prefixes are rewritten, max_flows
#                 swings between 4 and 65536, SYN floods run and the proc
#                 files are read in a loop: every download byte-exact
#   rmmod-churn   unload in the middle of all that, then the kernel log
#
# STRESS_SECS (default 20) is the length of the churn. The time bounds
# (filling the table, each download) grow with LAB_SLOW (lab.sh: 4 in
# the VM, 8 on the debug kernel).
set -u
# shellcheck source=guest.sh
. tests/vm/guest.sh
guest_init kmod-stress
SECS=${STRESS_SECS:-20}
export LAB=ks-
kmod_lab 2
# Connection attempts to port 9 stay half-open (half_open).
lab_ns router iptables -w -I FORWARD -p tcp --dport 9 -j DROP
lab_ns router ip6tables -w -I FORWARD -p tcp --dport 9 -j DROP

# ---------------------------------------------------------------------------
say "large table"
N=10000
lab_sysctl client net.ipv4.ip_local_port_range="20000 60999"
objs0=$(slab_objects)
half_open "$N" "$A4" $((15 * LAB_SLOW)) &
hpid=$!
full() { [ "$(apstat client flows)" -ge "$N" ]; }
lab_wait_until $((15 * LAB_SLOW)) full
t0=${EPOCHREALTIME/./}
# (syn_sent, or fallback once the stack retransmitted a SYN)
lines=$(lab_ns client cat /proc/net/anypin/flows | tail -n +2 | grep -cE ' (syn_sent|fallback) ')
uniq=$(lab_ns client cat /proc/net/anypin/flows | awk '$3 == "syn_sent" || $3 == "fallback" { print $5 }' | sort -u | wc -l)
t1=${EPOCHREALTIME/./}
objs=$(($(slab_objects) - objs0))
size=$(cat /sys/kernel/slab/anypin_flow/slab_size)
if [ "$lines" = $N ] && [ "$uniq" = $N ]; then
	pass large-table "$N half-open entries listed once each (two reads of the flows file in $(((t1 - t0) / 1000)) ms); $objs slab objects of $size bytes"
else
	fail large-table "flows file: $lines half-open lines, $uniq distinct ports, gauge $(apstat client flows)"
fi
touch "$LAB_STATE/ho-stop"
wait "$hpid"
rm -f "$LAB_STATE/ho-stop"
lab_sysctl client net.anypin.syn_timeout=1
empty() { [ "$(apstat client flows)" = 0 ]; }
t0=${EPOCHREALTIME/./}
if lab_wait_until 30 empty; then
	t1=${EPOCHREALTIME/./}
	pass large-expiry "$N entries expired and collected within $(((t1 - t0) / 1000)) ms (syn_timeout=1)"
else
	fail large-expiry "$(apstat client flows) entries left after 30 s"
fi
lab_sysctl client net.anypin.syn_timeout=75

# ---------------------------------------------------------------------------
say "churn for $SECS s"
stop=$LAB_STATE/stop
rm -f "$stop"
loop_fetch() { # loop_fetch ID ADDR: downloads until stopped; counts results
	local i=0 ok=0 bad=0
	while [ ! -e "$stop" ]; do
		i=$((i + 1))
		lab_fetch "c$1" "$(lab_url "$2" "data.bin?rate=4000000")" --max-time $((5 * LAB_SLOW))
		lab_fetch_result "c$1"
		if [ "$FETCH_EXACT" = 1 ]; then
			ok=$((ok + 1))
		else
			bad=$((bad + 1))
			echo "fetch $1 #$i: $(lab_fetch_describe)" >> "$LAB_STATE/churn-errors"
		fi
	done
	echo "$ok $bad" > "$LAB_STATE/churn-$1"
}
loop_conf() {
	local n=0
	while [ ! -e "$stop" ]; do
		n=$((n + 1))
		lab_sysctl client "net.anypin.prefixes=x=10.0.0.0/8 any6=$PREFIX6 any4=$PREFIX4" \
			net.anypin.max_flows=4
		lab_sysctl client "net.anypin.prefixes=any4=$PREFIX4 any6=$PREFIX6" \
			net.anypin.max_flows=65536
		lab_sysctl inst1 net.anypin.prefix.any4.ports=1-65535 net.anypin.prefix.any4.ports=
	done
	echo "$n" > "$LAB_STATE/churn-conf"
}
loop_read() {
	local n=0
	while [ ! -e "$stop" ]; do
		n=$((n + 1))
		for ns in client inst1; do
			lab_ns $ns cat /proc/net/anypin/flows /proc/net/anypin/stats > /dev/null
		done
	done
	echo "$n" > "$LAB_STATE/churn-read"
}
loop_flood() {
	while [ ! -e "$stop" ]; do
		half_open 200 "$A4" 1
		half_open 200 "$A6" 1
	done
}
pids=()
for i in 1 2 3; do
	loop_fetch "4-$i" "$A4" &
	pids+=($!)
	loop_fetch "6-$i" "$A6" &
	pids+=($!)
done
loop_conf &
pids+=($!)
loop_read &
pids+=($!)
loop_flood &
pids+=($!)
sleep "$SECS"
touch "$stop"
wait "${pids[@]}"
ok=0
bad=0
for f in "$LAB_STATE"/churn-[46]-*; do
	read -r o b < "$f"
	ok=$((ok + o))
	bad=$((bad + b))
done
if [ "$bad" = 0 ] && [ "$ok" -ge 6 ]; then
	pass churn "$ok downloads byte-exact while prefixes were rewritten $(cat "$LAB_STATE/churn-conf") times, max_flows swung 4 <-> 65536, SYN floods ran and the proc files were read $(cat "$LAB_STATE/churn-read") times ($(apstat client evicted) evicted, $(apstat client bound) bound)"
else
	fail churn "$ok byte-exact, $bad not: $(head -n 3 "$LAB_STATE/churn-errors" 2>/dev/null | tr '\n' '|')"
fi

# ---------------------------------------------------------------------------
say "unload during churn"
rm -f "$stop"
pids=()
for i in 1 2; do
	loop_fetch "u4-$i" "$A4" &
	pids+=($!)
	loop_fetch "u6-$i" "$A6" &
	pids+=($!)
done
loop_read &
pids+=($!)
loop_flood &
pids+=($!)
sleep 3
if rmmod anypin; then
	pass rmmod-churn "rmmod with downloads, SYN floods and proc readers running"
else
	fail rmmod-churn "rmmod failed"
fi
sleep 1
touch "$stop"
wait "${pids[@]}" 2>/dev/null
lab_down
guest_dmesg_check
guest_done
