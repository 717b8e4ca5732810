# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck shell=bash disable=SC2016,SC2034
# (SC2034: the variables are for the scripts sourcing this; SC2016: bash -c
# scripts get their values as arguments.)
#
# The anypin network-namespace lab: a library sourced by the scenarios in
# tests/lab/scenarios/, by the runner tests/lab/run, by the VM harness and by
# the benchmarks.  It needs only bash, coreutils, iproute2, iptables/ip6tables
# and python3, so it runs the same on the host and inside a qemu guest.
#
#   client -- router -- inst1          A / A6 live on both instances;
#               \----- inst2          the router decides where A goes.
#
# See docs/lab.md.  Scenarios use it like this:
#
#   set -euo pipefail
#   . "$(dirname "$0")/../lab.sh"
#   lab_up                      # fresh lab; lab_down runs on exit
#   lab_serve
#   ...; lab_pass "name" "detail"  or  lab_fail "name" "detail"
#   lab_done
#
# Everything is namespaced by the prefix $LAB (default "ap-"), so two labs
# with different prefixes can exist side by side.

LAB=${LAB:-ap-}
LAB_HOME=${LAB_HOME:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
LAB_STATE=${LAB_STATE:-${TMPDIR:-/tmp}/anypin-lab.${LAB%-}}
LAB_PORT=${LAB_PORT:-8080}
LAB_FILE_MB=${LAB_FILE_MB:-20}
# How much slower than a 2-core host this machine is: scenarios divide
# their default pace by it (and stretch their time bounds), so that their
# transfers still last long enough for a flip to land in the middle.  4 in
# the VM harness's guest (ANYPIN_VM=1), 8 on its debug kernel (KASAN,
# lockdep and kmemleak slow the guest down again, ANYPIN_VM_DEBUG=1),
# else 1.  ANYPIN_LAB_SLOW reaches the guest (tests/vm/run passes ANYPIN_*).
LAB_SLOW=${LAB_SLOW:-${ANYPIN_LAB_SLOW:-}}
if [ -z "${LAB_SLOW:-}" ]; then
	LAB_SLOW=1
	[ "${ANYPIN_VM:-}" = 1 ] && LAB_SLOW=4
	[ "${ANYPIN_VM_DEBUG:-}" = 1 ] && LAB_SLOW=8
fi
# The runner's bound per scenario (tests/lab/run), stretched the same way.
if [ "$LAB_SLOW" != 1 ] && [ -z "${LAB_TIMEOUT:-}" ]; then
	LAB_TIMEOUT=$((60 * LAB_SLOW))
fi
LAB_IPT=${LAB_IPT:-iptables}
LAB_IP6T=${LAB_IP6T:-ip6tables}
if [ -z "${LAB_PYTHON:-}" ]; then
	if [ -x /usr/bin/python3 ]; then
		LAB_PYTHON=/usr/bin/python3
	else
		LAB_PYTHON=python3
	fi
fi

NS_CLIENT=${LAB}client
NS_ROUTER=${LAB}router
NS_INST1=${LAB}inst1
NS_INST2=${LAB}inst2

# Addresses (documentation ranges only).  Router-side names: R_*.
C4=203.0.113.10
C6=2001:db8:c::10
R_C4=203.0.113.1
R_C6=2001:db8:c::1
U1_4=198.51.100.11
U1_6=2001:db8:1::11
R_I1_4=198.51.100.1
R_I1_6=2001:db8:1::1
U2_4=198.51.100.27
U2_6=2001:db8:2::27
R_I2_4=198.51.100.17
R_I2_6=2001:db8:2::1
A4=192.0.2.1
A6=2001:db8:a::1
PREFIX4=192.0.2.0/24
PREFIX6=2001:db8:a::/48
# Unicast space of the instances: the client role's `responders` allowlist.
RESP4=198.51.100.0/24
RESP6=2001:db8::/46

# Devices: the client and the instances have eth0; the router has c0 (to the
# client), i1 (to inst1) and i2 (to inst2).
export LAB LAB_HOME LAB_STATE LAB_PORT LAB_PYTHON LAB_SLOW
export NS_CLIENT NS_ROUTER NS_INST1 NS_INST2
export C4 C6 R_C4 R_C6 U1_4 U1_6 R_I1_4 R_I1_6 U2_4 U2_6 R_I2_4 R_I2_6
export A4 A6 PREFIX4 PREFIX6 RESP4 RESP6

LAB_TOOLS="ip iptables ip6tables curl timeout sha256sum head ss"
LAB_FLIPS=0
LAB_DATA_SHA=
LAB_BG_PID=
LAB_DATAPATH=
LAB_DATAPATH_ACTIVE=
LAB_DATAPATH_WHY=
LAB_FAILED=0
LAB_CHECKS=0

lab_log() { printf 'lab: %s\n' "$*" >&2; }

# Print the tools (and python3) missing on this machine; empty when complete.
lab_missing_tools() {
	local t missing=
	for t in $LAB_TOOLS bash; do
		command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
	done
	command -v "$LAB_PYTHON" >/dev/null 2>&1 || missing="$missing python3"
	printf '%s' "${missing# }"
}

# lab_nsname client|router|inst1|inst2|<full name>
lab_nsname() {
	case $1 in
	"$LAB"*) printf '%s' "$1" ;;
	*) printf '%s%s' "$LAB" "$1" ;;
	esac
}

