#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck disable=SC2016
# (SC2016: bash -c scripts get their values as arguments.)
#
# anypinctl against anypin.ko, inside the VM guest (build/anypinctl is
# built on the host first, `make userspace`):
#
#   tests/vm/run --kernel 6.12 -- tests/vm/anypinctl.sh
#
# Loads the module, then in network namespaces of its own: status, flows
# and stats (text and --json) against the sysctl files and the /proc
# tables read directly, prefix add/set/del and set read back from the
# sysctl files, refused values (exit 1, "refused by anypin.ko", nothing
# changed, a half-added prefix taken back), a blackhole found behind a
# firewall that drops anypin's SYNs, listed (/proc/net/anypin/blackholes)
# and flushed (net.anypin.flush_blackholes, which refuses anything but 1),
# one configuration per namespace, the choice between the module and
# anypind, and the "no datapath" message (exit 3) once the module is
# gone. One PASS/FAIL line per check, then `N passed, N failed`; exit
# status 0 when all passed.
set -u
# shellcheck source=guest.sh
. tests/vm/guest.sh
guest_init anypinctl
guest_need_module
REPO=$(cd "$(dirname "$0")/../.." && pwd)
CTL=${ANYPINCTL:-$REPO/build/anypinctl}
[ -x "$CTL" ] || { echo "anypinctl.sh: $CTL not built (make userspace on the host)" >&2; exit 2; }

NS=ctlvm-a
NS2=ctlvm-b
NS3=ctlvm-srv
SPID=
T=$(mktemp -d)
in_ns() { ip netns exec "$NS" "$@"; }
# No anypind anywhere: a socket path nobody answers on.
ctl() { in_ns "$CTL" -s "$T/none.sock" "$@"; }
sys() { in_ns cat "/proc/sys/net/anypin/$1" 2>/dev/null; }
json_ok() { python3 -m json.tool "$1" >/dev/null; }
json_get() {
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1], "rb")); print(eval(sys.argv[2]))' "$1" "$2"
}
# cell FILE KEY-COLUMN KEY COLUMN: by header names ('#' lines skipped).
cell() {
	awk -v k="$2" -v r="$3" -v c="$4" '/^#/ { next }
		!h { for (i = 1; i <= NF; i++) n[$i] = i; h = 1; next }
		$n[k] == r { print $n[c] }' "$1"
}
conf_snapshot() { ctl status | sed -n '/^net\.anypin\./p'; }
export -f in_ns sys cell json_ok json_get
export NS

# shellcheck disable=SC2317  # the EXIT trap's
cleanup() {
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	ip netns del "$NS2" 2>/dev/null
	ip netns del "$NS3" 2>/dev/null
	grep -q '^anypin ' /proc/modules && rmmod anypin
	rm -rf "$T"
}
trap cleanup EXIT

if insmod "$ANYPIN_KO" && grep -q '^anypin ' /proc/modules; then
	pass load "insmod $(basename "$ANYPIN_KO")"
else
	fail load "insmod failed"
	guest_done
fi
ip netns add "$NS"
ip netns add "$NS2"
ip netns add "$NS3"
in_ns ip link set lo up
in_ns ip link add v0 type veth peer name v1
in_ns ip link set v0 up
in_ns ip link set v1 up
in_ns ip addr add 203.0.113.10/24 dev v0
in_ns ip route add 192.0.2.0/24 dev v0

# --- status ----------------------------------------------------------------
ctl status >"$T/status" 2>"$T/err"
rc=$?
check status-datapath "exit $rc: $(head -n1 "$T/status")" \
	[ "$rc" = 0 -a "$(head -n1 "$T/status")" = "datapath: anypin.ko (net namespace sysctls)" ]
check status-defaults "the nine global keys with their defaults" \
	bash -c '[ "$(grep "^net\.anypin\." "$1" | tr "\n" "|")" = "net.anypin.prefixes = |net.anypin.max_flows = 65536|net.anypin.syn_timeout = 75|net.anypin.idle_timeout = 432000|net.anypin.fin_timeout = 60|net.anypin.exid = 0xA7C1|net.anypin.fallback_retries = 1|net.anypin.blackhole_timeout = 60|net.anypin.forward_rate = 100000|" ]' _ "$T/status"
ctl status --json >"$T/status.json"
check status-json "valid JSON" json_ok "$T/status.json"
got=$(json_get "$T/status.json" '[d["datapath"]["name"], d["datapath"]["text"], d["status"]["flows"], d["config"]["net.anypin.exid"]]')
check status-json-content "$got" \
	[ "$got" = "['anypin.ko', 'anypin.ko (net namespace sysctls)', 0, '0xA7C1']" ]

