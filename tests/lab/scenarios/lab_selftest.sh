#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# Self-test of the lab itself (not of anypin, so it has no with/without
# halves): every helper the other scenarios rely on does what it says, for
# IPv4 and IPv6.

set -euo pipefail
# shellcheck source=../lab.sh
. "$(dirname "$0")/../lab.sh"

# check NAME EXPECTED ACTUAL DETAIL
check() {
	if [ "$2" = "$3" ]; then
		lab_pass "$1" "$4"
	else
		lab_fail "$1" "$4: expected '$2', got '${3:-nothing}'"
	fi
}

# udp_burst ADDR N: N single-packet UDP datagrams from the client to ADDR.
# shellcheck disable=SC2016  # bash -c's script reads its arguments
udp_burst() {
	lab_ns client bash -c '
		for ((i = 0; i < $2; i++)); do
			echo x >"/dev/udp/$1/9" || exit 1
		done' _ "$1" "$2"
}

# flipped N: the flap loop has flipped A at least N times.
# shellcheck disable=SC2317  # called by lab_wait_until
flipped() {
	[ "$(cat "$LAB_STATE/flips")" -ge "$1" ]
}

lab_up
lab_serve 1

for f in 4 6; do
	eval "a=\$A$f u1=\$U1_$f u2=\$U2_$f"
	n=lab-v$f
	# shellcheck disable=SC2154  # a is set by the eval above
	check "$n anycast" inst1 "$(lab_whoami "$a")" "new connection to $a served by inst1"
	# shellcheck disable=SC2154  # u1 and u2 are set by the eval above
	check "$n unicast" "inst1 inst2" \
		"$(lab_whoami "$u1") $(lab_whoami "$u2")" "$u1 and $u2 reach their instance"

	lab_route_a inst2
	check "$n route_a" "inst2 inst2" \
		"$(lab_route_a_where) $(lab_whoami "$a")" "lab_route_a inst2 moves new connections"
	lab_route_a inst1

	lab_count_zero
	lab_spread_on
	udp_burst "$a" 10
	check "$n spread" "5/5" \
		"$(lab_count a-to-inst1 "$f")/$(lab_count a-to-inst2 "$f")" \
		"lab_spread_on sends every other packet of 10 to each instance"

	lab_count_zero
	lab_withdraw inst1
	udp_burst "$a" 10
	check "$n withdraw" "0/10 inst2" \
		"$(lab_count a-to-inst1 "$f")/$(lab_count a-to-inst2 "$f") $(lab_whoami "$a")" \
		"after lab_withdraw inst1, A goes to inst2 only (spreading or not)"
	lab_spread_off
	lab_route_a inst1

	t0=${EPOCHREALTIME/./}
	lab_flap_start 50
	ok=yes
	lab_wait_until 5 flipped 4 || ok=no
	t1=${EPOCHREALTIME/./}
	lab_flap_stop inst1
	check "$n flap" "yes inst1" "$ok $(lab_whoami "$a")" \
		"lab_flap_start 50 flipped A ($LAB_FLIPS times in $(((t1 - t0) / 1000)) ms), lab_flap_stop routes it back"
done

sha1=$(lab_ns client curl -sS -g --max-time 5 "$(lab_url "$U1_4" data.bin)" | sha256sum)
sha2=$(lab_ns client curl -sS -g --max-time 5 "$(lab_url "$U2_6" "data.bin?rate=2000000")" | sha256sum)
check "lab serve" "$LAB_DATA_SHA $LAB_DATA_SHA" "${sha1%% *} ${sha2%% *}" \
	"data.bin is the same on both instances (plain and paced) and its sha256 is known"

lab_done