# lab_ns NAME CMD...: run CMD inside namespace NAME (short or full name).
lab_ns() {
	local ns
	ns=$(lab_nsname "$1")
	shift
	ip netns exec "$ns" "$@"
}

# lab_sysctl NAME key=value...: write sysctls inside a namespace, without
# depending on procps.
lab_sysctl() {
	lab_ns "$1" bash -c '
		for kv; do
			k=${kv%%=*}
			printf "%s\n" "${kv#*=}" > "/proc/sys/${k//.//}" || exit 1
		done' _ "${@:2}"
}

# ---------------------------------------------------------------------------
# Lifecycle

lab__namespaces() {
	ip netns list 2>/dev/null | while read -r n _; do
		case $n in "$LAB"*) printf '%s\n' "$n" ;; esac
	done
}

# Remove every namespace with our prefix and every process inside them.
# Idempotent; also cleans up after a run that was killed.
lab_down() {
	local ns pids i
	if [ -n "$LAB_DATAPATH_ACTIVE" ]; then
		LAB_DATAPATH_ACTIVE=
		datapath_stop >/dev/null 2>&1 || true
	fi
	lab__bg_stop_all
	for ns in $(lab__namespaces); do
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		if [ -n "$pids" ]; then
			# shellcheck disable=SC2086  # a list of pids, split on purpose
			kill $pids 2>/dev/null || true
			for i in 1 2 3 4 5 6 7 8 9 10; do
				pids=$(ip netns pids "$ns" 2>/dev/null || true)
				[ -z "$pids" ] && break
				sleep 0.1
			done
			if [ -n "$pids" ]; then
				# shellcheck disable=SC2086  # a list of pids, split on purpose
				kill -9 $pids 2>/dev/null || true
			fi
		fi
		ip netns del "$ns" 2>/dev/null || true
	done
	return 0
}

lab__on_exit() {
	local rc=$?
	trap - EXIT
	lab_down
	exit "$rc"
}

lab__topology() {
	local ns
	for ns in "$NS_CLIENT" "$NS_ROUTER" "$NS_INST1" "$NS_INST2"; do
		ip netns add "$ns" || return 1
		ip -n "$ns" link set lo up || return 1
		# Defaults first, so the veths created below inherit them: no
		# DAD (IPv6 usable at once), no reverse-path filter.
		lab_sysctl "$ns" net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0 \
			net.ipv6.conf.default.dad_transmits=0 \
			net.ipv6.conf.all.accept_ra=0 \
			net.ipv6.conf.default.accept_ra=0 \
			net.ipv4.conf.all.rp_filter=0 \
			net.ipv4.conf.default.rp_filter=0 || return 1
	done
	lab_sysctl "$NS_ROUTER" net.ipv4.ip_forward=1 \
		net.ipv6.conf.all.forwarding=1 || return 1

	ip -batch - <<-EOF || return 1
	link add c0 netns $NS_ROUTER type veth peer name eth0 netns $NS_CLIENT
	link add i1 netns $NS_ROUTER type veth peer name eth0 netns $NS_INST1
	link add i2 netns $NS_ROUTER type veth peer name eth0 netns $NS_INST2
	EOF

	ip -n "$NS_ROUTER" -batch - <<-EOF || return 1
	link set c0 up
	link set i1 up
	link set i2 up
	addr add $R_C4/24 dev c0
	addr add $R_C6/64 dev c0 nodad
	addr add $R_I1_4/28 dev i1
	addr add $R_I1_6/64 dev i1 nodad
	addr add $R_I2_4/28 dev i2
	addr add $R_I2_6/64 dev i2 nodad
	route replace $PREFIX4 via $U1_4 dev i1
	route replace $PREFIX6 via $U1_6 dev i1
	EOF

	ip -n "$NS_CLIENT" -batch - <<-EOF || return 1
	link set eth0 up
	addr add $C4/24 dev eth0
	addr add $C6/64 dev eth0 nodad
	route add default via $R_C4 dev eth0
	route add default via $R_C6 dev eth0
	EOF

	lab__instance "$NS_INST1" "$U1_4" "$U1_6" "$R_I1_4" "$R_I1_6" || return 1
	lab__instance "$NS_INST2" "$U2_4" "$U2_6" "$R_I2_4" "$R_I2_6" || return 1
	lab__counters || return 1
}

