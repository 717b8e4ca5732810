#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# The lab scenarios with anypin.ko, inside the VM guest:
#
#   tests/vm/run --kernel 6.12 --timeout 1800 -- tests/vm/kmod_lab.sh [SCENARIO...]
#
# Loads the module, runs tests/lab/run (LAB_DATAPATHS=kmod, so an unusable
# module is a FAIL, not a skip) on every scenario but anypind's own
# (anypind_robust) and the lab's self-test (lab_selftest: it tests the
# lab's tools, which the host's run of the lab covers, and costs 40 s of
# each kernel's lab), and unloads it; exit status: the runner's. The
# same_stats scenario saves the module's counters in
# $ANYPIN_VM_OUT/lab-stats/kmod/ (tests/vm/check keeps them for
# tests/lab/compare-stats).
set -u
# shellcheck source=guest.sh
. tests/vm/guest.sh
insmod "$ANYPIN_KO" || exit 2
# The emulated CPU: lab.sh sets LAB_SLOW=4 in the guest (paces divided,
# time bounds stretched); python starts from 9p.
export LAB_DATAPATHS=kmod LAB_SERVE_WAIT=${LAB_SERVE_WAIT:-60}
export LAB_STATS_DIR=${LAB_STATS_DIR:-$ANYPIN_VM_OUT/lab-stats}
if [ $# = 0 ]; then
	for f in tests/lab/scenarios/*.sh; do
		case $f in */anypind_robust.sh | */lab_selftest.sh) ;; *) set -- "$@" "$f" ;; esac
	done
fi
tests/lab/run "$@"
rc=$?
if grep -q '^anypin ' /proc/modules; then
	rmmod anypin || rc=1
fi
exit $rc