# --- prefix add / set / del, set ------------------------------------------------
ctl prefix add web 192.0.2.0/24 responders 198.51.100.0/24 2>"$T/err"
rc=$?
check prefix-add "exit $rc $(cat "$T/err"): prefixes '$(sys prefixes)'" \
	[ "$rc" = 0 -a "$(sys prefixes)" = "web=192.0.2.0/24" -a \
	"$(sys prefix/web/responders)" = 198.51.100.0/24 -a "$(sys prefix/web/role)" = client ]
ctl prefix add dns 198.18.0.0/24 role responder unicast 203.0.113.10 ports 53 2>"$T/err"
rc=$?
check prefix-add-responder "exit $rc $(cat "$T/err")" \
	[ "$rc" = 0 -a "$(sys prefixes)" = "web=192.0.2.0/24 dns=198.18.0.0/24" -a \
	"$(sys prefix/dns/role) $(sys prefix/dns/unicast) $(sys prefix/dns/ports)" = "responder 203.0.113.10 53" ]
ctl set max_flows 100
check set "max_flows reads $(sys max_flows)" [ "$(sys max_flows)" = 100 ]
check get "anypinctl get reads the sysctl" [ "$(ctl get net/anypin/prefix/dns/unicast)" = 203.0.113.10 ]

before=$(conf_snapshot)
ctl prefix set web role x 2>"$T/err"
rc=$?
check refused-role "exit $rc: $(cat "$T/err")" \
	bash -c '[ "$1" = 1 ] && [ "$(cat "$2")" = "anypinctl: net.anypin.prefix.web.role: invalid value '"'x'"': role must be client or responder (refused by anypin.ko)" ] && [ "$(sys prefix/web/role)" = client ]' _ "$rc" "$T/err"
ctl set max_flows 0 2>"$T/err"
rc=$?
check refused-global "exit $rc: $(cat "$T/err")" \
	bash -c '[ "$1" = 1 ] && grep -q "(refused by anypin.ko)$" "$2" && [ "$(sys max_flows)" = 100 ]' _ "$rc" "$T/err"
ctl prefix add bad 192.0.2.1/24 2>"$T/err"
rc=$?
check refused-prefix "exit $rc: $(cat "$T/err")" \
	bash -c '[ "$1" = 1 ] && grep -q "host bits set (refused by anypin.ko)" "$2"' _ "$rc" "$T/err"
ctl prefix add inner 10.9.0.0/16 role responder unicast 10.9.0.1 2>"$T/err"
rc=$?
check refused-rollback "exit $rc: $(tr '\n' ' ' <"$T/err")" \
	bash -c '[ "$1" = 1 ] && grep -q "inside the prefix itself (refused by anypin.ko)" "$2" && ! in_ns test -e /proc/sys/net/anypin/prefix/inner' _ "$rc" "$T/err"
ctl prefix add web 10.0.0.0/8 2>/dev/null
rc=$?
check refused-exists "exit $rc" [ "$rc" = 1 ]
ctl set fallback_retries 11 2>"$T/err"
rc=$?
check refused-fallback "exit $rc: $(cat "$T/err")" \
	bash -c '[ "$1" = 1 ] && [ "$(cat "$2")" = "anypinctl: net.anypin.fallback_retries: invalid value '"'11'"': fallback_retries must be 0 to 10 (refused by anypin.ko)" ] && [ "$(sys fallback_retries)" = 1 ]' _ "$rc" "$T/err"
ctl set blackhole_timeout 0 2>"$T/err"
rc=$?
check refused-blackhole "exit $rc: $(cat "$T/err")" \
	bash -c '[ "$1" = 1 ] && [ "$(cat "$2")" = "anypinctl: net.anypin.blackhole_timeout: invalid value '"'0'"': blackhole_timeout must be 1 to 86400 (seconds) (refused by anypin.ko)" ] && [ "$(sys blackhole_timeout)" = 60 ]' _ "$rc" "$T/err"
check refused-unchanged "the configuration as before the refused writes" \
	[ "$before" = "$(conf_snapshot)" ]

# --- flows and stats -----------------------------------------------------------
in_ns timeout 2 bash -c 'exec 3<>/dev/tcp/192.0.2.1/80' 2>/dev/null
ctl flows >"$T/flows"
in_ns cat /proc/net/anypin/flows >"$T/flows.proc"
check flows-datapath "$(head -n1 "$T/flows")" \
	[ "$(head -n1 "$T/flows")" = "# datapath: anypin.ko (net namespace sysctls)" ]
check flows-table "the /proc table (idle column aside)" \
	bash -c '[ "$(tail -n +2 "$1" | awk "{\$NF = \"\"; print}")" = "$(awk "{\$NF = \"\"; print}" "$2")" ]' _ "$T/flows" "$T/flows.proc"
