#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# The second chance (docs/second-chance.md) with anypin.ko, inside the VM
# guest: the lab's scenario second_chance (tests/lab/scenarios/
# second_chance.sh, which says what it checks; anypind runs the same one
# on the host), through tests/lab/run with LAB_DATAPATHS=kmod, the module
# loaded first and unloaded after (kmod_lab_run, tests/vm/guest.sh);
# exit status: the runner's.
#
#   tests/vm/run --kernel 6.12 -- tests/vm/kmod_second.sh
#
# Its own script rather than one of kmod_lab.sh's scenarios: tests/vm/check
# runs it in the untimed guest, beside the lab's. Its "without anypin"
# halves run where ANYPIN_LAB_PLAIN says (tests/vm/check's VM_PLAIN).
set -u
# shellcheck source=guest.sh
. tests/vm/guest.sh
kmod_lab_run second_chance