lab__instance() {
	ip -n "$1" -batch - <<-EOF
	link set eth0 up
	addr add $2/28 dev eth0
	addr add $3/64 dev eth0 nodad
	route add default via $4 dev eth0
	route add default via $5 dev eth0
	addr add $A4/32 dev lo
	addr add $A6/128 dev lo nodad
	EOF
}

# lab_up: a fresh lab (removes any previous one).  Installs an EXIT trap that
# runs lab_down (set LAB_NO_TRAP=1 to manage cleanup yourself) and turns
# SIGTERM/SIGINT/SIGHUP into a normal exit so the trap runs.
lab_up() {
	lab_down
	rm -rf "$LAB_STATE"
	mkdir -p "$LAB_STATE/log" || return 1
	: >"$LAB_STATE/pids"
	if [ "${LAB_NO_TRAP:-0}" != 1 ]; then
		trap lab__on_exit EXIT
		trap 'exit 143' TERM
		trap 'exit 130' INT
		trap 'exit 129' HUP
	fi
	if ! lab__topology; then
		lab_log "lab_up failed"
		return 1
	fi
}

# ---------------------------------------------------------------------------
# Background processes.  All of them run inside a lab namespace, so lab_down
# finds them with `ip netns pids` even if the PID file is lost.

# lab_bg NS NAME CMD...: start CMD in namespace NS, output to
# $LAB_STATE/log/NAME.log; sets LAB_BG_PID.
lab_bg() {
	local ns=$1 name=$2
	shift 2
	ip netns exec "$(lab_nsname "$ns")" "$@" \
		</dev/null >>"$LAB_STATE/log/$name.log" 2>&1 &
	LAB_BG_PID=$!
	printf '%s %s\n' "$LAB_BG_PID" "$name" >>"$LAB_STATE/pids"
}

# lab_bg_stop NAME: stop the background processes started under NAME.
lab_bg_stop() {
	local pid name keep=
	[ -f "$LAB_STATE/pids" ] || return 0
	while read -r pid name; do
		if [ "$name" = "$1" ]; then
			lab__kill_wait "$pid"
		else
			keep="$keep$pid $name"$'\n'
		fi
	done <"$LAB_STATE/pids"
	printf '%s' "$keep" >"$LAB_STATE/pids"
}

lab__bg_stop_all() {
	local pid name
	[ -f "$LAB_STATE/pids" ] || return 0
	while read -r pid name; do
		lab__kill_wait "$pid"
	done <"$LAB_STATE/pids"
	: >"$LAB_STATE/pids"
}

# Alive and not a zombie.
lab__alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# Our child (forked by lab_bg, maybe not yet inside its namespace).
lab__our_child() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	read -r _ stat _ <<<"$stat"
	[ "$stat" = "$BASHPID" ]
}

# Stop one of the background processes we started (SIGTERM, then SIGKILL
# after 1 s) and reap it if it is our child.  A PID that is neither in one
# of our namespaces nor our child is left alone (it may have been reused).
lab__kill_wait() {
	local i ns
	ns=$(ip netns identify "$1" 2>/dev/null) || ns=
	case $ns in
	"$LAB"?*) ;;
	*)
		if ! lab__our_child "$1"; then
			wait "$1" 2>/dev/null || true
			return 0
		fi
		;;
	esac
	kill "$1" 2>/dev/null || return 0
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		lab__alive "$1" || break
		sleep 0.05
	done
	if lab__alive "$1"; then
		kill -9 "$1" 2>/dev/null || true
	fi
	wait "$1" 2>/dev/null || true
}

# ---------------------------------------------------------------------------
# Waiting, with bounded timeouts.

