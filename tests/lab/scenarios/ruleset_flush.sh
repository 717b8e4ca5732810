#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# The host's firewall reloads under a pinned download (DESIGN.md: "If the
# host's firewall reloads its ruleset (`nft flush ruleset`,
# `iptables-restore`), anypind notices and puts its part back within a
# second, pinned flows intact").  A paced download from A (IPv4) and A6
# (IPv6) is served by inst1; once the first 100 kB have arrived, on the
# client and both instances at once:
#
#   1. `nft flush ruleset` (what a reload of nftables.service does first);
#   2. iptables-restore and ip6tables-restore (the lab's $LAB_IPT) of a
#      host firewall's saved ruleset: raw and mangle empty, filter with
#      ACCEPT rules; each replaces every table it names, as a reload does.
#
# After each step every host must have every nftables table and chain it
# had before the flush again within FLUSH_BACK_S (polled); then the router
# moves A to inst2 for the rest of the download (once, lab_route_a), so
# the download only survives if its flow is still pinned to U1 in the
# kernel.  The move comes once the rulesets are back, not while they are
# gone: the contract gives anypind up to a second, and a packet of the
# flow that is not rewritten meanwhile would reach inst2 and be reset.
# The router's ruleset (the lab's packet counters) is left alone.
#
#   without anypin   the move breaks the download (nothing is pinned; the
#                    flushes change nothing)
#   with DATAPATH    every table and chain back on each host after each
#                    step (anypind: its table FLUSH_TABLE, "inet anypin",
#                    must be among them; anypin.ko has none: its hooks are
#                    no part of the ruleset, which it survives as it is);
#                    the client lists the flow bound to U1 (anypinctl
#                    flows) after the steps; after the move the download
#                    is byte-exact, its packets go to U1 and none to A at
#                    inst2

set -euo pipefail
# shellcheck source=../lab.sh
. "$(dirname "$0")/../lab.sh"

MB=${FLUSH_MB:-6}
RATE=${FLUSH_RATE:-$((1000000 / LAB_SLOW))}
# (A stall bound twice the other scenarios': the download waits at 100 kB
# (lab_hold) while the rulesets are flushed and restored, over 24 s in the
# debug guest.)
CURL_ARGS=(--max-time "${FLUSH_MAXTIME:-$((30 * LAB_SLOW))}" --speed-limit 1024 --speed-time $((6 * LAB_SLOW)))
BACK_S=${FLUSH_BACK_S:-$((2 * LAB_SLOW))}
TABLE=${FLUSH_TABLE:-inet anypin}
HOSTS=(client inst1 inst2)

declare -A before took at bound u1 a2

# ruleset HOST: HOST's nftables tables ("table FAMILY NAME") and chains
# ("chain FAMILY TABLE NAME"), one a line, sorted; what iptables-nft
# makes is in it too, iptables-legacy's is not.
ruleset() {
	{
		lab_ns "$1" nft list tables | awk '$1 == "table"'
		lab_ns "$1" nft list chains | awk '
			$1 == "table" { t = $2 " " $3 }
			$1 == "chain" { print "chain " t " " $2 }'
	} 2>/dev/null | LC_ALL=C sort || true
}

# missing HOST: what HOST had before the flush (before[HOST]) and has not
# now.
missing() {
	[ -n "${before[$1]}" ] || return 0
	LC_ALL=C comm -23 <(printf '%s\n' "${before[$1]}") <(ruleset "$1")
}

# The two steps, for one host.
nft_flush() {
	lab_ns "$1" nft flush ruleset
}

# shellcheck disable=SC2317  # (called by fw_restore)
fw_saved() {
	cat <<-'EOF'
	*raw
	:PREROUTING ACCEPT [0:0]
	:OUTPUT ACCEPT [0:0]
	COMMIT
	*mangle
	:PREROUTING ACCEPT [0:0]
	:INPUT ACCEPT [0:0]
	:FORWARD ACCEPT [0:0]
	:OUTPUT ACCEPT [0:0]
	:POSTROUTING ACCEPT [0:0]
	COMMIT
	*filter
	:INPUT ACCEPT [0:0]
	:FORWARD ACCEPT [0:0]
	:OUTPUT ACCEPT [0:0]
	-A INPUT -i lo -j ACCEPT
	-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
	COMMIT
	EOF
}

