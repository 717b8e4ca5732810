#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# One run of `make demo` (tests/demo/run): in a fresh lab (tests/lab/,
# namespaces demo-*), the client downloads the lab's data file from the
# anycast address A; once a fifth of it has arrived, the router flips A
# between inst1 and inst2 every DEMO_FLAP_MS (100) ms until it ends.
#
#   tests/demo/one.sh [-o DIR] none|anypind|kmod|second
#
# none runs without anypin, the others with that datapath (kmod: in the VM,
# tests/vm/run -- tests/demo/one.sh kmod).  second is anypin.ko's second
# chance (docs/second-chance.md, in the VM too): the client runs no
# anypin, both instances are responders with instance ids and each other
# as peers.  tests/demo/timeline.py does
# the flips and samples the bytes received into DIR/DATAPATH.dat and the
# flips into DIR/DATAPATH.flips; with a datapath, `anypinctl flows` of the
# client (second: `anypinctl stats` of inst2, its second-chance columns)
# is shown a few flips in (and kept in DIR/DATAPATH.flows).  The
# outcome is checked (sha256 of the whole file), printed as one line and
# written to DIR/DATAPATH.res (shell variables, for the driver's table).
# DIR: $ANYPIN_VM_OUT in the VM, else build/demo.
#
# Exit status: 0 if the outcome is the expected one (none breaks, after a
# flip; a datapath delivers the file byte-exact through at least 2 flips,
# its client flow bound to an instance; second: byte-exact through at
# least 2 flips, inst2 forwarded segments to inst1), 1 if not, 2 if it
# could not run.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${ANYPIN_VM_OUT:-$repo/build/demo}
if [ "${1:-}" = -o ]; then
	out=$2
	shift 2
fi
dp=${1:-}
case $dp in
none | anypind | kmod | second) ;;
*) echo "usage: $0 [-o DIR] none|anypind|kmod|second" >&2; exit 2 ;;
esac
# The datapath under the run: second is the module's.
datapath=$dp
[ "$dp" != second ] || datapath=kmod
mkdir -p "$out"
out=$(cd "$out" && pwd)

export LAB=${DEMO_LAB:-demo-}
# shellcheck source=../lab/lab.sh
. "$repo/tests/lab/lab.sh"

# A few seconds of download (about 4 s), slower where the machine is
# (LAB_SLOW: 4 in the VM), paced by the server so the connection carries
# packets all along (see tests/lab/scenarios/route_flap.sh).
MB=${DEMO_MB:-$((20 / LAB_SLOW))}
RATE=${DEMO_RATE:-$((5000000 / LAB_SLOW))}
MS=${DEMO_FLAP_MS:-100}
# A stall (< 1 KiB/s for 3 s) or the overall bound ends the download.
CURL_ARGS=(--max-time "$((30 * LAB_SLOW))" --speed-limit 1024 --speed-time 3)
ANYPINCTL=${ANYPINCTL:-$repo/build/anypinctl}

dat=$out/$dp.dat
fliplog=$out/$dp.flips
flows=$out/$dp.flows
res=$out/$dp.res
rm -f "$dat" "$fliplog" "$flows" "$flows.at" "$flows.tmp" "$res"

say() { printf 'demo %s: %s\n' "$dp" "$*"; }

# n_flips N: "1 flip", "2 flips".
n_flips() {
	if [ "$1" = 1 ]; then printf '1 flip'; else printf '%s flips' "$1"; fi
}

# result OUTCOME LINE: the .res file for the driver, then the outcome line.
result() {
	{
		printf 'DEMO_DP=%q\n' "$dp"
		printf 'DEMO_OUTCOME=%q\n' "$1"
		printf 'DEMO_LINE=%q\n' "$2"
		printf 'DEMO_BYTES=%q\n' "${FETCH_BYTES:-0}"
		printf 'DEMO_TOTAL=%q\n' "$((MB * 1048576))"
		printf 'DEMO_SECS=%q\n' "${FETCH_SECS:-0}"
		printf 'DEMO_FLIPS=%q\n' "${flips:-0}"
		printf 'DEMO_RSTS=%q\n' "${rsts:-}"
		printf 'DEMO_PINNED=%q\n' "${pinned:--}"
		printf 'DEMO_WHERE=%q\n' "${where:-}"
		printf 'DEMO_MS=%q\n' "$MS"
	} >"$res"
	say "$2"
	[ -z "${where:-}" ] || say "$where"
}

# flows_cmd: `anypinctl flows` in the client's namespace, for the module
# or for the client's anypind; second: `anypinctl stats` in inst2's.
flows_cmd() {
	case $dp in
	kmod) printf 'ip netns exec %s %s --module flows' "$NS_CLIENT" "$ANYPINCTL" ;;
	second) printf 'ip netns exec %s %s --module stats' "$NS_INST2" "$ANYPINCTL" ;;
	anypind) printf 'ip netns exec %s %s --anypind -s %s flows' "$NS_CLIENT" \
		"$ANYPINCTL" "$(anypind_sock client)" ;;
	esac
}

