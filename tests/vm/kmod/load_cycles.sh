#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR disable=SC2317
# (SC2317: the condition lab_wait_until runs is called through it.)
#
# Load/unload cycles of anypin.ko under traffic, in the lab
# (tests/lab/lab.sh): ANYPIN_LOAD_CYCLES of them (default 50, as make
# vm-debug runs them with its kmemleak scans; make check runs 10). Each
# cycle loads the module, configures the lab's three namespaces (every
# 5th also a namespace outside the lab, with prefixes of its own), waits
# until flow entries have been created (objects of this load's
# anypin_flow cache), and unloads it; after each rmmod neither the slab
# cache nor the sysctl directory may remain.
# Meanwhile:
#
#   other    paced downloads from U1, one after the other (through the
#            hooks, outside every prefix: the module's coming and going
#            must never touch them), all byte-exact
#   short    short connections to A, pinned while the module is there; a
#            connection pinned before an unload may break (docs/kmod.md,
#            "Unloading"), so they are only counted: at least one per
#            cycle answered by inst1
#
# At the end no module and no anypin_flow cache are left.
#
#   tests/vm/run --kernel 6.12 -- tests/vm/kmod/run load_cycles
set -u
# shellcheck source=../guest.sh
. tests/vm/guest.sh
guest_init kmod
kmod_lab 4
S=/proc/sys/net/anypin
N=${ANYPIN_LOAD_CYCLES:-50}

short_loop() {
	local n=0 ok=0
	while [ ! -e "$LAB_STATE/cycles.stop" ]; do
		n=$((n + 1))
		[ "$(lab_whoami "$A4" 2>/dev/null)" = inst1 ] && ok=$((ok + 1))
	done
	echo "$n $ok" >"$LAB_STATE/cycles.short"
}
long_loop() {
	local n=0 ok=0 bad=
	while [ ! -e "$LAB_STATE/cycles.stop" ]; do
		n=$((n + 1))
		lab_fetch cycles-long "$(lab_url "$U1_6" "data.bin?rate=400000")" --max-time 60
		lab_fetch_result cycles-long
		if [ "$FETCH_EXACT" = 1 ]; then
			ok=$((ok + 1))
		else
			bad=$(lab_fetch_describe)
		fi
	done
	echo "$n $ok $bad" >"$LAB_STATE/cycles.long"
}
# An entry was created since the cache came with this load (no fork: the
# poll must not slow the cycles down).
has_flows() {
	local n=0
	read -r n _ </sys/kernel/slab/anypin_flow/objects 2>/dev/null
	[ "${n:-0}" -gt 0 ]
}
rm -f "$LAB_STATE/cycles.stop" "$LAB_STATE/cycles.short" "$LAB_STATE/cycles.long"
long_loop &
lpid=$!
short_loop &
spid=$!
ok=0 with_flows=0 why=
loaded && rmmod anypin
t_start=0 t_wait=0 t_rmmod=0
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
for i in $(seq "$N"); do
	t0=$(now_ms)
	insmod "$ANYPIN_KO" || { why="insmod failed"; break; }
	for ns in client inst1 inst2; do
		kmod__apply $ns $ns || { why="configuring $ns failed"; break 2; }
	done
	t1=$(now_ms)
	if [ $((i % 5)) = 0 ]; then
		# A namespace outside the lab, with prefixes of its own.
		ip netns add "kb-cycle$i" || { why="netns add"; break; }
		ip netns exec "kb-cycle$i" sh -c 'echo "r=10.0.0.0/8" > /proc/sys/net/anypin/prefixes' ||
			{ why="prefixes in a second namespace"; break; }
	fi
	lab_wait_until 10 has_flows && with_flows=$((with_flows + 1))
	t2=$(now_ms)
	# (On a kmemleak kernel, rmmod is tests/vm/kmemleak-rmmod: every
	# tenth unload and the last scan for what those before them left.)
	ANYPIN_VM_KMEMLEAK_SCAN=$((i % 10 == 0 || i == N)) rmmod anypin || { why="rmmod failed"; break; }
	t3=$(now_ms)
	t_start=$((t_start + t1 - t0)) t_wait=$((t_wait + t2 - t1)) t_rmmod=$((t_rmmod + t3 - t2))
	[ $((i % 5)) = 0 ] && ip netns del "kb-cycle$i"
	if [ -e /sys/kernel/slab/anypin_flow ] || [ -e $S ]; then
		why="left behind after rmmod: $(ls -d /sys/kernel/slab/anypin_flow $S 2>/dev/null)"
		break
	fi
	ok=$i
	[ $((i % 10)) = 0 ] && say "cycle $i"
done
say "cycles: insmod+configure $t_start ms, waiting for flows $t_wait ms, rmmod $t_rmmod ms in all"
touch "$LAB_STATE/cycles.stop"
wait "$spid" "$lpid"
read -r shorts shorts_ok <"$LAB_STATE/cycles.short" || shorts=0 shorts_ok=0
read -r longs longs_ok long_err <"$LAB_STATE/cycles.long" || longs=0 longs_ok=0
if [ "$ok" = "$N" ] && [ "$with_flows" = "$N" ]; then
	pass load-cycles "$N x insmod, configure, rmmod with flow entries created every time (every 5th also with a second namespace); no slab cache or sysctl left after each"
else
	fail load-cycles "stopped at cycle $((ok + 1)): ${why:-}; $with_flows cycles created flow entries"
fi
if [ "$shorts_ok" -ge "$N" ]; then
	pass load-cycles-traffic "$shorts_ok of $shorts short connections to A during the cycles answered by inst1"
else
	fail load-cycles-traffic "$shorts_ok of $shorts short connections answered by inst1"
fi
if [ "$longs" -ge 1 ] && [ "$longs_ok" = "$longs" ]; then
	pass load-cycles-other "$longs paced 4 MB downloads from U1 (outside the prefixes) during the cycles, all byte-exact"
else
	fail load-cycles-other "$longs_ok of $longs downloads from U1 byte-exact; last failure: ${long_err:-}"
fi
# Its own lab goes (the runner's stays: the runner takes it down).
kmod_lab_down
if ! loaded && [ ! -e /sys/kernel/slab/anypin_flow ]; then
	pass slab "no module and no anypin_flow cache left at the end"
else
	fail slab "left behind: $(loaded && echo module) $([ -e /sys/kernel/slab/anypin_flow ] && echo slab)"
fi
loaded && rmmod anypin

guest_done
