#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# Same stats: one piece of traffic whose counters depend on nothing but
# the datapath's decisions, and each host's `anypinctl stats --json`
# afterwards. A is routed to inst1; N short connections (an HTTP request
# each) over IPv4 and as many over IPv6
#
#   from the client   capable SYNs to A, pinned to U1 with anypin
#   from the router   which runs no anypin: plain SYNs that inst1's
#                     responder role answers as legacy ones
#
# one after the other. Entries live an hour after FIN (fin_timeout), so
# the table holds every flow when the counters are read.
#
#   without anypin   the client's connections go to A: inst1 answers,
#                    the router forwards nothing to U1
#   with DATAPATH    they go to U1: inst1 answers, at most the SYNs to A;
#                    each host's `anypinctl stats --json` is JSON with the
#                    rows any4, any6 and total, and the client counts N
#                    SYNs, options and bound flows per family at least,
#                    inst1 N capable SYNs answered from U1
#
# With LAB_STATS_DIR set, each host's JSON is saved as
# $LAB_STATS_DIR/DATAPATH/HOST.json: `make check` keeps anypind's from
# this host's lab and the module's from the VM's (tests/vm/kmod_lab.sh),
# and tests/lab/compare-stats compares them counter by counter.

set -euo pipefail
# shellcheck source=../lab.sh
. "$(dirname "$0")/../lab.sh"

N=${SAME_STATS_N:-3}
LAB_ANYPIN_EXTRA="net.anypin.fin_timeout = 3600"

# connect: the traffic; sets who_c (instances that answered the client,
# one word a connection) and who_r (the router's).
connect() {
	local f a i
	who_c='' who_r=''
	for f in 4 6; do
		a=A$f
		for ((i = 0; i < N; i++)); do
			who_c="$who_c $(lab_whoami "${!a}" || echo none)"
		done
		for ((i = 0; i < N; i++)); do
			who_r="$who_r $(lab_ns router curl -sS -g --max-time 3 \
				"$(lab_url "${!a}" whoami)" 2>/dev/null || echo none)"
		done
	done
}

# all_inst1 WORDS: every connection (2N words) answered by inst1.
all_inst1() {
	local w n=0 words
	read -r -a words <<<"$1"
	for w in "${words[@]}"; do
		[ "$w" = inst1 ] && n=$((n + 1))
	done
	[ "$n" = $((2 * N)) ] && [ "${#words[@]}" = $((2 * N)) ]
}

# check_json HOST=FILE...: each FILE (HOST's anypinctl stats --json) holds
# the rows any4, any6 and total, the client's count at least N SYNs,
# options added and flows bound per family, inst1's N capable SYNs
# answered; prints what is wrong and fails if anything is.
check_json() {
	"$LAB_PYTHON" - "$N" "$@" <<-'PY'
	import json, sys
	n, args = int(sys.argv[1]), sys.argv[2:]
	bad = []
	for arg in args:
	    host, path = arg.split("=", 1)
	    try:
	        d = json.load(open(path))
	        rows = {r["prefix"]: r for r in d["prefixes"]}
	        rows["total"] = d["total"]
	    except (OSError, ValueError, KeyError, TypeError) as e:
	        bad.append("%s: not the JSON of anypinctl stats (%s)" % (host, e))
	        continue
	    missing = [p for p in ("any4", "any6", "total") if p not in rows]
	    if missing:
	        bad.append("%s: no row %s" % (host, " ".join(missing)))
	        continue
	    want = {"client": ("syn", "opt_added", "bound"), "inst1": ("resp_syn",)}
	    for c in want.get(host, ()):
	        for p in ("any4", "any6"):
	            if rows[p].get(c, -1) < n:
	                bad.append("%s %s %s = %s, expected %d or more" % (host, p, c, rows[p].get(c), n))
	print("; ".join(bad))
	sys.exit(1 if bad else 0)
	PY
}

lab_up
lab_serve 256K

if lab_plain; then
	connect
	if ! all_inst1 "$who_c" || ! all_inst1 "$who_r"; then
		lab_fail "same-stats without anypin" "expected inst1 to answer every connection: client got$who_c, router got$who_r"
	elif [ "$(lab_count u-to-inst1)" != 0 ]; then
		lab_fail "same-stats without anypin" "$(lab_count u-to-inst1) packets to U1 without anypin"
	else
		lab_pass "same-stats without anypin" "$((2 * N)) connections from the client and $((2 * N)) from the router answered by inst1 at A; nothing to U1"
	fi
fi

for dp in $(lab_datapaths); do
	if ! lab_datapath_use "$dp"; then
		lab_datapath_unavailable "same-stats with $dp"
		continue
	fi
	lab_count_zero
	lab_datapath_start
	connect
	to_u=$(lab_count u-to-inst1)
	to_a=$(lab_count a-to-inst1)
	files=()
	for h in client inst1 inst2; do
		lab_anypinctl "$h" stats --json >"$LAB_STATE/stats-$dp-$h.json" || true
		files+=("$h=$LAB_STATE/stats-$dp-$h.json")
	done
	lab_datapath_stop
	if ! all_inst1 "$who_c" || ! all_inst1 "$who_r"; then
		lab_fail "same-stats with $dp" "expected inst1 to answer every connection: client got$who_c, router got$who_r"
	elif [ "$to_u" -lt $((2 * N)) ] || [ "$to_a" -gt $((2 * N)) ]; then
		lab_fail "same-stats with $dp" "not pinned: on the router $to_u packets to U1, $to_a to A"
	elif ! why=$(check_json "${files[@]}"); then
		lab_fail "same-stats with $dp" "anypinctl stats --json: $why"
	else
		lab_pass "same-stats with $dp" "$((2 * N)) pinned connections ($to_u packets to U1, $to_a to A) and $((2 * N)) legacy ones; anypinctl stats --json of the client, inst1 and inst2 hold what they must"
	fi
	if [ -n "${LAB_STATS_DIR:-}" ]; then
		mkdir -p "$LAB_STATS_DIR/$dp"
		for h in client inst1 inst2; do
			cp "$LAB_STATE/stats-$dp-$h.json" "$LAB_STATS_DIR/$dp/$h.json"
		done
	fi
done

lab_done
