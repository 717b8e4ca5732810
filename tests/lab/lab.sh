# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck shell=bash disable=SC2016,SC2034
# (SC2034: the variables are for the scripts sourcing this; SC2016: bash -c
# scripts get their values as arguments.)
#
# The anypin network-namespace lab: a library sourced by the scenarios in
# tests/lab/scenarios/, by the runner tests/lab/run, by the VM harness and by
# the benchmarks.  It needs only bash, coreutils, iproute2, iptables/ip6tables,
# nft and python3, so it runs the same on the host and inside a qemu guest.
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
# Whether scenarios run their "without anypin" halves (lab_plain);
# ANYPIN_LAB_PLAIN reaches the guest like ANYPIN_LAB_SLOW (tests/vm/check
# passes 0 unless VM_PLAIN says otherwise).
LAB_PLAIN=${LAB_PLAIN:-${ANYPIN_LAB_PLAIN:-1}}
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
export LAB LAB_HOME LAB_STATE LAB_PORT LAB_PYTHON LAB_SLOW LAB_PLAIN
export NS_CLIENT NS_ROUTER NS_INST1 NS_INST2
export C4 C6 R_C4 R_C6 U1_4 U1_6 R_I1_4 R_I1_6 U2_4 U2_6 R_I2_4 R_I2_6
export A4 A6 PREFIX4 PREFIX6 RESP4 RESP6

# (nft: anypind keeps its own nftables table; scenarios read it with nft.)
LAB_TOOLS="ip iptables ip6tables nft curl timeout sha256sum head ss"
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
# The rest, one file per job (tests/lab/lib/):
#   topology.sh   the namespaces, links and addresses; lab_up, lab_down
#   processes.sh  background processes in the namespaces; bounded waits
#   routing.sh    where the router sends A: lab_route_a, flapping,
#                 per-packet spreading, withdrawal
#   counters.sh   the router's packet counters (lab_count...)
#   traffic.sh    the HTTP service, downloads, uploads (lab_serve,
#                 lab_fetch..., lab_upload...)
#   datapaths.sh  anypin's configuration of each host, the datapaths
#                 (tests/lab/datapath/), their counters and blackholes

# shellcheck source=tests/lab/lib/topology.sh
. "$LAB_HOME/lib/topology.sh"
# shellcheck source=tests/lab/lib/processes.sh
. "$LAB_HOME/lib/processes.sh"
# shellcheck source=tests/lab/lib/routing.sh
. "$LAB_HOME/lib/routing.sh"
# shellcheck source=tests/lab/lib/counters.sh
. "$LAB_HOME/lib/counters.sh"
# shellcheck source=tests/lab/lib/traffic.sh
. "$LAB_HOME/lib/traffic.sh"
# shellcheck source=tests/lab/lib/datapaths.sh
. "$LAB_HOME/lib/datapaths.sh"

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