check flows-row "prefix '$(cell "$T/flows" addr 203.0.113.10 prefix)' state '$(cell "$T/flows" addr 203.0.113.10 state)'" \
	[ "$(cell "$T/flows" addr 203.0.113.10 prefix) $(cell "$T/flows" addr 203.0.113.10 state)" = "web syn_sent" ]
ctl flows --json >"$T/flows.json"
got=$(json_get "$T/flows.json" '[(f["prefix"], f["state"], f["svc_port"]) for f in d["flows"]]')
want="[('web', 'syn_sent', 80)]"
check flows-json "$got" [ "$got" = "$want" ]
json_ok "$T/flows.json" || fail flows-json "not valid JSON"
ctl stats >"$T/stats"
in_ns cat /proc/net/anypin/stats >"$T/stats.proc"
check stats-table "exactly /proc/net/anypin/stats after the datapath line" \
	bash -c '[ "$(tail -n +2 "$1")" = "$(cat "$2")" ] && [ "$(head -n1 "$1")" = "# datapath: anypin.ko (net namespace sysctls)" ]' _ "$T/stats" "$T/stats.proc"
syn=$(cell "$T/stats.proc" prefix web syn)
ctl stats --json >"$T/stats.json"
got=$(json_get "$T/stats.json" '[[p["prefix"] for p in d["prefixes"]], d["prefixes"][0]["syn"], d["total"]["opt_added"]]')
want="[['web', 'dns'], ${syn:-0}, $(cell "$T/stats.proc" prefix total opt_added)]"
check stats-json "$got" [ "$got" = "$want" -a "${syn:-0}" -ge 1 ]
json_ok "$T/stats.json" || fail stats-json "not valid JSON"

ctl prefix del dns
rc=$?
dirs=$(in_ns ls /proc/sys/net/anypin/prefix | tr '\n' ' ')
check prefix-del "exit $rc: prefixes '$(sys prefixes)', directories '$dirs'" \
	[ "$rc" = 0 -a "$(sys prefixes)" = web=192.0.2.0/24 -a "$dirs" = "web " ]
in_ns cat /proc/net/anypin/stats >"$T/stats2"
check prefix-del-counters "web's counters kept: $(cell "$T/stats2" prefix web syn) SYNs" \
	[ "$(cell "$T/stats2" prefix web syn)" = "$syn" ]

# --- blackholes ------------------------------------------------------------------
# A server behind v2 whose firewall drops SYNs carrying anypin's option
# (kind 253): the capable SYN goes unanswered, its retransmission leaves
# plain and is answered from A, so the module remembers A as a blackhole.
BH=192.0.2.200
BH_HEADER="addr remaining forget period detections"
bh_proc() { in_ns cat /proc/net/anypin/blackholes; }
# flush_write VALUE: one write() of VALUE and a newline to the sysctl.
flush_write() { in_ns bash -c 'printf "%s\n" "$1" 2>/dev/null >/proc/sys/net/anypin/flush_blackholes' _ "$1"; }
# bh_counts: web's fallback, blackholed and bh_plain counters.
bh_counts() {
	in_ns cat /proc/net/anypin/stats >"$T/stats-bh"
	echo "$(cell "$T/stats-bh" prefix web fallback) $(cell "$T/stats-bh" prefix web blackholed) $(cell "$T/stats-bh" prefix web bh_plain)"
}
export -f bh_proc
export BH_HEADER
in_ns ip link add v2 type veth peer name v3 netns "$NS3"
in_ns ip addr add 10.99.0.1/24 dev v2
in_ns ip link set v2 up
in_ns ip route add "$BH/32" via 10.99.0.2
srv() { ip netns exec "$NS3" "$@"; }
srv ip link set lo up
srv ip addr add 10.99.0.2/24 dev v3
srv ip addr add "$BH/32" dev lo
srv ip link set v3 up
srv iptables -w -A INPUT -p tcp --syn --tcp-option 253 -j DROP
# (ip netns exec execs python: $! is its pid)
ip netns exec "$NS3" python3 -c 'import socket, sys, time
s = socket.socket()
s.bind((sys.argv[1], 80))
s.listen(16)
time.sleep(120)' "$BH" >/dev/null 2>&1 &
SPID=$!
for _ in $(seq 300); do
	srv ss -Hltn "sport = :80" | grep -q . && break
	sleep 0.1
done
check bh-empty "$(bh_proc | tr '\n' '|')" [ "$(bh_proc)" = "$BH_HEADER" ]

read -r fb0 bh0 bp0 <<<"$(bh_counts)"
in_ns timeout 5 bash -c "exec 3<>/dev/tcp/$BH/80" 2>/dev/null
rc=$?
bh_proc >"$T/bh.proc"
ctl blackholes >"$T/bh"
rem=$(cell "$T/bh.proc" addr "$BH" remaining)
check bh-found "connect exit $rc; $(tail -n +2 "$T/bh.proc" | tr '\n' '|')" \
	bash -c '[ "$1" = 0 ] && [ "$(cell "$2" addr "$3" period) $(cell "$2" addr "$3" detections)" = "60 1" ] &&
		[ "${4:-0}" -ge 30 ] && [ "$4" -le 60 ] && [ "$(cell "$2" addr "$3" forget)" -ge "$4" ]' _ \
	"$rc" "$T/bh.proc" "$BH" "$rem"
