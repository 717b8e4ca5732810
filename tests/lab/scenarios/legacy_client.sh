#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# Legacy client: the client runs without anypin (LAB_ANYPIN_LEGACY=client),
# both instances are responders.  Paced downloads from A and A6, in three
# phases:
#
#   plain    A routed to inst1, no flip: the download is byte-exact, served
#            by inst1, and its packets go to A, never to U1/U2 (with
#            anypin: the SYN has no capability option, the responder leaves
#            the connection alone and answers from A)
#   legacy   A routed to inst1, one flip to inst2: the download breaks, with
#            or without anypin on the instances (the client cannot pin;
#            this is the expected, honest result)
#   pinned   the client gets its client role too (the datapath is restarted
#            with the full configuration), then as legacy: one flip
#
# The check "plain" (phases plain + legacy) is a compatibility check: it
# must pass both without and with anypin (anypin on the servers changes
# nothing for a legacy client).  The check "pinned" is its contrast, a
# capable client in the same run: without anypin the flip breaks the
# download, with it the download is byte-exact.

# Three phases, both families: on the debug kernel it took 362-385 s of
# the 480 one timeout gives there.
# lab-timeout: 2

set -euo pipefail
# shellcheck source=../lab.sh
. "$(dirname "$0")/../lab.sh"

MB=${LEGACY_CLIENT_MB:-2}
RATE=${LEGACY_CLIENT_RATE:-$((1000000 / LAB_SLOW))}
CURL_ARGS=(--max-time "${LEGACY_CLIENT_MAXTIME:-$((20 * LAB_SLOW))}" --speed-limit 1024 --speed-time $((3 * LAB_SLOW)))

declare -A to_a to_u who at legacy_n

# phase TAG START FLIP: downloads from A and A6 with A routed to START; with
# FLIP (an instance), A moves there once 100 kB have arrived.
phase() {
	local f r=$RATE h4='' h6=''
	# (Without a flip, nothing needs the transfer to last: 4 times the pace.)
	[ -n "${3:-}" ] || r=$((RATE * 4))
	[ -z "${3:-}" ] || h4="&$(lab_hold "$1-v4")" h6="&$(lab_hold "$1-v6")"
	lab_route_a "$2"
	lab_count_zero
	lab_fetch_bg "$1-v4" "$(lab_url "$A4" "data.bin?rate=$r$h4")" \
		-D "$LAB_STATE/$1-v4.hdr" "${CURL_ARGS[@]}"
	lab_fetch_bg "$1-v6" "$(lab_url "$A6" "data.bin?rate=$r$h6")" \
		-D "$LAB_STATE/$1-v6.hdr" "${CURL_ARGS[@]}"
	if [ -n "${3:-}" ]; then
		lab_fetch_wait_bytes "$1-v4" 100000 15 || true
		lab_fetch_wait_bytes "$1-v6" 100000 15 || true
		lab_route_a "$3"
		lab_release "$1-v4" "$1-v6"
		at[$1-4]=$(lab_fetch_bytes "$1-v4")
		at[$1-6]=$(lab_fetch_bytes "$1-v6")
	fi
	lab_fetch_wait
	for f in 4 6; do
		to_a[$1-$f]=$(($(lab_count a-to-inst1 "$f") + $(lab_count a-to-inst2 "$f")))
		to_u[$1-$f]=$(($(lab_count u-to-inst1 "$f") + $(lab_count u-to-inst2 "$f")))
		who[$1-$f]=$(sed -n 's/^X-Lab-Instance: *\([a-z0-9]*\).*/\1/p' \
			"$LAB_STATE/$1-v$f.hdr" 2>/dev/null | head -n 1)
	done
	lab_route_a inst1
}

# run TAG [DATAPATH]: the three phases; with DATAPATH, the client is legacy
# in the first two, capable in the third.
run() {
	if [ -n "${2:-}" ]; then
		LAB_ANYPIN_LEGACY=client
		lab_datapath_start
	fi
	phase "$1-plain" inst1
	phase "$1-legacy" inst1 inst2
	if [ -n "${2:-}" ]; then
		legacy_n[4]=$(lab_stat inst1 resp_legacy any4) || legacy_n[4]=
		legacy_n[6]=$(lab_stat inst1 resp_legacy any6) || legacy_n[6]=
		lab_datapath_stop
		LAB_ANYPIN_LEGACY=
		lab_datapath_start
	fi
	phase "$1-pinned" inst1 inst2
	if [ -n "${2:-}" ]; then
		lab_datapath_stop
	fi
}