# show_flows: what flows_cmd printed (tests/demo/timeline.py runs it at
# the fourth flip; here if it did not), into $flows and on stdout.
show_flows() {
	local when='after the download' t n cmd
	if [ -e "$flows" ]; then
		read -r t n <"$flows.at" && when="$t s into the download, $n flips in"
	else
		read -r -a cmd <<<"$(flows_cmd)"
		"${cmd[@]}" >"$flows" 2>&1 || true
	fi
	say "$(flows_cmd | sed "s|$repo/||")  ($when):"
	if [ "$dp" = second ]; then
		sc_columns <"$flows"
	else
		cat "$flows"
	fi | sed 's/^/    /'
}

# sc_columns: of `anypinctl stats`, the prefix and the second chance's
# columns (the whole table is wide); other lines as they are.
sc_columns() {
	# shellcheck disable=SC2016  # an awk program
	awk '
		/^#/ || NF < 2 { print; next }
		!h { for (i = 1; i <= NF; i++) if (i == 1 || $i ~ /^sc_/) keep[++n] = i; h = 1 }
		{ l = ""; for (j = 1; j <= n; j++) l = l sprintf("%-14s", $keep[j]); print l }'
}

# sc_count NS COUNTER: COUNTER of the row total of NS's /proc/net/anypin/stats.
sc_count() {
	# shellcheck disable=SC2016  # an awk program
	lab_ns "$1" awk -v c="$2" '
		NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i }
		$1 == "total" { print $col[c] + 0 }' /proc/net/anypin/stats
}

# pinned_to: the client flow's unicast address in $flows, as
# "inst1 (198.51.100.11)"; empty if no flow was bound (bound, or closing
# when the download ended before the table was read).
pinned_to() {
	local u
	u=$(awk '$1 == "client" && $8 ~ /^[0-9a-f:.]+$/ { print $8; exit }' \
		"$flows" 2>/dev/null)
	case $u in
	"") ;;
	"$U1_4" | "$U1_6") printf 'inst1 (%s)' "$u" ;;
	"$U2_4" | "$U2_6") printf 'inst2 (%s)' "$u" ;;
	*) printf '%s' "$u" ;;
	esac
}

flows_or_done() {
	[ -e "$flows" ] || [ -e "$LAB_STATE/$name.res" ]
}

# counters: the router's packet counters (lab.sh's LABCNT chain, IPv4) in
# one listing: sets rst1 rst2 a1 a2 u1 u2.
counters() {
	local t
	t=$(lab_ns router "$LAB_IPT" -w -nvxL LABCNT) || return 1
	c() { awk -v n="/* $1 */" 'index($0, n) { s += $1 } END { print s + 0 }' <<<"$t"; }
	rst1=$(c rst-from-inst1) rst2=$(c rst-from-inst2)
	a1=$(c a-to-inst1) a2=$(c a-to-inst2) u1=$(c u-to-inst1) u2=$(c u-to-inst2)
}

if ! lab_datapath_use "$datapath"; then
	result skipped "cannot run here: $LAB_DATAPATH_WHY"
	exit 2
fi
[ -z "$(lab_missing_tools)" ] ||
	{ result skipped "cannot run here: missing $(lab_missing_tools)"; exit 2; }

lab_up
name=demo-$dp
# The flips and the samples (tests/demo/timeline.py), started first as
# python takes seconds to start in the VM; the download starts on its GO.
fargs=()
[ "$dp" = none ] || fargs=(--flows-cmd "$(flows_cmd)" --flows "$flows")
lab_bg router timeline "$LAB_PYTHON" "$here/timeline.py" --router "$NS_ROUTER" \
	--route1 "route replace $PREFIX4 via $U1_4 dev i1; route replace $PREFIX6 via $U1_6 dev i1" \
	--route2 "route replace $PREFIX4 via $U2_4 dev i2; route replace $PREFIX6 via $U2_6 dev i2" \
	--flip-ms "$MS" --lead "$((MB * 1048576 / 5))" \
	--ready "$LAB_STATE/demo.ready" --go "$LAB_STATE/demo.go" \
	--out "$LAB_STATE/$name.out" --done "$LAB_STATE/$name.res" \
	--dat "$dat" --fliplog "$fliplog" "${fargs[@]}" --limit "$((120 * LAB_SLOW))"
timeline_pid=$LAB_BG_PID
lab_serve "$MB"
if [ "$dp" = second ]; then
	LAB_ANYPIN_LEGACY=client LAB_ANYPIN_SECOND=1 lab_datapath_start