check bh-table "$(head -n1 "$T/bh"); the /proc table (times aside)" \
	bash -c '[ "$(head -n1 "$1")" = "# datapath: anypin.ko (net namespace sysctls)" ] &&
		[ "$(tail -n +2 "$1" | awk "{print \$1, \$4, \$5}")" = "$(awk "{print \$1, \$4, \$5}" "$2")" ]' _ \
	"$T/bh" "$T/bh.proc"
ctl blackholes --json >"$T/bh.json"
got=$(json_get "$T/bh.json" '[(b["addr"], b["period"], b["detections"], type(b["remaining"]).__name__, type(b["forget"]).__name__) for b in d["blackholes"]] + [d["datapath"]["name"]]')
check bh-json "$got" [ "$got" = "[('$BH', 60, 1, 'int', 'int'), 'anypin.ko']" ]
json_ok "$T/bh.json" || fail bh-json "not valid JSON"
# The next connection goes plain from its first SYN.
in_ns timeout 5 bash -c "exec 3<>/dev/tcp/$BH/80" 2>/dev/null
rc=$?
read -r fb bh bp <<<"$(bh_counts)"
got="$((fb - fb0)) $((bh - bh0)) $((bp - bp0))"
check bh-counted "connect exit $rc; web's fallback, blackholed, bh_plain went up by $got" \
	[ "$rc" = 0 -a "$got" = "1 1 1" ]

check bh-sysctl-read "flush_blackholes reads '$(sys flush_blackholes)'" [ "$(sys flush_blackholes)" = 0 ]
for v in 2 x 0 ""; do
	flush_write "$v"
	rc=$?
	check "bh-sysctl-refused${v:+-$v}" "writing '$v': exit $rc; left: $(bh_proc | tail -n +2 | tr '\n' '|')" \
		bash -c '[ "$1" != 0 ] && [ "$(bh_proc | awk "NR > 1 {print \$1}")" = "$2" ]' _ "$rc" "$BH"
done
ctl blackholes flush >"$T/out" 2>"$T/err"
rc=$?
check bh-flush "exit $rc$(cat "$T/err"), left: $(bh_proc | tr '\n' '|')" \
	bash -c '[ "$1" = 0 ] && [ ! -s "$2" ] && [ "$(bh_proc)" = "$BH_HEADER" ]' _ "$rc" "$T/out"
ctl blackholes -j >"$T/bh1.json"
check bh-flush-json "no record left" \
	bash -c 'json_ok "$1" && [ "$(json_get "$1" "d[\"blackholes\"]")" = "[]" ]' _ "$T/bh1.json"
flush_write " 1 "
rc=$?
check bh-sysctl-flush "writing ' 1 ' to flush_blackholes: exit $rc" [ "$rc" = 0 -a "$(bh_proc)" = "$BH_HEADER" ]
kill "$SPID" 2>/dev/null
wait "$SPID" 2>/dev/null
SPID=

# --- namespaces and selection ----------------------------------------------------
ip netns exec "$NS2" "$CTL" -s "$T/none.sock" get prefixes >"$T/ns2"
check netns "another namespace has its own (empty) configuration" \
	[ "$(cat "$T/ns2")" = "" -a "$(sys prefixes)" = web=192.0.2.0/24 ]
in_ns "$CTL" --anypind -s "$T/none.sock" flows >/dev/null 2>"$T/err"
rc=$?
check force-anypind "exit $rc: $(cat "$T/err")" [ "$rc" = 3 ]
ctl --module flows >/dev/null
rc=$?
check force-module "exit $rc" [ "$rc" = 0 ]

in_ns "$CTL" prefix del web
ip netns del "$NS"
ip netns del "$NS2"
ip netns del "$NS3"
if rmmod anypin; then
	pass unload "rmmod anypin"
else
	fail unload "rmmod failed"
fi
ip netns add "$NS"
in_ns "$CTL" -s "$T/none.sock" status >"$T/out" 2>"$T/err"
rc=$?
check no-datapath "exit $rc: $(cat "$T/err")" \
	bash -c '[ "$1" = 3 ] && [ ! -s "$2" ] && [ "$(cat "$3")" = "anypinctl: no anypin datapath: /proc/sys/net/anypin does not exist (anypin.ko not loaded) and nothing answers on $4" ]' _ \
	"$rc" "$T/out" "$T/err" "$T/none.sock"

guest_done
