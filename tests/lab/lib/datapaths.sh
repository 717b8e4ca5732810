# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck shell=bash disable=SC2034
# (SC2034: the variables are for the scenarios and lab_down.)
#
# anypin in the lab: each host's configuration, the choice of a datapath
# (tests/lab/datapath/NAME.sh), and what it counts (stats, blackholes).
# Sourced by tests/lab/lab.sh, which defines what it uses (the names of
# the namespaces, the addresses, lab_ns, lab_log); never on its own.

# ---------------------------------------------------------------------------
# anypin configuration for the lab (the sysctl.d syntax of DESIGN.md, which
# both datapaths read): lab_anypin_conf client|inst1|inst2 [LINE...]
#
# Scenarios shape it through these variables, read when a datapath calls
# lab_anypin_conf (i.e. at lab_datapath_start / lab_datapath_restart):
#   LAB_ANYPIN_LEGACY  hosts that run without anypin ("inst2", "client"...):
#                      their configuration has no prefixes at all, so the
#                      datapath passes everything (a legacy server/client)
#   LAB_ANYPIN_SECOND  1: the second chance on both instances
#                      (docs/second-chance.md): inst1 is instance 1, inst2
#                      instance 2, each the other's peer, in both prefixes
#   LAB_ANYPIN_EXTRA   lines added to every other host's configuration, e.g.
#                      "net.anypin.max_flows = 64" (one per line)
# Extra LINE arguments are added too.

lab_anypin_conf() {
	local h=$1 l
	shift
	case $h in
	client | inst1 | inst2) ;;
	*) lab_log "lab_anypin_conf: unknown role '$h'"; return 1 ;;
	esac
	case " ${LAB_ANYPIN_LEGACY:-} " in
	*" $h "*)
		printf 'net.anypin.prefixes =\n'
		return 0
		;;
	esac
	printf 'net.anypin.prefixes = any4=%s any6=%s\n' "$PREFIX4" "$PREFIX6"
	case $h in
	client)
		printf 'net.anypin.prefix.any4.responders = %s\n' "$RESP4"
		printf 'net.anypin.prefix.any6.responders = %s\n' "$RESP6"
		;;
	inst1 | inst2)
		local u4=$U1_4 u6=$U1_6 id=1 peer="2=$U2_4,$U2_6" p
		[ "$h" = inst2 ] && u4=$U2_4 && u6=$U2_6 && id=2 peer="1=$U1_4,$U1_6"
		printf 'net.anypin.prefix.any4.role = responder\n'
		printf 'net.anypin.prefix.any4.unicast = %s\n' "$u4"
		printf 'net.anypin.prefix.any6.role = responder\n'
		printf 'net.anypin.prefix.any6.unicast = %s\n' "$u6"
		if [ "${LAB_ANYPIN_SECOND:-}" = 1 ]; then
			for p in any4 any6; do
				printf 'net.anypin.prefix.%s.instance = %s\n' "$p" "$id"
				printf 'net.anypin.prefix.%s.peers = %s\n' "$p" "$peer"
			done
		fi
		;;
	esac
	if [ -n "${LAB_ANYPIN_EXTRA:-}" ]; then
		printf '%s\n' "$LAB_ANYPIN_EXTRA"
	fi
	for l; do
		printf '%s\n' "$l"
	done
}

# ---------------------------------------------------------------------------
# Datapaths: tests/lab/datapath/NAME.sh defines
#   datapath_available   succeeds if usable here; otherwise prints why
#   datapath_start       configures anypin on the client and both instances
#   datapath_stop        undoes it
# and optionally
#   datapath_stats HOST  prints HOST's counters table (client, inst1, inst2),
#                        in the format of /proc/net/anypin/stats
#   datapath_restart     the datapath dies and comes back under traffic
#                        (kill -9 and start again; rmmod and insmod);
#                        default: datapath_stop, then datapath_start
#   datapath_blackholes HOST, datapath_blackholes_flush HOST
#                        HOST's blackholed addresses (as
#                        /proc/net/anypin/blackholes) / forget them;
#                        default: the module's /proc and sysctl
#   datapath_anypinctl HOST ARGS...
#                        anypinctl ARGS against HOST's datapath; default:
#                        anypinctl --module in HOST's namespace
# "none" is the baseline (no anypin).

# lab_plain: whether the scenario runs its "without anypin" half (and the
# plain controls that go with it). LAB_PLAIN=0 leaves them out: they test
# the lab and the kernel's TCP, not anypin: make check runs them on the
# host, the VM suite in no guest unless VM_PLAIN says so (tests/vm/check).
lab_plain() {
	[ "${LAB_PLAIN:-1}" != 0 ]
}

# lab_datapaths: the datapaths a scenario's "with" half runs: $LAB_DATAPATHS
# if set, else every datapath file except none.
lab_datapaths() {
	local f
	if [ -n "${LAB_DATAPATHS:-}" ]; then
		# shellcheck disable=SC2086  # a list of names, split on purpose
		printf '%s\n' $LAB_DATAPATHS
		return 0
	fi
	for f in "$LAB_HOME"/datapath/*.sh; do
		[ -e "$f" ] || continue
		f=${f##*/}
		f=${f%.sh}
		[ "$f" = none ] || printf '%s\n' "$f"
	done
}

