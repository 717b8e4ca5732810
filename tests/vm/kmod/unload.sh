#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# Unloading anypin.ko under traffic (docs/kmod.md, "Unloading"), in the lab
# (tests/lab/lab.sh):
#
#   rmmod    with two pinned paced downloads running (IPv4 and IPv6) and
#            their flow entries live: rmmod succeeds, and leaves no module,
#            no sysctl directory and no anypin_flow slab cache behind
#   reload   insmod and the lab's configuration again: a download is pinned
#            to U1 as before, and its entries are objects of the new cache
#
#   tests/vm/run --kernel 6.12 -- tests/vm/kmod/run unload
set -u
# shellcheck source=../guest.sh
. tests/vm/guest.sh
guest_init kmod
kmod_lab 4
S=/proc/sys/net/anypin

say "unload under traffic"
lab_fetch unload4 "$(lab_url "$A4" "data.bin?rate=1000000")" --max-time 8 &
p4=$!
lab_fetch unload6 "$(lab_url "$A6" "data.bin?rate=1000000")" --max-time 8 &
p6=$!
lab_fetch_wait_bytes unload4 100000 15
lab_fetch_wait_bytes unload6 100000 15
objs=$(slab_objects)
t0=${EPOCHREALTIME/./}
if rmmod anypin; then
	t1=${EPOCHREALTIME/./}
	pass rmmod-traffic "rmmod with $objs flow entries live and two transfers running, in $(((t1 - t0) / 1000)) ms"
else
	fail rmmod-traffic "rmmod failed"
fi
wait $p4 $p6
if ! loaded && [ ! -e $S ] && [ ! -e /sys/kernel/slab/anypin_flow ]; then
	pass rmmod-clean "nothing left: no module, no sysctl, no slab cache"
else
	fail rmmod-clean "left behind: $(loaded && echo module) $([ -e $S ] && echo sysctl) $([ -e /sys/kernel/slab/anypin_flow ] && echo slab)"
fi

say "reload"
datapath_start || fail reload "datapath_start failed"
kmod_fetch again 4
if [ "$FETCH_EXACT" = 1 ] && [ "$TO_U1" -gt 20 ]; then
	pass reload "pinned again after insmod: byte-exact, $TO_U1 packets to U1"
else
	fail reload "exact=$FETCH_EXACT ($FETCH_ERR), $TO_U1 packets to U1"
fi
live=$(slab_objects)
if [ "$live" -gt 0 ]; then
	pass slab-live "$live anypin_flow objects in use while flows are live"
else
	fail slab-live "no anypin_flow object in use with flows live"
fi

guest_done
