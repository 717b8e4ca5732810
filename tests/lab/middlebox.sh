# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck shell=bash source-path=SCRIPTDIR
#
# The middlebox scenario's machinery (scenarios/middlebox.sh), DESIGN.md's
# "Never worse than plain anycast": the lab's router plays a middlebox
# between the client and the instances, and nothing else happens (A stays
# on inst1, no route change). The scenario defines, per case NAME,
#
#   mb_rules_NAME F A U1 U2   its middlebox for family F (4 or 6; A the
#                        anycast address, U1 and U2 the instances' unicast
#                        addresses of that family) as iptables-restore
#                        input with -A lines (and chain policies): it goes
#                        into the router with --noflush (the lab's counters
#                        stay), and comes out again as -D lines (policies
#                        back to ACCEPT) when the case ends
#
# and calls `mb_main NAME:EXPECT...` ('-' in NAME reads as '_' for the
# function). One lab, one server; per case and family, one after the
# other: two downloads of data.bin from A, the second right after the
# first, each with curl's time to its first byte (time_starttransfer):
#
#   without anypin   both byte-exact: plain anycast works through this
#                    middlebox (otherwise the case proves nothing)
#   with DATAPATH    both byte-exact; the first connection at most one SYN
#                    timeout (1 s) plus MIDDLEBOX_SLACK_MS slower to its
#                    first byte than the first one without; the client
#                    forgets its blackholes when asked (lab_blackholes_flush);
#                    and, by EXPECT:
#     fallback       the middlebox loses the SYN-ACK from U1, so the first
#                    connection falls back: the client's counters fallback
#                    and blackholed went up, and inst1's fallback (the
#                    plain retry ended its entry); the second goes plain
#                    at once: the client's bh_plain went up, its fallback
#                    did not (no capable SYN was retransmitted); the
#                    client lists A among its blackholes
#     plain          the option does not reach the responder: the client
#                    added it (opt_added +2), inst1 saw no capable SYN
#                    (resp_syn +0) and answered from A (the client's plain
#                    +2); no fallback, no blackhole, A not listed
#
# The client's blackholes are flushed before each family's connections, so
# the cases, families and runs are independent. Check names: "NAME-v4
# without anypin", "NAME-v6 with DATAPATH"; their details give the times
# to first byte, "ttfb without FIRST/SECOND ms, with FIRST/SECOND ms".
#
# Knobs: MIDDLEBOX_KB (256: the size of data.bin in KiB),
# MIDDLEBOX_MAXTIME (curl's bound, 10 s times LAB_SLOW), MIDDLEBOX_SLACK_MS
# (500 times LAB_SLOW: what the first connection may take beyond the SYN
# timeout).

# shellcheck source=lab.sh
. "$(dirname "${BASH_SOURCE[0]}")/lab.sh"

MB_KB=${MIDDLEBOX_KB:-256}
MB_SLACK_MS=${MIDDLEBOX_SLACK_MS:-$((500 * LAB_SLOW))}
MB_CURL_ARGS=(--max-time "${MIDDLEBOX_MAXTIME:-$((10 * LAB_SLOW))}")

# Per "TAG-F-N" (N: first, second): byte-exact, ttfb in us, description.
declare -A mb_exact mb_ttfb mb_desc
# Counter tables per "HOST-N" (N: 0 before, 1 after the first, 2 after
# the second connection).
declare -A mb_stats

