#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# Route flap during a bulk transfer: the client downloads a large file from
# A (IPv4) and A6 (IPv6) at a limited rate while the router flips A between
# inst1 and inst2 every ROUTE_FLAP_MS.
#
#   control          no flips: the download is byte-exact (the lab works)
#   without anypin   flips: the connection breaks (reset or stall), detected
#                    within bounded time; if it survives, the scenario
#                    proves nothing and that is a FAIL
#   with DATAPATH    flips, anypin on: byte-exact (one check per datapath
#                    file in tests/lab/datapath/ other than none.sh)

set -euo pipefail
# shellcheck source=../lab.sh
. "$(dirname "$0")/../lab.sh"

MB=${ROUTE_FLAP_MB:-20}
# Bytes/s, paced by the server: the connection carries packets all along.
# (curl --limit-rate would not do: curl reads in bursts and the connection
# sits idle between them, so flips would mostly go unnoticed.)
RATE=${ROUTE_FLAP_RATE:-5000000}
MS=${ROUTE_FLAP_MS:-100}
# A stall (< 1 KiB/s for 3 s) or the overall bound ends a download.
CURL_ARGS=(--max-time "${ROUTE_FLAP_MAXTIME:-30}"
	--speed-limit 1024 --speed-time 3)

# fetch_both TAG: download data.bin from A and A6 at the same time.
fetch_both() {
	local p4
	lab_fetch "$1-v4" "$(lab_url "$A4" "data.bin?rate=$RATE")" \
		"${CURL_ARGS[@]}" &
	p4=$!
	lab_fetch "$1-v6" "$(lab_url "$A6" "data.bin?rate=$RATE")" \
		"${CURL_ARGS[@]}" &
	wait "$p4" "$!"
}

mib() {
	printf '%d.%d' $(($1 / 1048576)) $(($1 % 1048576 * 10 / 1048576))
}

# What went wrong with the last lab_fetch_result.
describe() {
	if [ "$FETCH_EXIT" != 0 ]; then
		printf 'curl exit %s after %s s: %s; %s of %s MB arrived' \
			"$FETCH_EXIT" "$FETCH_SECS" "${FETCH_ERR:-no message}" \
			"$(mib "$FETCH_BYTES")" "$MB"
	else
		printf 'complete after %s s but %s bytes, sha256 %.12s, expected %.12s' \
			"$FETCH_SECS" "$FETCH_BYTES" "$FETCH_SHA" "$LAB_DATA_SHA"
	fi
}

# Which instances sent RSTs (family $1) since the counters were zeroed.
rsts() {
	local r1 r2
	r1=$(lab_count rst-from-inst1 "$1")
	r2=$(lab_count rst-from-inst2 "$1")
	case $r1:$r2 in
	0:0) printf 'no RST seen' ;;
	0:1) printf '1 RST from inst2' ;;
	1:0) printf '1 RST from inst1' ;;
	*) printf 'RSTs from inst1/inst2: %s/%s' "$r1" "$r2" ;;
	esac
}

lab_up
lab_serve "$MB"

if lab_plain; then
	declare -A control_ok
	fetch_both control
	for f in 4 6; do
		lab_fetch_result "control-v$f"
		control_ok[$f]=$FETCH_EXACT
		if [ "$FETCH_EXACT" = 1 ]; then
			lab_pass "route-flap-v$f control" \
				"no flips, $MB MB byte-exact in $FETCH_SECS s"
		else
			lab_fail "route-flap-v$f control" "no flips, yet $(describe)"
		fi
	done

	lab_count_zero
	lab_flap_start "$MS"
	fetch_both without
	lab_flap_stop inst1
	for f in 4 6; do
		lab_fetch_result "without-v$f"
		name="route-flap-v$f without anypin"
		if [ "${control_ok[$f]}" != 1 ]; then
			lab_fail "$name" "control failed, the lab is broken ($(describe))"
		elif [ "$FETCH_EXACT" = 1 ]; then
			lab_fail "$name" "byte-exact in $FETCH_SECS s despite $LAB_FLIPS flips every $MS ms: the scenario proves nothing"
		else
			lab_pass "$name" "broken as expected ($(describe); $(rsts "$f"))"
		fi
	done
fi

for dp in $(lab_datapaths); do
	if ! lab_datapath_use "$dp"; then
		lab_datapath_unavailable "route-flap-v4 with $dp" \
			"route-flap-v6 with $dp"
		continue
	fi
	lab_datapath_start
	lab_count_zero
	lab_flap_start "$MS"
	fetch_both "with-$dp"
	lab_flap_stop inst1
	lab_datapath_stop
	for f in 4 6; do
		lab_fetch_result "with-$dp-v$f"
		name="route-flap-v$f with $dp"
		if [ "$FETCH_EXACT" != 1 ]; then
			lab_fail "$name" "$(describe); $LAB_FLIPS flips, $(rsts "$f")"
		elif [ "$LAB_FLIPS" -lt 2 ]; then
			lab_fail "$name" "byte-exact, but only $LAB_FLIPS flips happened"
		else
			lab_pass "$name" "$MB MB byte-exact in $FETCH_SECS s through $LAB_FLIPS flips every $MS ms ($(lab_count u-to-inst1 "$f")/$(lab_count u-to-inst2 "$f") packets to U1/U2)"
		fi
	done
done

lab_done