# lab_datapath_use NAME: load a datapath; fails (reason in
# LAB_DATAPATH_WHY) when the file is missing or it is unavailable here.
lab_datapath_use() {
	local f=$LAB_HOME/datapath/$1.sh
	unset -f datapath_available datapath_start datapath_stop \
		datapath_stats datapath_restart datapath_blackholes \
		datapath_blackholes_flush datapath_anypinctl
	LAB_DATAPATH=
	if [ ! -f "$f" ]; then
		LAB_DATAPATH_WHY="no datapath file $f"
		return 1
	fi
	# shellcheck disable=SC1090  # the datapath file chosen at run time
	. "$f" || { LAB_DATAPATH_WHY="cannot load $f"; return 1; }
	if ! LAB_DATAPATH_WHY=$(datapath_available 2>&1); then
		LAB_DATAPATH_WHY=${LAB_DATAPATH_WHY:-not available}
		return 1
	fi
	LAB_DATAPATH=$1
}

# lab_datapath_unavailable CHECK-NAME...: report a datapath that could not be
# used: FAIL for each check when it was asked for by LAB_DATAPATHS, else a
# note on stderr (a datapath that is not built is skipped).
lab_datapath_unavailable() {
	local n
	if [ -n "${LAB_DATAPATHS:-}" ]; then
		for n; do
			lab_fail "$n" "datapath unavailable: $LAB_DATAPATH_WHY"
		done
	else
		lab_log "skipped: ${*}: $LAB_DATAPATH_WHY"
	fi
}

lab_datapath_start() {
	LAB_DATAPATH_ACTIVE=1
	datapath_start
}

lab_datapath_stop() {
	LAB_DATAPATH_ACTIVE=
	datapath_stop
}

# lab_datapath_restart: the active datapath goes away and comes back
# (datapath_restart if it has one, else datapath_stop + datapath_start).
lab_datapath_restart() {
	LAB_DATAPATH_ACTIVE=1
	if declare -F datapath_restart >/dev/null; then
		datapath_restart
	else
		datapath_stop && datapath_start
	fi
}

# lab_stats HOST: the datapath's counters table of HOST (client, inst1,
# inst2): a header line "prefix syn opt_added ... flows", then one row per
# prefix and a row "total".  From datapath_stats if the datapath has it,
# else from /proc/net/anypin/stats of HOST's namespace (DESIGN.md's
# interface of the module) if that exists; fails otherwise.
lab_stats() {
	if declare -F datapath_stats >/dev/null; then
		datapath_stats "$1"
	elif [ -n "$LAB_DATAPATH" ] && lab_ns "$1" test -r /proc/net/anypin/stats; then
		lab_ns "$1" cat /proc/net/anypin/stats
	else
		return 1
	fi
}

# lab_stat HOST COUNTER [PREFIX]: one counter (PREFIX defaults to the row
# "total", or the sum of all rows if there is none).  Prints nothing and
# fails when the datapath gives no counters, or not that one.
lab_stat() {
	local t
	t=$(lab_stats "$1" 2>/dev/null) || return 1
	printf '%s\n' "$t" | lab_stat_of "$2" "${3:-}"
}

# lab_stat_of COUNTER [PREFIX]: lab_stat on a table read from stdin (a
# snapshot taken with lab_stats, to read several counters of one moment).
lab_stat_of() {
	awk -v c="$1" -v p="${2:-}" '
		NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) col = i; next }
		col && p != "" && $1 == p { v = $col; found = 1 }
		col && p == "" && $1 == "total" { v = $col; found = 1; tot = 1 }
		col && p == "" && !tot { sum += $col; any = 1 }
		END {
			if (found) print v
			else if (p == "" && any) print sum
			else exit 1
		}'
}

# lab_stat_delta BEFORE AFTER COUNTER [PREFIX]: how much COUNTER (of the
# row PREFIX, as lab_stat_of) grew from the table BEFORE to the table
# AFTER, two lab_stats snapshots of one host; "?" when either lacks it
# (succeeds either way, for VAR=$(...) under set -e).
lab_stat_delta() {
	local a b
	if a=$(printf '%s\n' "$1" | lab_stat_of "$3" "${4:-}") &&
		b=$(printf '%s\n' "$2" | lab_stat_of "$3" "${4:-}"); then
		printf '%s\n' $((b - a))
	else
		printf '?\n'
	fi
}

# lab_stat_ge DELTA N: DELTA (a lab_stat_delta) is known and at least N.
lab_stat_ge() {
	[ "$1" != '?' ] && [ "$1" -ge "$2" ]
}

# lab_blackholes HOST: the anycast addresses HOST's client role remembers
# as blackholed (DESIGN.md, "Never worse than plain anycast"): a header
# "addr remaining forget period detections", one line per address.  From
# datapath_blackholes if the datapath has it, else from HOST's
# /proc/net/anypin/blackholes (the module's); fails when there is none.
lab_blackholes() {
	if declare -F datapath_blackholes >/dev/null; then
		datapath_blackholes "$1"
	elif [ -n "$LAB_DATAPATH" ] &&
		lab_ns "$1" test -r /proc/net/anypin/blackholes; then
		lab_ns "$1" cat /proc/net/anypin/blackholes
	else
		return 1
	fi
}

# lab_blackholes_flush HOST: HOST forgets them all (datapath_blackholes_flush,
# else 1 written to HOST's net.anypin.flush_blackholes).
lab_blackholes_flush() {
	if declare -F datapath_blackholes_flush >/dev/null; then
		datapath_blackholes_flush "$1"
	else
		lab_sysctl "$1" net.anypin.flush_blackholes=1
	fi
}

# lab_anypinctl HOST ARGS...: anypinctl (build/anypinctl, or $ANYPINCTL)
# against HOST's datapath: datapath_anypinctl if the datapath has it
# (anypind: HOST's socket), else the module's files in HOST's namespace.
lab_anypinctl() {
	local h=$1
	shift
	if declare -F datapath_anypinctl >/dev/null; then
		datapath_anypinctl "$h" "$@"
	else
		lab_ns "$h" "${ANYPINCTL:-$(cd "$LAB_HOME/../.." && pwd)/build/anypinctl}" --module "$@"
	fi
}