# shellcheck disable=SC2317  # (called by disturb)
fw_restore() {
	fw_saved | lab_ns "$1" "$LAB_IPT-restore" -w &&
		fw_saved | lab_ns "$1" "$LAB_IP6T-restore" -w
}

# disturb LABEL STEP: STEP HOST on the client and both instances at once,
# then each host polled until it has everything of before[HOST] again, for
# at most BACK_S.  Adds "LABEL: ..." to ruleset_desc; clears ruleset_ok if
# the step failed or something did not come back.
disturb() {
	local label=$1 step=$2 h i n t0 now deadline miss errs='' desc='' empty=0
	local pids=() left=() rest=()
	t0=${EPOCHREALTIME/./}
	for h in "${HOSTS[@]}"; do
		"$step" "$h" >"$LAB_STATE/$step-$h.log" 2>&1 &
		pids+=("$!")
	done
	i=0
	for h in "${HOSTS[@]}"; do
		if ! wait "${pids[i]}"; then
			errs="$errs, $h: $(head -n 1 "$LAB_STATE/$step-$h.log")"
		fi
		i=$((i + 1))
	done
	deadline=$((t0 + BACK_S * 1000000))
	took=()
	left=("${HOSTS[@]}")
	while [ ${#left[@]} -gt 0 ]; do
		rest=()
		for h in "${left[@]}"; do
			miss=$(missing "$h")
			now=${EPOCHREALTIME/./}
			if [ -z "$miss" ]; then
				took[$h]=$(((now - t0) / 1000))
			else
				rest+=("$h")
			fi
		done
		left=("${rest[@]}")
		if [ ${#left[@]} = 0 ] || [ "${EPOCHREALTIME/./}" -ge "$deadline" ]; then
			break
		fi
		sleep 0.02
	done
	for h in "${HOSTS[@]}"; do
		if [ -z "${before[$h]}" ]; then
			desc="$desc, $h had no table"
			empty=$((empty + 1))
		elif [ -n "${took[$h]:-}" ]; then
			desc="$desc, $h back in ${took[$h]} ms"
		else
			miss=$(missing "$h")
			n=$(printf '%s\n' "$miss" | wc -l)
			desc="$desc, $h still without '$(printf '%s\n' "$miss" | head -n 1)'"
			[ "$n" = 1 ] || desc="$desc and $((n - 1)) more"
			desc="$desc after $BACK_S s"
			ruleset_ok=0
		fi
	done
	[ "$empty" != ${#HOSTS[@]} ] || desc=", no host had a table of its own"
	if [ -n "$errs" ]; then
		desc=" failed (${errs#, })$desc"
		ruleset_ok=0
	fi
	ruleset_desc="$ruleset_desc${ruleset_desc:+; }$label:${desc#,}"
}

# bound_to F: the client's flows to A (A6) that are bound to U1 (U1_6), in
# anypinctl flows (columns by the header's names).
bound_to() {
	local a=$A4 u=$U1_4
	if [ "$1" = 6 ]; then a=$A6 u=$U1_6; fi
	{ lab_anypinctl client flows 2>/dev/null || true; } | awk -v a="$a" -v u="$u" '
		$1 == "role" { for (i = 1; i <= NF; i++) c[$i] = i; next }
		/^#/ || !c["role"] { next }
		$c["role"] == "client" && $c["state"] == "bound" &&
			$c["anycast"] == a && $c["unicast"] == u { n++ }
		END { print n + 0 }'
}

# run TAG [anypin]: both downloads; after 100 kB the two steps, then A
# moves to inst2.  Sets ruleset_ok/ruleset_desc, at (bytes at the move),
# bound (with anypin: the client's flows bound to U1 before the move), u1
# and a2 (packets to U1, and to A at inst2, after the move).
run() {
	local f h
	lab_route_a inst1
	lab_count_zero
	lab_fetch_bg "$1-v4" "$(lab_url "$A4" "data.bin?rate=$RATE&$(lab_hold "$1-v4")")" "${CURL_ARGS[@]}"
	lab_fetch_bg "$1-v6" "$(lab_url "$A6" "data.bin?rate=$RATE&$(lab_hold "$1-v6")")" "${CURL_ARGS[@]}"
	lab_fetch_wait_bytes "$1-v4" 100000 15 || true
	lab_fetch_wait_bytes "$1-v6" 100000 15 || true
	for h in "${HOSTS[@]}"; do
		before[$h]=$(ruleset "$h")
	done
	ruleset_ok=1
	ruleset_desc=
	disturb "nft flush ruleset" nft_flush
	disturb "$LAB_IPT-restore" fw_restore
	for f in 4 6; do
		bound[$f]=
		[ -z "${2:-}" ] || bound[$f]=$(bound_to "$f")
	done
	lab_count_zero
	lab_route_a inst2
	lab_release "$1-v4" "$1-v6"
	at[4]=$(lab_fetch_bytes "$1-v4")
	at[6]=$(lab_fetch_bytes "$1-v6")
	lab_fetch_wait
	for f in 4 6; do
		u1[$f]=$(lab_count u-to-inst1 "$f")
		a2[$f]=$(lab_count a-to-inst2 "$f")
	done
	lab_route_a inst1
	# The next half starts from empty rulesets, as the first did: a
	# table left by this one's iptables-restore is no datapath's.
	for h in "${HOSTS[@]}"; do
		nft_flush "$h" || true
	done
}

# missing_table: the hosts whose ruleset had no table TABLE before the
# flush (anypind's own, which it must put back).
missing_table() {
	local h out=
	for h in "${HOSTS[@]}"; do
		grep -qxF "table $TABLE" <<<"${before[$h]}" || out="$out $h"
	done
	printf '%s' "${out# }"
}

lab_up
lab_serve "$MB"
if ! command -v nft >/dev/null 2>&1; then
	lab_fail "ruleset-flush" "nft (nftables) is not installed: nothing can flush a ruleset"
	lab_done
fi

if lab_plain; then
	run without
	for f in 4 6; do
		lab_fetch_result "without-v$f"
		name="ruleset-flush-v$f without anypin"
		if [ "$ruleset_ok" != 1 ]; then
			lab_fail "$name" "the lab is broken: $ruleset_desc"
		elif [ "$FETCH_EXACT" = 1 ]; then
			lab_fail "$name" "the download survived the move to inst2 byte-exact in $FETCH_SECS s: the scenario proves nothing"
		else
			lab_pass "$name" "$ruleset_desc; the move to inst2 broke the download as expected ($(lab_fetch_describe); $(lab_rsts "$f"))"
		fi
	done
fi

for dp in $(lab_datapaths); do
	if ! lab_datapath_use "$dp"; then
		lab_datapath_unavailable "ruleset-flush-v4 with $dp" \
			"ruleset-flush-v6 with $dp"
		continue
	fi
	lab_datapath_start
	run "with-$dp" anypin
	no_table=
	[ "$dp" != anypind ] || no_table=$(missing_table)
	lab_datapath_stop
	for f in 4 6; do
		lab_fetch_result "with-$dp-v$f"
		name="ruleset-flush-v$f with $dp"
		if [ -n "$no_table" ]; then
			lab_fail "$name" "no table $TABLE on $no_table before the flush; $ruleset_desc; the download: $(lab_fetch_describe)"
		elif [ "$ruleset_ok" != 1 ]; then
			lab_fail "$name" "$ruleset_desc; the download: $(lab_fetch_describe)"
		elif [ "$FETCH_EXACT" != 1 ]; then
			lab_fail "$name" "$ruleset_desc; but the move to inst2 broke the download: $(lab_fetch_describe); $(lab_rsts "$f")"
		elif [ "${at[$f]}" -ge $((LAB_DATA_BYTES / 2)) ]; then
			lab_fail "$name" "byte-exact, but A moved only after $(lab_mib "${at[$f]}") MB had arrived: too late to prove anything"
		elif [ "${bound[$f]}" != 1 ]; then
			lab_fail "$name" "byte-exact, but after the steps the client listed ${bound[$f]:-no} flows bound to U1 (anypinctl flows), expected 1"
		elif [ "${u1[$f]}" -lt 10 ] || [ "${a2[$f]}" != 0 ]; then
			lab_fail "$name" "byte-exact, but not pinned after the move: ${u1[$f]} packets to U1, ${a2[$f]} to A at inst2"
		else
			lab_pass "$name" "$ruleset_desc; the flow stayed bound to U1, and after the move to inst2: $(lab_fetch_describe), ${u1[$f]} packets to U1, none to A at inst2"
		fi
	done
done

lab_done
