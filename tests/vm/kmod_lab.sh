#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# The lab scenarios with anypin.ko, inside the VM guest:
#
#   tests/vm/run --kernel 6.12 --timeout 1800 -- tests/vm/kmod_lab.sh [SCENARIO...]
#
# Loads the module, runs tests/lab/run (LAB_DATAPATHS=kmod, so an unusable
# module is a FAIL, not a skip) and unloads it; exit status: the runner's.
set -u

[ "${ANYPIN_VM:-}" = 1 ] || { echo "kmod_lab: run me in the VM: tests/vm/run -- $0" >&2; exit 2; }
# bash's <(...) needs /dev/fd, which the guest's devtmpfs lacks.
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
insmod "$ANYPIN_KO" || exit 2
# Slower than the host: python starts from 9p, the CPU is emulated.
export LAB_DATAPATHS=kmod LAB_TIMEOUT=${LAB_TIMEOUT:-240} LAB_SERVE_WAIT=${LAB_SERVE_WAIT:-60}
tests/lab/run "$@"
rc=$?
rmmod anypin || rc=1
exit $rc