else
	lab_datapath_start
fi
lab_count_zero
[ "$dp" = none ] || [ -x "$ANYPINCTL" ] ||
	{ result skipped "$ANYPINCTL is not built (make userspace)"; exit 2; }

url=$(lab_url "$A4" "data.bin?rate=$RATE")
say "downloading $MB MB from A=$A4 at $RATE bytes/s; once a fifth has arrived, A flips between inst1 and inst2 every $MS ms"
lab_wait_until "$((30 * LAB_SLOW))" test -e "$LAB_STATE/demo.ready" ||
	{ result wrong "tests/demo/timeline.py did not start: $(cat "$LAB_STATE/log/timeline.log")"; exit 1; }
t0=$EPOCHREALTIME
printf '%s\n' "$t0" >"$LAB_STATE/demo.go"
# second: which instance served it (tests/lab/httpd.py's X-Lab-Instance).
[ "$dp" != second ] || CURL_ARGS+=(-D "$LAB_STATE/$name.hdr")
lab_fetch "$name" "$url" "${CURL_ARGS[@]}" &
fetch_pid=$!
shown=
if [ "$dp" != none ]; then
	lab_wait_until "$((60 * LAB_SLOW))" flows_or_done || true
	[ ! -e "$flows" ] || { show_flows; shown=1; }
fi
wait "$fetch_pid" || true
trc=0
wait "$timeline_pid" || trc=$?
[ "$dp" = none ] || [ -n "$shown" ] || show_flows
lab_route_a inst1
lab_fetch_result "$name"
flips=0
[ ! -s "$fliplog" ] || flips=$(wc -l <"$fliplog")
counters
case $rst1:$rst2 in
0:0) rsts='no RST seen' ;;
0:*) rsts="$rst2 RST from inst2" ;;
*:0) rsts="$rst1 RST from inst1" ;;
*) rsts="RSTs from inst1/inst2: $rst1/$rst2" ;;
esac
where="the router forwarded $a1/$a2 packets to A at inst1/inst2, $u1/$u2 to U1/U2"
pinned=
case $dp in
none) ;;
second)
	served=$(sed -n 's/^X-Lab-Instance: *\([a-z0-9]*\).*/\1/p' "$LAB_STATE/$name.hdr" 2>/dev/null | head -n 1) || true
	fw=$(sc_count inst2 sc_forwarded) tu=$(sc_count inst1 sc_tunnel)
	st=$(sc_count inst1 sc_stamped)
	pinned="${served:-?} (second chance)"
	where="$where; inst2 forwarded $fw segments to U1 in IP-in-IP, inst1 took $tu out of the tunnel and stamped $st"
	;;
*) pinned=$(pinned_to) ;;
esac
if [ "$trc" != 0 ]; then
	result wrong "tests/demo/timeline.py failed (status $trc): $(cat "$LAB_STATE/log/timeline.log")"
	exit 1
fi

got=$(lab_mib "$FETCH_BYTES")
# Times on the timeline's clock (since curl started), as in the picture.
FETCH_SECS=$(awk 'END { printf "%.2f", $1 }' "$dat")
first_flip=$(awk 'NR == 1 { printf "%.2f", $1 }' "$fliplog" 2>/dev/null)
if [ "$dp" = none ]; then
	if [ "$FETCH_EXACT" = 1 ]; then
		result wrong "byte-exact in $FETCH_SECS s despite $(n_flips "$flips"): the demo proves nothing"
		exit 1
	elif [ "$flips" = 0 ]; then
		result wrong "broke before any flip ($(lab_fetch_describe)): the lab is broken"
		exit 1
	fi
	result broke "broke after $FETCH_SECS s (first flip at $first_flip s), with $got of $MB MB: ${FETCH_ERR:-curl exit $FETCH_EXIT}; $rsts"
	exit 0
fi
if [ "$FETCH_EXACT" != 1 ]; then
	result wrong "$(lab_fetch_describe); $(n_flips "$flips"), $rsts"
	exit 1
elif [ "$flips" -lt 2 ]; then
	result wrong "byte-exact, but only $(n_flips "$flips") during the download: it proves nothing"
	exit 1
elif [ "$dp" = second ]; then
	if [ "${fw:-0}" = 0 ]; then
		result wrong "byte-exact through $flips flips, but inst2 forwarded nothing: it proves nothing"
		exit 1
	fi
	result exact "byte-exact $got MB in $FETCH_SECS s through $flips flips, served by ${served:-?} (second chance); $rsts"
	exit 0
elif [ -z "$pinned" ]; then
	result wrong "byte-exact through $flips flips, but the flows table showed no client flow bound to a unicast address (see $flows)"
	exit 1
fi
result exact "byte-exact $got MB in $FETCH_SECS s through $flips flips, pinned to $pinned; $rsts"