# lab_wait_until SECONDS CMD...: retry CMD every 50 ms until it succeeds.
lab_wait_until() {
	local deadline=$((${EPOCHREALTIME/./} + $1 * 1000000))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ "${EPOCHREALTIME/./}" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

lab__listening() {
	[ -n "$(lab_ns "$1" ss -Hltn "sport = :$2")" ]
}

# lab_wait_listen NS PORT [SECONDS]: wait until something listens on TCP
# PORT in NS (checked with ss, without connecting).
lab_wait_listen() {
	lab_wait_until "${3:-5}" lab__listening "$1" "$2" || {
		lab_log "nothing listens on port $2 in $1 after ${3:-5} s"
		return 1
	}
}

lab__connects() {
	lab_ns "$1" timeout 1 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$2" "$3"
}

# lab_wait_tcp NS ADDR PORT [SECONDS]: wait until a TCP connection from NS
# to ADDR:PORT succeeds.
lab_wait_tcp() {
	lab_wait_until "${4:-5}" lab__connects "$1" "$2" "$3" || {
		lab_log "no TCP connection from $1 to $2 port $3 after ${4:-5} s"
		return 1
	}
}

# ---------------------------------------------------------------------------
# Routing of A on the router

lab__inst_nh() {
	case $1 in
	inst1) printf '%s %s i1' "$U1_4" "$U1_6" ;;
	inst2) printf '%s %s i2' "$U2_4" "$U2_6" ;;
	*) lab_log "unknown instance '$1' (inst1 or inst2)"; return 1 ;;
	esac
}

# lab_route_a INST: route A and A6 (their prefixes) to inst1 or inst2.
lab_route_a() {
	local nh4 nh6 dev
	read -r nh4 nh6 dev <<<"$(lab__inst_nh "$1")" || return 1
	[ -n "$dev" ] || return 1
	ip -n "$NS_ROUTER" -batch - <<-EOF
	route replace $PREFIX4 via $nh4 dev $dev
	route replace $PREFIX6 via $nh6 dev $dev
	EOF
}

# lab_route_a_where: which instance the router currently sends A to.
lab_route_a_where() {
	case $(ip -n "$NS_ROUTER" route get "$A4") in
	*" dev i1 "*) echo inst1 ;;
	*" dev i2 "*) echo inst2 ;;
	*) echo none ;;
	esac
}

# lab_flap_start INTERVAL_MS: flip A between inst1 and inst2 every
# INTERVAL_MS (first flip after one interval).  The number of flips so far
# is in $LAB_STATE/flips.
lab_flap_start() {
	local ms=${1:-100} first
	first=$(lab_route_a_where)
	[ "$first" = inst2 ] || first=inst1
	printf '0\n' >"$LAB_STATE/flips"
	cat >"$LAB_STATE/flap.sh" <<-EOF
	# Generated by lab_flap_start; runs inside $NS_ROUTER.
	n=0
	at=$first
	sp=
	trap 'kill \$sp 2>/dev/null; exit 0' TERM
	while :; do
		sleep $((ms / 1000)).$(printf '%03d' $((ms % 1000))) &
		sp=\$!
		wait \$sp
		if [ "\$at" = inst1 ]; then
			at=inst2
			printf 'route replace %s via %s dev i2\n' \\
				$PREFIX4 $U2_4 $PREFIX6 $U2_6 | ip -batch - || exit 1
		else
			at=inst1
			printf 'route replace %s via %s dev i1\n' \\
				$PREFIX4 $U1_4 $PREFIX6 $U1_6 | ip -batch - || exit 1
		fi
		n=\$((n + 1))
		printf '%s\n' "\$n" > "$LAB_STATE/flips"
	done
	EOF
	lab_bg router flap bash "$LAB_STATE/flap.sh"
}

# lab_flap_stop [INST]: stop flipping, route A to INST (default inst1) and
# set LAB_FLIPS to the number of flips done.
lab_flap_stop() {
	lab_bg_stop flap
	LAB_FLIPS=$(cat "$LAB_STATE/flips" 2>/dev/null || echo 0)
	lab_route_a "${1:-inst1}"
}

