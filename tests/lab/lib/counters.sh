# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck shell=bash
#
# What the router saw: packet counters by name (to A, to U1/U2, RSTs).
# Sourced by tests/lab/lab.sh, which defines what it uses (the names of
# the namespaces, the addresses, lab_ns, lab_log); never on its own.

# ---------------------------------------------------------------------------
# Packet counters on the router (filter FORWARD, chain LABCNT).  Predefined:
#   rst-from-inst1/2   TCP RSTs forwarded from an instance
#   rst-to-inst1/2     TCP RSTs forwarded to an instance
#   a-to-inst1/2       packets to A/A6 forwarded to an instance
#   u-to-inst1/2       packets to U1/U2 forwarded to an instance
# lab_count_add NAME 4|6 MATCH... adds more (e.g. in a scenario).

lab__counters() {
	local i r4 r6
	r4=("*filter" ":LABCNT - [0:0]" "-A FORWARD -j LABCNT")
	r6=("${r4[@]}")
	for i in 1 2; do
		r4+=("-A LABCNT -i i$i -p tcp --tcp-flags RST RST -m comment --comment rst-from-inst$i"
			"-A LABCNT -o i$i -p tcp --tcp-flags RST RST -m comment --comment rst-to-inst$i"
			"-A LABCNT -o i$i -d $A4 -m comment --comment a-to-inst$i")
		r6+=("-A LABCNT -i i$i -p tcp --tcp-flags RST RST -m comment --comment rst-from-inst$i"
			"-A LABCNT -o i$i -p tcp --tcp-flags RST RST -m comment --comment rst-to-inst$i"
			"-A LABCNT -o i$i -d $A6 -m comment --comment a-to-inst$i")
	done
	r4+=("-A LABCNT -o i1 -d $U1_4 -m comment --comment u-to-inst1"
		"-A LABCNT -o i2 -d $U2_4 -m comment --comment u-to-inst2" COMMIT)
	r6+=("-A LABCNT -o i1 -d $U1_6 -m comment --comment u-to-inst1"
		"-A LABCNT -o i2 -d $U2_6 -m comment --comment u-to-inst2" COMMIT)
	# One restore per family: a rule at a time is slow under emulation.
	printf '%s\n' "${r4[@]}" | lab_ns router "$LAB_IPT-restore" -w --noflush &&
		printf '%s\n' "${r6[@]}" | lab_ns router "$LAB_IP6T-restore" -w --noflush
}

# lab_count_add NAME 4|6|46 MATCH...
lab_count_add() {
	local name=$1 fam=$2
	shift 2
	case $fam in *4*)
		lab_ns router "$LAB_IPT" -w -A LABCNT "$@" \
			-m comment --comment "$name" || return 1 ;;
	esac
	case $fam in *6*)
		lab_ns router "$LAB_IP6T" -w -A LABCNT "$@" \
			-m comment --comment "$name" || return 1 ;;
	esac
}

# lab_count NAME [4|6]: packets counted under NAME (both families if none).
lab_count() {
	local ipt n=0 c
	for ipt in "$LAB_IPT" "$LAB_IP6T"; do
		case ${2:-46}:$ipt in
		*4*:"$LAB_IPT" | *6*:"$LAB_IP6T") ;;
		*) continue ;;
		esac
		c=$(lab_ns router "$ipt" -w -nvxL LABCNT | awk -v n="/* $1 */" \
			'index($0, n) { s += $1 } END { print s + 0 }')
		n=$((n + c))
	done
	printf '%s\n' "$n"
}

# lab_rsts 4|6: which instances sent RSTs since the counters were zeroed,
# in words ("no RST seen", "1 RST from inst2", ...).
lab_rsts() {
	local r1 r2
	r1=$(lab_count rst-from-inst1 "$1")
	r2=$(lab_count rst-from-inst2 "$1")
	case $r1:$r2 in
	0:0) printf 'no RST seen' ;;
	0:*) printf '%s RST from inst2' "$r2" ;;
	*:0) printf '%s RST from inst1' "$r1" ;;
	*) printf 'RSTs from inst1/inst2: %s/%s' "$r1" "$r2" ;;
	esac
}

# lab_count_zero: reset all counters.
lab_count_zero() {
	lab_ns router "$LAB_IPT" -w -Z LABCNT &&
		lab_ns router "$LAB_IP6T" -w -Z LABCNT
}
