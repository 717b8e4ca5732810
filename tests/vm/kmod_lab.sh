#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# The lab scenarios with anypin.ko, inside the VM guest:
#
#   tests/vm/run --kernel 6.12 --timeout 1800 -- tests/vm/kmod_lab.sh [SCENARIO...]
#
# Loads the module, runs tests/lab/run (LAB_DATAPATHS=kmod, so an unusable
# module is a FAIL, not a skip; kmod_lab_run, tests/vm/guest.sh) on every
# scenario but anypind's own (anypind_robust), the lab's self-test
# (lab_selftest: it tests the lab's tools, which the host's run of the
# lab covers, and costs 40 s of each kernel's lab) and second_chance
# (tests/vm/kmod_second.sh runs it in the untimed guest, beside this one:
# its events land at 100 kB however slow the guest, and its paced
# phases would lengthen the lab chain, which make check's 30
# minutes are made of), and unloads it; exit status: the runner's. The
# same_stats scenario saves the module's counters in
# $ANYPIN_VM_OUT/lab-stats/kmod/ (tests/vm/check keeps them for
# tests/lab/compare-stats).
set -u
# shellcheck source=guest.sh
. tests/vm/guest.sh
export LAB_STATS_DIR=${LAB_STATS_DIR:-$ANYPIN_VM_OUT/lab-stats}
if [ $# = 0 ]; then
	for f in tests/lab/scenarios/*.sh; do
		case $f in
		*/anypind_robust.sh | */lab_selftest.sh | */second_chance.sh) ;;
		*) set -- "$@" "$f" ;;
		esac
	done
fi
kmod_lab_run "$@"