# lab_spread_on: spread packets to A/A6 per packet across both instances:
# in each family every other packet goes to inst1, the rest to inst2.  Linux
# multipath is per flow, so this is iptables nth + MARK and fwmark rules.
lab_spread_on() {
	local ipt pfx f
	lab_spread_off
	while read -r ipt pfx; do
		lab_ns router "$ipt" -w -t mangle -N LABSPREAD &&
		lab_ns router "$ipt" -w -t mangle -A PREROUTING -d "$pfx" \
			-j LABSPREAD &&
		lab_ns router "$ipt" -w -t mangle -A LABSPREAD \
			-j MARK --set-mark 0xa2 &&
		lab_ns router "$ipt" -w -t mangle -A LABSPREAD -m statistic \
			--mode nth --every 2 --packet 0 \
			-j MARK --set-mark 0xa1 || return 1
	done <<-EOF
	$LAB_IPT $PREFIX4
	$LAB_IP6T $PREFIX6
	EOF
	ip -n "$NS_ROUTER" -batch - <<-EOF || return 1
	route replace $PREFIX4 via $U1_4 dev i1 table 161
	route replace $PREFIX6 via $U1_6 dev i1 table 161
	route replace $PREFIX4 via $U2_4 dev i2 table 162
	route replace $PREFIX6 via $U2_6 dev i2 table 162
	EOF
	for f in -4 -6; do
		ip -n "$NS_ROUTER" "$f" rule add fwmark 0xa1 table 161 \
			pref 161 || return 1
		ip -n "$NS_ROUTER" "$f" rule add fwmark 0xa2 table 162 \
			pref 162 || return 1
	done
}

# lab_spread_off: back to plain routing of A (to where lab_route_a sent it).
lab_spread_off() {
	local ipt pfx f
	while read -r ipt pfx; do
		lab_ns router "$ipt" -w -t mangle -D PREROUTING -d "$pfx" \
			-j LABSPREAD 2>/dev/null || true
		lab_ns router "$ipt" -w -t mangle -F LABSPREAD 2>/dev/null || true
		lab_ns router "$ipt" -w -t mangle -X LABSPREAD 2>/dev/null || true
	done <<-EOF
	$LAB_IPT $PREFIX4
	$LAB_IP6T $PREFIX6
	EOF
	for f in -4 -6; do
		ip -n "$NS_ROUTER" "$f" rule del pref 161 2>/dev/null || true
		ip -n "$NS_ROUTER" "$f" rule del pref 162 2>/dev/null || true
	done
	return 0
}

# lab_withdraw inst1|inst2 [--addr]: stop routing A to that instance (the
# router sends A to the other one, also while spreading).  Like an anycast
# route withdrawal, the instance keeps A assigned, so connections pinned to
# its unicast address go on; with --addr A is also removed from it (the
# service is really gone there).
lab_withdraw() {
	local other nh4 nh6 dev t
	case $1 in
	inst1) other=inst2 t=161 ;;
	inst2) other=inst1 t=162 ;;
	*) lab_log "lab_withdraw: unknown instance '$1'"; return 1 ;;
	esac
	lab_route_a "$other" || return 1
	read -r nh4 nh6 dev <<<"$(lab__inst_nh "$other")"
	ip -n "$NS_ROUTER" -batch - <<-EOF || return 1
	route replace $PREFIX4 via $nh4 dev $dev table $t
	route replace $PREFIX6 via $nh6 dev $dev table $t
	EOF
	if [ "${2:-}" = --addr ]; then
		ip -n "$(lab_nsname "$1")" -batch - <<-EOF || return 1
		addr del $A4/32 dev lo
		addr del $A6/128 dev lo
		EOF
	fi
}

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

# ---------------------------------------------------------------------------
# HTTP service (tests/lab/httpd.py) on port $LAB_PORT of every address of
# both instances (A, A6, U1, U2...):
#   /data.bin  LAB_FILE_MB MiB of random bytes, identical on both instances;
#              its sha256 is in $LAB_DATA_SHA (and $LAB_STATE/data.sha256)
#   /whoami    "inst1" or "inst2" (every response also carries the header
#              X-Lab-Instance)
#   ?rate=N    paces a response to N bytes/s on the server side, so the
#              connection has packets in flight all along

# lab_serve [SIZE]: SIZE in MiB, or in KiB with the suffix K (256K)
lab_serve() {
	local mb=${1:-$LAB_FILE_MB} i
	case $mb in
	*K) LAB_DATA_BYTES=$((${mb%K} * 1024)) ;;
	*) LAB_DATA_BYTES=$((mb * 1024 * 1024)) ;;
	esac
	mkdir -p "$LAB_STATE/www" || return 1
	head -c "$LAB_DATA_BYTES" /dev/urandom >"$LAB_STATE/www/data.bin" ||
		return 1
	LAB_DATA_SHA=$(sha256sum <"$LAB_STATE/www/data.bin") || return 1
	LAB_DATA_SHA=${LAB_DATA_SHA%% *}
	printf '%s\n' "$LAB_DATA_SHA" >"$LAB_STATE/data.sha256"
	for i in inst1 inst2; do
		mkdir -p "$LAB_STATE/www-$i" || return 1
		ln -f "$LAB_STATE/www/data.bin" "$LAB_STATE/www-$i/data.bin" ||
			return 1
		printf '%s\n' "$i" >"$LAB_STATE/www-$i/whoami"
		lab_bg "$i" "http-$i" "$LAB_PYTHON" "$LAB_HOME/httpd.py" \
			--port "$LAB_PORT" --name "$i" "$LAB_STATE/www-$i"
	done
	lab_wait_listen inst1 "$LAB_PORT" "${LAB_SERVE_WAIT:-30}" &&
		lab_wait_listen inst2 "$LAB_PORT" "${LAB_SERVE_WAIT:-30}"
}

