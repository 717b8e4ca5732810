#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# Datapath restart under traffic.  Two paced downloads run: "old" from A
# (A6), pinned to inst1, and "other" from U2 directly (a unicast address
# outside every anycast prefix: traffic anypin must never touch).  The
# datapath then dies and comes back (lab_datapath_restart: the datapath's
# datapath_restart, e.g. kill -9 and start again for anypind, rmmod and
# insmod for the module; by default datapath_stop + datapath_start).  After
# it, the client starts a "new" download from A (A6), and A flips every
# RESTART_FLAP_MS until the downloads end.
#
#   without anypin   (nothing to restart) the flips break the new download;
#                    the other download is byte-exact and never stalls
#                    (the control: the lab itself does not stall it)
#   with DATAPATH    the new download is pinned (packets to U1) and
#                    byte-exact through the flips; the other download is
#                    byte-exact and never stalled (curl's --speed-limit
#                    RESTART_STALL_BPS, a tenth of the pace, over 1 s is
#                    never hit: a stall of a second ends it);
#                    what became of the old download is only reported (a
#                    datapath may or may not keep its flows across a
#                    restart; no flip happens before the new download)

set -euo pipefail
# shellcheck source=../lab.sh
. "$(dirname "$0")/../lab.sh"

MB=${RESTART_MB:-2}
RATE=${RESTART_RATE:-$((1000000 / LAB_SLOW))}
MS=${RESTART_FLAP_MS:-200}
STALL=${RESTART_STALL_BPS:-$((RATE / 10))}
CURL_ARGS=(--max-time "${RESTART_MAXTIME:-$((20 * LAB_SLOW))}" --speed-limit 1024 --speed-time $((3 * LAB_SLOW)))
# The old download is only reported: bounded more tightly so that a stalled
# one does not make the scenario wait.
OLD_ARGS=(--max-time $((MB * 1048576 / RATE + 5)) --speed-limit 1024 --speed-time $((2 * LAB_SLOW)))
OTHER_ARGS=(--max-time "${RESTART_MAXTIME:-$((20 * LAB_SLOW))}" --speed-limit "$STALL" --speed-time "$LAB_SLOW")

declare -A old_desc at

restart_secs=
run() {
	local f a u2 t0 t1
	lab_route_a inst1
	lab_count_zero
	for f in 4 6; do
		eval "a=\$A$f u2=\$U2_$f"
		# shellcheck disable=SC2154  # a is set by the eval above
		lab_fetch_bg "$1-old-v$f" "$(lab_url "$a" "data.bin?rate=$RATE")" \
			"${OLD_ARGS[@]}"
		# shellcheck disable=SC2154  # u2 is set by the eval above
		lab_fetch_bg "$1-other-v$f" "$(lab_url "$u2" "data.bin?rate=$RATE")" \
			"${OTHER_ARGS[@]}"
	done
	for f in 4 6; do
		lab_fetch_wait_bytes "$1-old-v$f" 200000 15 || true
		lab_fetch_wait_bytes "$1-other-v$f" 200000 15 || true
	done
	if [ -n "${2:-}" ]; then
		t0=${EPOCHREALTIME/./}
		lab_datapath_restart || lab_log "lab_datapath_restart failed"
		t1=${EPOCHREALTIME/./}
		restart_secs=$(printf '%d.%d' $(((t1 - t0) / 1000000)) \
			$(((t1 - t0) % 1000000 / 100000)))
	fi
	lab_count_zero
	for f in 4 6; do
		eval "a=\$A$f"
		lab_fetch_bg "$1-new-v$f" "$(lab_url "$a" "data.bin?rate=$RATE&$(lab_hold "$1-new-v$f")")" \
			"${CURL_ARGS[@]}"
	done
	for f in 4 6; do
		lab_fetch_wait_bytes "$1-new-v$f" 100000 15 || true
	done
	lab_flap_start "$MS"
	lab_release "$1-new-v4" "$1-new-v6"
	for f in 4 6; do
		at[$f]=$(lab_fetch_bytes "$1-new-v$f")
	done
	lab_fetch_wait
	lab_flap_stop inst1
}

# judge_other TAG F: sets other_ok and other_desc
judge_other() {
	lab_fetch_result "$1-other-v$2"
	other_desc="the download from U2: $(lab_fetch_describe)"
	other_ok=$FETCH_EXACT
}

lab_up
lab_serve "$MB"

if lab_plain; then
	run without
	for f in 4 6; do
		judge_other without "$f"
		lab_fetch_result "without-new-v$f"
		name="restart-v$f without anypin"
		if [ "$other_ok" != 1 ]; then
			lab_fail "$name" "$other_desc: the lab is broken"
		elif [ "$FETCH_EXACT" = 1 ]; then
			lab_fail "$name" "the new download was byte-exact despite $LAB_FLIPS flips: the scenario proves nothing"
		else
			lab_pass "$name" "the flips broke the new download as expected ($(lab_fetch_describe); $LAB_FLIPS flips); $other_desc"
		fi
	done
fi

for dp in $(lab_datapaths); do
	if ! lab_datapath_use "$dp"; then
		lab_datapath_unavailable "restart-v4 with $dp" "restart-v6 with $dp"
		continue
	fi
	lab_datapath_start
	run "with-$dp" restart
	lab_datapath_stop
	for f in 4 6; do
		lab_fetch_result "with-$dp-old-v$f"
		old_desc[$f]=$(lab_fetch_describe)
		judge_other "with-$dp" "$f"
		lab_fetch_result "with-$dp-new-v$f"
		name="restart-v$f with $dp"
		if [ "$FETCH_EXACT" != 1 ]; then
			lab_fail "$name" "restart in $restart_secs s; the new download: $(lab_fetch_describe); $LAB_FLIPS flips; $(lab_rsts "$f"); $other_desc"
		elif [ "$LAB_FLIPS" -lt 2 ]; then
			lab_fail "$name" "byte-exact, but only $LAB_FLIPS flips happened"
		elif [ "${at[$f]}" -ge $((LAB_DATA_BYTES / 2)) ]; then
			lab_fail "$name" "byte-exact, but the flips began only after $(lab_mib "${at[$f]}") MB had arrived: too late to prove anything"
		elif [ "$(lab_count u-to-inst1 "$f")" -lt 10 ]; then
			lab_fail "$name" "the new download was byte-exact, but only $(lab_count u-to-inst1 "$f") packets went to U1 after the restart: not pinned?"
		elif [ "$other_ok" != 1 ]; then
			lab_fail "$name" "restart in $restart_secs s; the new download is fine, but $other_desc"
		else
			lab_pass "$name" "restart in $restart_secs s; the new download: $(lab_fetch_describe) through $LAB_FLIPS flips; $other_desc, never stalled; the old download (not checked): ${old_desc[$f]}"
		fi
	done
done

lab_done