# mb__rules on|off: the case's middlebox in (out of) the router, both
# families.
mb__rules() {
	local fn=mb_rules_${MB_NAME//-/_} undo=(cat)
	[ "$1" = off ] && undo=(sed -e 's/^-A/-D/' -e 's/^\(:[A-Z]*\) [A-Z]*/\1 ACCEPT/')
	"$fn" 4 "$A4" "$U1_4" "$U2_4" | "${undo[@]}" |
		lab_ns router "$LAB_IPT-restore" -w --noflush &&
		"$fn" 6 "$A6" "$U1_6" "$U2_6" | "${undo[@]}" |
		lab_ns router "$LAB_IP6T-restore" -w --noflush
}

# mb__fetch TAG F N: the N-th (first, second) download from A of family F.
mb__fetch() {
	local a=A$2 k=$1-$2-$3
	lab_fetch_ttfb "$k" "$(lab_url "${!a}" data.bin)" "${MB_CURL_ARGS[@]}"
	lab_fetch_result "$k"
	mb_exact[$k]=$FETCH_EXACT
	mb_ttfb[$k]=$FETCH_TTFB_US
	# (curl says 0 when it got no byte)
	[ "$FETCH_EXIT" = 0 ] || mb_ttfb[$k]=
	mb_desc[$k]=$(lab_fetch_describe)
}

# mb__ttfb TAG F: "FIRST/SECOND ms".
mb__ttfb() {
	local n out=
	for n in first second; do
		if [ -n "${mb_ttfb[$1-$2-$n]:-}" ]; then
			out="$out/$(lab_ms "${mb_ttfb[$1-$2-$n]:-}")"
		else
			out="$out/?"
		fi
	done
	printf '%s ms' "${out#/}"
}

# mb__snap N: the counters of the client and inst1 now.
mb__snap() {
	local h
	for h in client inst1; do
		mb_stats[$h-$1]=$(lab_stats "$h" 2>/dev/null) || mb_stats[$h-$1]=
	done
}

# mb__delta HOST COUNTER F FROM TO: how much COUNTER of HOST's prefix anyF
# grew between the snapshots FROM and TO ("?" when unknown).
mb__delta() {
	lab_stat_delta "${mb_stats[$1-$4]}" "${mb_stats[$1-$5]}" "$2" "any$3"
}

# The counters the checks name, in words.
declare -A mb_what=(
	[fb1]="first connection: the client's fallback"
	[bh1]="first connection: the client's blackholed"
	[ifb1]="first connection: inst1's fallback"
	[bhp2]="second connection: the client's bh_plain"
	[opt]="the client's opt_added"
	[rsyn]="inst1's resp_syn (capable SYNs)"
	[plain]="the client's plain"
	[fb]="the client's fallback"
	[bh]="the client's blackholed"
	[bhp]="the client's bh_plain"
)

# mb__listed ADDR TABLE: whether a blackholes table lists ADDR.
mb__listed() {
	printf '%s\n' "$2" | awk -v a="$1" '$1 == a { f = 1 } END { exit !f }'
}

# mb__without F: the baseline of family F.
mb__without() {
	local name="$MB_NAME-v$1 without anypin" n bad=
	for n in first second; do
		mb__fetch without "$1" "$n"
		if [ "${mb_exact[without-$1-$n]}" != 1 ]; then
			bad="$bad; $n download: ${mb_desc[without-$1-$n]}"
		fi
	done
	if [ -n "$bad" ]; then
		lab_fail "$name" "plain anycast does not work through this middlebox, the scenario proves nothing${bad}"
	else
		lab_pass "$name" "two downloads of $MB_KB KiB byte-exact; ttfb $(mb__ttfb without "$1")"
	fi
}

# mb__with F: the "with" half of family F (datapath already started).
mb__with() {
	local f=$1 t=with-$LAB_DATAPATH name="$MB_NAME-v$1 with $LAB_DATAPATH"
	local a=A$1 n bh bh_after problems=() info ttfb slow lim d
	local -A c
	lab_blackholes_flush client ||
		problems+=("cannot flush the client's blackholes")
	mb__snap 0
	mb__fetch "$t" "$f" first
	mb__snap 1
	mb__fetch "$t" "$f" second
	mb__snap 2
	bh=$(lab_blackholes client 2>&1) || problems+=("no blackholes list: $bh")
	lab_blackholes_flush client ||
		problems+=("cannot flush the client's blackholes")
	bh_after=$(lab_blackholes client 2>&1) || bh_after=

	for n in first second; do
		[ "${mb_exact[$t-$f-$n]}" = 1 ] ||
			problems+=("$n download: ${mb_desc[$t-$f-$n]}")
	done
	# (Without the plain half, against 0: stricter by the plain ttfb.)
	lim=$((1000 + MB_SLACK_MS))
	if [ -n "${mb_ttfb[$t-$f-first]}" ]; then
		slow=$(((${mb_ttfb[$t-$f-first]} - ${mb_ttfb[without-$f-first]:-0}) / 1000))
		[ "$slow" -le "$lim" ] ||
			problems+=("first connection $slow ms slower to its first byte than without anypin (at most $lim)")
	fi

	case $MB_EXPECT in
	fallback)
		c[fb1]=$(mb__delta client fallback "$f" 0 1)
		c[bh1]=$(mb__delta client blackholed "$f" 0 1)
		c[ifb1]=$(mb__delta inst1 fallback "$f" 0 1)
		c[bhp2]=$(mb__delta client bh_plain "$f" 1 2)
		c[fb2]=$(mb__delta client fallback "$f" 1 2)
		info="first: client fallback +${c[fb1]}, blackholed +${c[bh1]}, inst1 fallback +${c[ifb1]}; second: client bh_plain +${c[bhp2]}, fallback +${c[fb2]}"
		for d in fb1 bh1 ifb1 bhp2; do
			lab_stat_ge "${c[$d]}" 1 ||
				problems+=("${mb_what[$d]} +${c[$d]}, expected at least +1")
		done
		[ "${c[fb2]}" = 0 ] ||
			problems+=("the second connection fell back too (fallback +${c[fb2]}): its SYN was retransmitted")
		if mb__listed "${!a}" "$bh"; then
			info="$info; the client lists ${!a} among its blackholes"
		else
			problems+=("the client does not list ${!a} among its blackholes ($(printf '%s' "$bh" | tr '\n' ';'))")
		fi
		;;
	plain)
		c[opt]=$(mb__delta client opt_added "$f" 0 2)
		c[rsyn]=$(mb__delta inst1 resp_syn "$f" 0 2)
		c[plain]=$(mb__delta client plain "$f" 0 2)
		c[fb]=$(mb__delta client fallback "$f" 0 2)
		c[bh]=$(mb__delta client blackholed "$f" 0 2)
		c[bhp]=$(mb__delta client bh_plain "$f" 0 2)
		info="client opt_added +${c[opt]}, inst1 resp_syn +${c[rsyn]}, client plain +${c[plain]}, fallback +${c[fb]}, blackholed +${c[bh]}, bh_plain +${c[bhp]}"
		for d in opt plain; do
			lab_stat_ge "${c[$d]}" 2 ||
				problems+=("${mb_what[$d]} +${c[$d]}, expected +2")
		done
		for d in rsyn fb bh bhp; do
			[ "${c[$d]}" = 0 ] ||
				problems+=("${mb_what[$d]} +${c[$d]}, expected +0")
		done
		if mb__listed "${!a}" "$bh"; then
			problems+=("the client lists ${!a} among its blackholes")
		fi
		;;
	esac
	if mb__listed "${!a}" "$bh_after"; then
		problems+=("the client still lists ${!a} after flushing its blackholes")
	fi

	ttfb="with $(mb__ttfb "$t" "$f")"
	! lab_plain || ttfb="without $(mb__ttfb without "$f"), $ttfb"
	info="ttfb $ttfb; $info"
	if [ ${#problems[@]} = 0 ]; then
		lab_pass "$name" "two downloads of $MB_KB KiB byte-exact; $info"
	else
		lab_fail "$name" "$(printf '%s; ' "${problems[@]}")$info"
	fi
}

# mb_main NAME:EXPECT...: the cases, in one lab.
mb_main() {
	local f dp c
	lab_up
	lab_serve "${MB_KB}K"
	for c; do
		MB_NAME=${c%%:*} MB_EXPECT=${c#*:}
		if ! mb__rules on; then
			lab_fail "$MB_NAME" "cannot set up the middlebox on the router"
			continue
		fi
		LAB_DATAPATH=
		if lab_plain; then
			for f in 4 6; do
				mb__without "$f"
			done
		fi
		for dp in $(lab_datapaths); do
			if ! lab_datapath_use "$dp"; then
				lab_datapath_unavailable "$MB_NAME-v4 with $dp" "$MB_NAME-v6 with $dp"
				continue
			fi
			lab_datapath_start
			for f in 4 6; do
				mb__with "$f"
			done
			lab_datapath_stop
		done
		mb__rules off || lab_fail "$MB_NAME" "cannot take the middlebox out of the router"
	done
	lab_done
}