# lab_url ADDR [PATH]
lab_url() {
	case $1 in
	*:*) printf 'http://[%s]:%s/%s' "$1" "$LAB_PORT" "${2:-}" ;;
	*) printf 'http://%s:%s/%s' "$1" "$LAB_PORT" "${2:-}" ;;
	esac
}

# lab_whoami ADDR: which instance serves a new connection from the client to
# ADDR (prints inst1, inst2, or nothing on failure).
lab_whoami() {
	lab_ns client curl -sS -g --max-time 3 "$(lab_url "$1" whoami)"
}

# lab_fetch NAME URL [CURL-ARGS...]: download URL from the client into
# $LAB_STATE/NAME.out (may run in the background).  The result goes to
# $LAB_STATE/NAME.res; read it with lab_fetch_result.
lab_fetch() {
	local name=$1 url=$2 t0 t1 rc=0
	shift 2
	t0=${EPOCHREALTIME/./}
	lab_ns client curl -sS -g -o "$LAB_STATE/$name.out" "$@" "$url" \
		2>"$LAB_STATE/$name.err" || rc=$?
	t1=${EPOCHREALTIME/./}
	{
		printf 'FETCH_EXIT=%s\n' "$rc"
		printf 'FETCH_US=%s\n' "$((t1 - t0))"
	} >"$LAB_STATE/$name.res"
}

# lab_fetch_ttfb NAME URL [CURL-ARGS...]: lab_fetch that also notes
# curl's time to the first byte of the response (time_starttransfer: from
# the start, through the handshake, to the first byte), which
# lab_fetch_result puts in FETCH_TTFB_US.
lab_fetch_ttfb() {
	lab_fetch "$@" -w '%{time_starttransfer}' >"$LAB_STATE/$1.ttfb"
}