# judge_plain TAG F NAME: the compatibility check.
judge_plain() {
	local t=$1 f=$2 plain
	lab_fetch_result "$t-plain-v$f"
	if [ "$FETCH_EXACT" != 1 ]; then
		lab_fail "$3" "legacy client, no flip: $(lab_fetch_describe)"
		return
	fi
	if [ "${who[$t-plain-$f]}" != inst1 ]; then
		lab_fail "$3" "served by '${who[$t-plain-$f]}', expected inst1"
		return
	fi
	if [ "${to_u[$t-plain-$f]}" != 0 ] || [ "${to_a[$t-plain-$f]}" -lt 10 ]; then
		lab_fail "$3" "expected all packets to A: ${to_a[$t-plain-$f]} to A, ${to_u[$t-plain-$f]} to U1/U2"
		return
	fi
	plain="$(lab_fetch_describe) from inst1, ${to_a[$t-plain-$f]} packets to A, none to U"
	lab_fetch_result "$t-legacy-v$f"
	if [ "$FETCH_EXACT" = 1 ]; then
		lab_fail "$3" "$plain; but a legacy client's download survived a flip byte-exact: the flip does not work"
		return
	fi
	plain="$plain; a flip breaks it as it must (nothing to pin to: $(lab_fetch_describe))"
	if [ "$LAB_DATAPATH" != "" ]; then
		[ -z "${legacy_n[$f]:-}" ] ||
			plain="$plain; inst1 counter resp_legacy=${legacy_n[$f]}"
	fi
	lab_pass "$3" "$plain"
}

lab_up
lab_serve "$MB"

LAB_DATAPATH=
if lab_plain; then
	run without
	for f in 4 6; do
		judge_plain without "$f" "legacy-client-v$f plain without anypin"
		lab_fetch_result "without-pinned-v$f"
		name="legacy-client-v$f pinned without anypin"
		if [ "$FETCH_EXACT" = 1 ]; then
			lab_fail "$name" "byte-exact through a flip from inst1: the scenario proves nothing"
		else
			lab_pass "$name" "the same download (no client has anypin here), one flip broke it as expected ($(lab_fetch_describe); $(lab_rsts "$f"))"
		fi
	done
fi

for dp in $(lab_datapaths); do
	if ! lab_datapath_use "$dp"; then
		lab_datapath_unavailable "legacy-client-v4 plain with $dp" \
			"legacy-client-v4 pinned with $dp" \
			"legacy-client-v6 plain with $dp" \
			"legacy-client-v6 pinned with $dp"
		continue
	fi
	run "with-$dp" "$dp"
	for f in 4 6; do
		judge_plain "with-$dp" "$f" "legacy-client-v$f plain with $dp"
		lab_fetch_result "with-$dp-pinned-v$f"
		name="legacy-client-v$f pinned with $dp"
		if [ "$FETCH_EXACT" != 1 ]; then
			lab_fail "$name" "capable client, one flip: $(lab_fetch_describe); $(lab_rsts "$f")"
		elif [ "${at[with-$dp-pinned-$f]}" -ge $((LAB_DATA_BYTES / 2)) ]; then
			lab_fail "$name" "byte-exact, but the flip came only after $(lab_mib "${at[with-$dp-pinned-$f]}") MB had arrived: too late to prove anything"
		elif [ "${to_u[with-$dp-pinned-$f]}" -lt 10 ]; then
			lab_fail "$name" "byte-exact, but only ${to_u[with-$dp-pinned-$f]} packets to U1: was it pinned?"
		else
			lab_pass "$name" "capable client in the same run, through one flip: $(lab_fetch_describe), ${to_u[with-$dp-pinned-$f]} packets to U1"
		fi
	done
done

lab_done