# lab__us SECONDS: "1.234567" (curl's times) in microseconds.
lab__us() {
	local s=${1//,/.} i f=
	i=${s%%.*}
	[ "$i" = "$s" ] || f=${s#*.}
	f=${f}000000
	f=${f:0:6}
	case $i$f in '' | *[!0-9]*) return 1 ;; esac
	printf '%d\n' $((10#$i * 1000000 + 10#$f))
}

# lab_ms MICROSECONDS: milliseconds with one decimal ("1012.3").
lab_ms() {
	printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100))
}

# lab_fetch_result NAME: sets FETCH_EXIT, FETCH_SECS ("1.2"), FETCH_BYTES,
# FETCH_SHA, FETCH_ERR (curl's message), FETCH_EXACT (1 when the bytes
# are exactly the served data.bin) and, after lab_fetch_ttfb,
# FETCH_TTFB_US (empty when unknown).
lab_fetch_result() {
	local FETCH_US=0
	FETCH_EXIT=255
	FETCH_TTFB_US=
	# shellcheck disable=SC1090  # a .res file the download wrote
	[ -f "$LAB_STATE/$1.res" ] && . "$LAB_STATE/$1.res"
	if [ -s "$LAB_STATE/$1.ttfb" ]; then
		FETCH_TTFB_US=$(lab__us "$(cat "$LAB_STATE/$1.ttfb")") ||
			FETCH_TTFB_US=
	fi
	rm -f "$LAB_STATE/$1.ttfb"
	FETCH_SECS=$(printf '%d.%d' $((FETCH_US / 1000000)) \
		$((FETCH_US % 1000000 / 100000)))
	FETCH_BYTES=$(stat -c %s "$LAB_STATE/$1.out" 2>/dev/null || echo 0)
	FETCH_SHA=$(sha256sum 2>/dev/null <"$LAB_STATE/$1.out") || FETCH_SHA=
	FETCH_SHA=${FETCH_SHA%% *}
	FETCH_ERR=$(head -n 1 "$LAB_STATE/$1.err" 2>/dev/null || true)
	FETCH_ERR=${FETCH_ERR#curl: }
	FETCH_ERR=${FETCH_ERR#\(*\) }
	FETCH_EXACT=0
	if [ "$FETCH_EXIT" = 0 ] && [ -n "$LAB_DATA_SHA" ] &&
		[ "$FETCH_SHA" = "$LAB_DATA_SHA" ]; then
		FETCH_EXACT=1
	fi
	rm -f "$LAB_STATE/$1.out"
}

# lab_fetch_bg NAME URL [CURL-ARGS...]: lab_fetch in the background; its PID
# is added to LAB_FETCH_PIDS (lab_fetch_wait waits for all of them).
LAB_FETCH_PIDS=
lab_fetch_bg() {
	lab_fetch "$@" &
	LAB_FETCH_PIDS="$LAB_FETCH_PIDS $!"
}

# lab_fetch_wait: wait for every lab_fetch_bg/lab_upload_bg started so far.
lab_fetch_wait() {
	local p
	for p in $LAB_FETCH_PIDS; do
		wait "$p" 2>/dev/null || true
	done
	LAB_FETCH_PIDS=
}

# lab_fetch_bytes NAME: bytes a running (or finished) fetch has so far.
lab_fetch_bytes() {
	stat -c %s "$LAB_STATE/$1.out" 2>/dev/null || echo 0
}

lab__out_ge() {
	[ "$(stat -c %s "$LAB_STATE/$1.out" 2>/dev/null || echo 0)" -ge "$2" ]
}

lab__out_ge_or_done() {
	[ -e "$LAB_STATE/$1.res" ] || lab__out_ge "$1" "$2"
}

# lab_fetch_wait_bytes NAME BYTES [SECONDS]: wait until a running fetch has
# received at least BYTES (default bound 5 s); fails if it ended before or
# the time is up.  For uploads (lab_upload_bg) see lab_upload_wait_bytes.
lab_fetch_wait_bytes() {
	lab_wait_until "${3:-5}" lab__out_ge_or_done "$1" "$2"
	lab__out_ge "$1" "$2"
}

# lab_mib BYTES: "1.5" (MiB, one decimal, rounded down).
lab_mib() {
	printf '%d.%d' $(($1 / 1048576)) $(($1 % 1048576 * 10 / 1048576))
}

# lab_fetch_describe: what went wrong (or right) with the last
# lab_fetch_result, in words, for a PASS/FAIL detail.
lab_fetch_describe() {
	if [ "$FETCH_EXIT" != 0 ]; then
		printf 'curl exit %s after %s s: %s; %s of %s MB arrived' \
			"$FETCH_EXIT" "$FETCH_SECS" "${FETCH_ERR:-no message}" \
			"$(lab_mib "$FETCH_BYTES")" "$(lab_mib "${LAB_DATA_BYTES:-0}")"
	elif [ "$FETCH_EXACT" = 1 ]; then
		printf '%s MB byte-exact in %s s' "$(lab_mib "$FETCH_BYTES")" \
			"$FETCH_SECS"
	else
		printf 'complete after %s s but %s bytes, sha256 %.12s, expected %.12s' \
			"$FETCH_SECS" "$FETCH_BYTES" "$FETCH_SHA" "$LAB_DATA_SHA"
	fi
}

# ---------------------------------------------------------------------------
# Upload sink (tests/lab/tools/sink.py) on port $LAB_SINK_PORT (8081) of
# both instances: PUT/POST a body, get back "SHA256 BYTES INSTANCE";
# ?rate=N paces the server's reading.

LAB_SINK_PORT=${LAB_SINK_PORT:-8081}

# lab_sink_serve: start the sinks (after lab_serve, which makes data.bin).
lab_sink_serve() {
	local i
	for i in inst1 inst2; do
		lab_bg "$i" "sink-$i" "$LAB_PYTHON" "$LAB_HOME/tools/sink.py" \
			--port "$LAB_SINK_PORT" --name "$i"
	done
	lab_wait_listen inst1 "$LAB_SINK_PORT" "${LAB_SERVE_WAIT:-30}" &&
		lab_wait_listen inst2 "$LAB_SINK_PORT" "${LAB_SERVE_WAIT:-30}"
}

# lab_sink_url ADDR [QUERY]
lab_sink_url() {
	case $1 in
	*:*) printf 'http://[%s]:%s/up%s' "$1" "$LAB_SINK_PORT" "${2:+?$2}" ;;
	*) printf 'http://%s:%s/up%s' "$1" "$LAB_SINK_PORT" "${2:+?$2}" ;;
	esac
}

# lab_upload NAME URL [CURL-ARGS...]: upload data.bin from the client to
# URL (a lab_sink_url); read the outcome with lab_upload_result NAME.
lab_upload() {
	local name=$1 url=$2
	shift 2
	lab_fetch "$name" "$url" -H 'Expect:' \
		--upload-file "$LAB_STATE/www/data.bin" "$@"
}

lab__acked_ge() {
	local n
	n=$(lab_ns client ss "-$1" -Htni state established \
		"dport = :$LAB_SINK_PORT" | grep -o 'bytes_acked:[0-9]*' |
		sort -t: -k2 -n | tail -n 1)
	[ "${n#bytes_acked:}" -ge "$2" ] 2>/dev/null
}

lab__acked_ge_or_done() {
	[ -e "$LAB_STATE/$1.res" ] || lab__acked_ge "$2" "$3"
}

# lab_upload_wait_bytes NAME 4|6 BYTES [SECONDS]: wait until the upload
# NAME (of that family; one at a time per family) has had BYTES
# acknowledged (default bound 5 s); fails if it ended first or time is up.
lab_upload_wait_bytes() {
	lab_wait_until "${4:-5}" lab__acked_ge_or_done "$1" "$2" "$3" &&
		[ ! -e "$LAB_STATE/$1.res" ]
}

# lab_upload_bg NAME URL [CURL-ARGS...]: lab_upload in the background.
lab_upload_bg() {
	lab_upload "$@" &
	LAB_FETCH_PIDS="$LAB_FETCH_PIDS $!"
}

# lab_upload_result NAME: sets FETCH_EXIT, FETCH_SECS, FETCH_ERR (as
# lab_fetch_result), UPLOAD_BYTES (bytes the sink got, 0 if no answer),
# UPLOAD_INST (the sink's instance) and FETCH_EXACT (1 when the sink got
# exactly data.bin); FETCH_BYTES = UPLOAD_BYTES, so lab_fetch_describe works.
lab_upload_result() {
	local sha='' n='' inst=''
	if [ -s "$LAB_STATE/$1.out" ]; then
		read -r sha n inst <"$LAB_STATE/$1.out" || true
	fi
	lab_fetch_result "$1"
	UPLOAD_BYTES=${n:-0}
	UPLOAD_INST=${inst:-}
	FETCH_BYTES=$UPLOAD_BYTES
	FETCH_EXACT=0
	if [ "$FETCH_EXIT" = 0 ] && [ -n "$LAB_DATA_SHA" ] &&
		[ "$sha" = "$LAB_DATA_SHA" ]; then
		FETCH_EXACT=1
	fi
}

# ---------------------------------------------------------------------------
# anypin configuration for the lab (the sysctl.d syntax of DESIGN.md, which
# both datapaths read): lab_anypin_conf client|inst1|inst2 [LINE...]
#
# Scenarios shape it through two variables, read when a datapath calls
# lab_anypin_conf (i.e. at lab_datapath_start / lab_datapath_restart):
#   LAB_ANYPIN_LEGACY  hosts that run without anypin ("inst2", "client"...):
#                      their configuration has no prefixes at all, so the
#                      datapath passes everything (a legacy server/client)
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
		local u4=$U1_4 u6=$U1_6
		[ "$h" = inst2 ] && u4=$U2_4 && u6=$U2_6
		printf 'net.anypin.prefix.any4.role = responder\n'
		printf 'net.anypin.prefix.any4.unicast = %s\n' "$u4"
		printf 'net.anypin.prefix.any6.role = responder\n'
		printf 'net.anypin.prefix.any6.unicast = %s\n' "$u6"
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
# "none" is the baseline (no anypin).

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
		datapath_blackholes_flush
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

# ---------------------------------------------------------------------------
# Results

lab_pass() {
	LAB_CHECKS=$((LAB_CHECKS + 1))
	printf 'PASS %s: %s\n' "$1" "$2"
}

lab_fail() {
	LAB_CHECKS=$((LAB_CHECKS + 1))
	LAB_FAILED=$((LAB_FAILED + 1))
	printf 'FAIL %s: %s\n' "$1" "$2"
}

# lab_done: end of a scenario: tells the runner it completed, exits 0 if all
# checks passed, 1 otherwise (the EXIT trap then tears the lab down).
lab_done() {
	if [ -n "${LAB_DONE_MARK:-}" ]; then
		: >"$LAB_DONE_MARK"
	fi
	[ "$LAB_FAILED" = 0 ] && exit 0
	exit 1
}
