#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# anypind's own robustness (the module has its own: unload/reload).
#
#   config          malformed files are refused with FILE:LINE: reason
#                   (FILE: reason for whole-file checks) and exit status 1,
#                   the options of the iptables days (--iptables,
#                   --ip6tables, --no-rules) with exit status 2, and the
#                   client's nftables ruleset stays as it was (`nft list
#                   ruleset` before = after, counters aside: no table inet
#                   anypin appears, a running one is not touched), no
#                   control socket; on a clean host and next to a running
#                   anypind, which goes on unharmed
#   control         a queue rule without --queue-bypass, nobody listening:
#                   a new connection to A fails; the "new connection
#                   works" checks below can fail
#   kill            SIGKILL of the client's anypind during a download from
#                   A: the kernel deletes its table with its socket (flags
#                   owner: no stale rewrite stays behind); a download from
#                   U2 (outside the prefixes) running at the same time is
#                   byte-exact; a new connection to A works, unpinned
#                   (packets to A, none to U1); what became of the pinned
#                   download is reported (it breaks, as without anypin)
#   restart         without anypind (killed) a download from A breaks at a
#                   flip; started again, anypind's table has as many rules
#                   as --print-rules shows and no pin, and the same
#                   download is pinned to U1 and byte-exact through the flip
#   hup             SIGHUP with a malformed file keeps the running
#                   configuration and says FILE:LINE; SIGHUP with a changed
#                   file (a third prefix) takes it (its queue rule in
#                   out_queue, as many rules as --print-rules shows) and
#                   keeps the pinned flows: byte-exact through a flip;
#                   restarting instead (flows lost) breaks the download at
#                   the flip
#   owner           during a pinned download, the table is anypind's alone:
#                   `nft delete table inet anypin` is refused, a second
#                   anypind in the namespace (another queue and socket)
#                   refuses to start ("another anypind's"); the rules, the
#                   pins and `restores` stay as they were, and the download
#                   is byte-exact through a flip (the restart and hup
#                   checks show that losing the pins breaks it).  A
#                   firewall reload (`nft flush ruleset`) is
#                   ruleset_flush.sh's
#   stop            SIGTERM removes exactly what anypind added: `nft list
#                   ruleset` is as before anypind started
#
# Six rounds of downloads of about 2 s, and anypind started five times:
# a longer bound.
# lab-timeout: 2

set -euo pipefail
# shellcheck source=../lab.sh
. "$(dirname "$0")/../lab.sh"

MB=${ROBUST_MB:-1}
RATE=${ROBUST_RATE:-500000}
CURL_ARGS=(--max-time "${ROBUST_MAXTIME:-20}" --speed-limit 1024 --speed-time 2)

declare -A u1 a1

# fw_state: the client's nftables ruleset (every table, iptables-nft's
# too), counters zeroed and comments left out, so that two compare.
fw_state() {
	anypind_nft client list ruleset |
		sed -E -e '/^[[:space:]]*#/d' -e 's/(packets|bytes) [0-9]+/\1 0/g' || true
}

# rules_want FILE: the rules anypind --print-rules gives for FILE.
rules_want() {
	"$ANYPIND" --print-rules -c "$1" | grep -c '^add rule' || true
}

# no_table: the client has no table inet anypin.
# shellcheck disable=SC2317  # (called by lab_wait_until)
no_table() {
	! anypind_nft client list table inet anypin >/dev/null
}

# status_of NS KEY: a value of anypind's status.
status_of() {
	anypind_query "$1" status 2>/dev/null | awk -v k="$2" '$1 == k { print $2 }'
}

# shellcheck disable=SC2317  # (called by lab_wait_until)
status_is() {
	[ "$(status_of "$1" "$2")" = "$3" ]
}

# fetch2 TAG ADDR4 ADDR6: paced downloads of both families in the background.
fetch2() {
	lab_fetch_bg "$1-v4" "$(lab_url "$2" "data.bin?rate=$RATE")" "${CURL_ARGS[@]}"
	lab_fetch_bg "$1-v6" "$(lab_url "$3" "data.bin?rate=$RATE")" "${CURL_ARGS[@]}"
}

# flip_run TAG: downloads from A, one flip to inst2 at a quarter; the
# packets to U1 and to A at inst1 in u1[f], a1[f].
flip_run() {
	local f
	lab_route_a inst1
	lab_count_zero
	fetch2 "$1" "$A4" "$A6"
	lab_fetch_wait_bytes "$1-v4" $((LAB_DATA_BYTES / 4)) 10 || true
	lab_fetch_wait_bytes "$1-v6" $((LAB_DATA_BYTES / 4)) 10 || true
	"${@:2}"
	lab_route_a inst2
	lab_fetch_wait
	for f in 4 6; do
		u1[$f]=$(lab_count u-to-inst1 "$f")
		a1[$f]=$(lab_count a-to-inst1 "$f")
	done
	lab_route_a inst1
}

# check_broken TAG NAME WHY: the "without" half after flip_run TAG, per
# family: check NAME passes if the flip broke the download, as WHY says it
# must, and fails if the download was byte-exact (it would prove nothing).
check_broken() {
	local f n
	for f in 4 6; do
		lab_fetch_result "$1-v$f"
		n="anypind-robust-v$f $2"
		if [ "$FETCH_EXACT" = 1 ]; then
			lab_fail "$n" "byte-exact through the flip ($3): the check proves nothing"
		else
			lab_pass "$n" "$3: the flip broke the download as expected ($(lab_fetch_describe); ${a1[$f]} packets to A, ${u1[$f]} to U1)"
		fi
	done
}

# bad_configs WHERE: each malformed file, and each option of the
# iptables days, refused; nothing changed.  (A wrongly accepted option
# would run anypind: timeout stops it, with SIGTERM.)
bad_configs() {
	local name=$1 before after f opt want wrc want_out out rc n=0 bad='' eg=''
	before=$(fw_state)
	while read -r f opt wrc want; do
		[ "$opt" != - ] || opt=
		rc=0
		out=$(lab_ns client timeout 5 "$ANYPIND" -c "$LAB_STATE/$f" \
			-s "$LAB_STATE/bad.sock" ${opt:+"$opt"} 2>&1 >/dev/null) || rc=$?
		n=$((n + 1))
		want_out="anypind: $LAB_STATE/$f$want"
		[ -z "$opt" ] || want_out="anypind: ${opt%%=*}:"
		if [ "$rc" != "$wrc" ]; then
			bad="${opt:-$f}: exit status $rc, expected $wrc ($out)"
		elif [[ $out != "$want_out "?* ]]; then
			bad="${opt:-$f}: expected '$want_out <reason>', got '$out'"
		fi
		[ -z "$bad" ] || break
		[ -n "$opt" ] || eg=${out#anypind: "$LAB_STATE"/}
	done <<-EOF
	bad-role.conf - 1 :3:
	bad-key.conf - 1 :2:
	bad-line.conf - 1 :1:
	bad-unicast.conf - 1 :
	good.conf --iptables=$LAB_IPT 2
	good.conf --ip6tables=$LAB_IP6T 2
	good.conf --no-rules 2
	EOF
	after=$(fw_state)
	if [ -n "$bad" ]; then
		lab_fail "$name" "$bad"
	elif [ "$before" != "$after" ]; then
		lab_fail "$name" "$n refused, but the client's nftables ruleset changed: $(diff <(echo "$before") <(echo "$after") | head -n 5 | tr '\n' ' ')"
	elif [ -e "$LAB_STATE/bad.sock" ]; then
		lab_fail "$name" "$n refused, but a control socket was left"
	else
		lab_pass "$name" "4 malformed files refused with FILE:LINE: reason (e.g. '$eg'), exit status 1; --iptables, --ip6tables and --no-rules refused ('${out%% (*}'), exit status 2; nft list ruleset unchanged"
	fi
}

lab_up
lab_serve "$MB"
ANYPIND_DP=$LAB_HOME/datapath/anypind.sh
# shellcheck source=../datapath/anypind.sh
. "$ANYPIND_DP"

if ! lab_datapaths | grep -qx anypind; then
	lab_pass "anypind-robust" "not run: LAB_DATAPATHS=${LAB_DATAPATHS:-} has no anypind"
	lab_done
fi
if ! lab_datapath_use anypind; then
	lab_datapath_unavailable "anypind-robust"
	lab_done
fi
# (tests/lab/run checks it, but a scenario also runs on its own; without
# nft, every ruleset would read empty and compare equal.)
if ! command -v nft >/dev/null; then
	lab_fail "anypind-robust" "nft (nftables) is missing: the checks read anypind's table with it"
	lab_done
fi

printf '# a bad role\nnet.anypin.prefixes = any4=%s\nnet.anypin.prefix.any4.role = server\n' \
	"$PREFIX4" >"$LAB_STATE/bad-role.conf"
printf 'net.anypin.prefixes = any4=%s\nnet.anypin.max_flow = 10\n' \
	"$PREFIX4" >"$LAB_STATE/bad-key.conf"
printf 'net.anypin.prefixes\n' >"$LAB_STATE/bad-line.conf"
printf 'net.anypin.prefixes = any4=%s\nnet.anypin.prefix.any4.role = responder\n' \
	"$PREFIX4" >"$LAB_STATE/bad-unicast.conf"
lab_anypin_conf client >"$LAB_STATE/good.conf"

# --- config, on a host without anypind
bad_configs "anypind-robust config (no anypind running)"

# --- control: what a blackholing queue rule does to a new connection
for f in 4 6; do
	ipt=$LAB_IPT a=$A4
	[ "$f" = 6 ] && ipt=$LAB_IP6T a=$A6
	lab_ns client "$ipt" -w -t mangle -I OUTPUT -p tcp -d "$a" --syn \
		-j NFQUEUE --queue-num 4242
	who=$(lab_ns client curl -sS -g --max-time 2 "$(lab_url "$a" whoami)" 2>&1) || true
	lab_ns client "$ipt" -w -t mangle -D OUTPUT -p tcp -d "$a" --syn \
		-j NFQUEUE --queue-num 4242
	if [ "$who" = inst1 ]; then
		lab_fail "anypind-robust-v$f control" "a queue rule without --queue-bypass and nobody listening let a new connection through: the kill checks prove nothing"
	else
		lab_pass "anypind-robust-v$f control" "a queue rule without --queue-bypass, nobody listening: a new connection to A fails (${who:-no answer})"
	fi
done

# The client's ruleset without anypind: what SIGTERM must leave.
fw_clean=$(fw_state)
lab_datapath_start

# --- config, next to a running anypind (same queue)
bad_configs "anypind-robust config (anypind running)"
if [ "$(status_of client pid)" = "" ]; then
	lab_fail "anypind-robust config (anypind running)" "the running anypind no longer answers"
fi

# --- kill: SIGKILL during a transfer
declare -A pins_killed
lab_route_a inst1
fetch2 kill-a "$A4" "$A6"
fetch2 kill-u "$U2_4" "$U2_6"
lab_fetch_wait_bytes kill-a-v4 $((LAB_DATA_BYTES / 5)) 10 || true
lab_fetch_wait_bytes kill-a-v6 $((LAB_DATA_BYTES / 5)) 10 || true
for f in 4 6; do
	pins_killed[$f]=$(anypind_pins client "$f")
done
anypind_kill9 client
gone=0
lab_wait_until 2 no_table && gone=1
lab_fetch_wait
for f in 4 6; do
	lab_fetch_result "kill-u-v$f"
	other=$(lab_fetch_describe)
	other_ok=$FETCH_EXACT
	lab_fetch_result "kill-a-v$f"
	name="anypind-robust-v$f kill"
	a=$A4
	[ "$f" = 6 ] && a=$A6
	lab_count_zero
	who=$(lab_whoami "$a" 2>&1) || true
	if [ "$other_ok" != 1 ]; then
		lab_fail "$name" "the download from U2 (outside the prefixes) suffered: $other"
	elif [ "${pins_killed[$f]}" -lt 2 ]; then
		lab_fail "$name" "${pins_killed[$f]} pins in the table before SIGKILL, expected the download's 2: the check proves nothing"
	elif [ "$gone" != 1 ]; then
		lab_fail "$name" "table inet anypin still there 2 s after SIGKILL, its pins with it: stale rewrites"
	elif [ "$who" != inst1 ]; then
		lab_fail "$name" "a new connection to A failed after SIGKILL: ${who:-no answer}"
	elif [ "$(lab_count u-to-inst1 "$f")" != 0 ] || [ "$(lab_count a-to-inst1 "$f")" = 0 ]; then
		lab_fail "$name" "the new connection to A is not plain: $(lab_count a-to-inst1 "$f") packets to A, $(lab_count u-to-inst1 "$f") to U1"
	else
		lab_pass "$name" "the kernel deleted the table with anypind's socket (and its ${pins_killed[$f]} pins); download from U2 $other; a new connection to A works unpinned ($(lab_count a-to-inst1 "$f") packets to A, none to U1); the pinned download (not checked): $(lab_fetch_describe)"
	fi
done

# --- restart
flip_run restart-without
check_broken restart-without "restart without anypind" "the client's anypind killed"
anypind_start client
rules=$(anypind_rules client)
want=$(rules_want "$(anypind_conf client)")
pins=$(anypind_pins client)
flip_run restart-with
for f in 4 6; do
	lab_fetch_result "restart-with-v$f"
	name="anypind-robust-v$f restart"
	if [ "$pins" != 0 ]; then
		lab_fail "$name" "restarted, but $pins pins are in its new table: stale rewrites"
	elif [ "$rules" != "$want" ]; then
		lab_fail "$name" "restarted with $rules rules in table inet anypin, --print-rules has $want"
	elif [ "$FETCH_EXACT" != 1 ]; then
		lab_fail "$name" "restarted, yet $(lab_fetch_describe); ${a1[$f]} packets to A, ${u1[$f]} to U1; $(lab_rsts "$f")"
	elif [ "${u1[$f]}" -lt 10 ]; then
		lab_fail "$name" "byte-exact, but not pinned: ${a1[$f]} packets to A, ${u1[$f]} to U1"
	else
		lab_pass "$name" "restarted ($rules rules as --print-rules, no pin): $(lab_fetch_describe) through a flip, pinned again (${u1[$f]} packets to U1)"
	fi
done

# --- hup
conf=$(anypind_conf client)
# shellcheck disable=SC2317  # (called by flip_run)
restart_client() {
	anypind_kill9 client && anypind_start client
}
flip_run hup-without restart_client
check_broken hup-without "hup without flows" "a restart (flows lost) instead of SIGHUP"

good=$(lab_anypin_conf client | sed "s|^net.anypin.prefixes = .*|& extra=10.99.0.0/16|")
bad_line=$(($(lab_anypin_conf client | wc -l) + 1))
printf '%s\n' "$good" >"$LAB_STATE/good-hup.conf"
hup_want=$(rules_want "$LAB_STATE/good-hup.conf")
# shellcheck disable=SC2317  # (called by flip_run)
hup_client() {
	local pid
	pid=$(status_of client pid)
	{ lab_anypin_conf client; echo 'net.anypin.prefix.any4.ports = 0'; } >"$conf"
	kill -HUP "$pid"
	lab_wait_until 5 status_is client reload_errors 1 || true
	hup_bad_prefixes=$(status_of client prefixes)
	printf '%s\n' "$good" >"$conf"
	kill -HUP "$pid"
	lab_wait_until 5 status_is client reloads 1 || true
	hup_prefixes=$(status_of client prefixes)
	hup_rule=$(anypind_nft client list chain inet anypin out_queue |
		grep -c -F '10.99.0.0/16' || true)
	hup_rules=$(anypind_rules client)
}
flip_run hup-with hup_client
log=$LAB_STATE/log/anypind-client.log
for f in 4 6; do
	lab_fetch_result "hup-with-v$f"
	name="anypind-robust-v$f hup"
	if ! grep -q "reload: $conf:$bad_line: .*; keeping the running configuration" "$log"; then
		lab_fail "$name" "the bad reload was not reported as $conf:$bad_line: ...: $(grep reload "$log" | head -n 2 | tr '\n' ' ')"
	elif [ "$hup_bad_prefixes" != 2 ]; then
		lab_fail "$name" "after the bad reload: $hup_bad_prefixes prefixes, expected the running 2"
	elif [ "$hup_prefixes" != 3 ] || [ "$hup_rule" = 0 ]; then
		lab_fail "$name" "the good reload was not taken: $hup_prefixes prefixes, $hup_rule queue rules in out_queue for the new one"
	elif [ "$hup_rules" != "$hup_want" ]; then
		lab_fail "$name" "after the good reload: $hup_rules rules in table inet anypin, --print-rules has $hup_want"
	elif [ "$FETCH_EXACT" != 1 ]; then
		lab_fail "$name" "reloaded, but the pinned download broke: $(lab_fetch_describe); $(lab_rsts "$f")"
	elif [ "${u1[$f]}" -lt 10 ]; then
		lab_fail "$name" "byte-exact, but not pinned: ${a1[$f]} packets to A, ${u1[$f]} to U1"
	else
		lab_pass "$name" "a bad file kept the running configuration ($(grep -o "$conf:$bad_line: [^;]*" "$log" | head -n 1 | sed "s|$LAB_STATE/||")); a changed one was taken (3 prefixes, $hup_rule queue rule for the new one, $hup_rules rules as --print-rules) and the pinned download went on: $(lab_fetch_describe) through a flip, ${u1[$f]} packets to U1"
	fi
done

# --- owner: nobody else may change the table
declare -A pins_before pins_after
# shellcheck disable=SC2317  # (called by flip_run)
intrude() {
	local f rc=0
	restores0=$(status_of client restores)
	rules0=$(anypind_rules client)
	for f in 4 6; do
		pins_before[$f]=$(anypind_pins client "$f")
	done
	del_out=$(lab_ns client nft delete table inet anypin 2>&1) || rc=$?
	del_rc=$rc
	rc=0
	second_out=$(lab_ns client timeout 5 "$ANYPIND" -c "$conf" \
		-s "$LAB_STATE/second.sock" -q 4243 2>&1 >/dev/null) || rc=$?
	second_rc=$rc
	rules1=$(anypind_rules client)
	for f in 4 6; do
		pins_after[$f]=$(anypind_pins client "$f")
	done
	restores1=$(status_of client restores)
}
flip_run owner intrude
for f in 4 6; do
	lab_fetch_result "owner-v$f"
	name="anypind-robust-v$f owner"
	if [ "${pins_before[$f]}" -lt 2 ]; then
		lab_fail "$name" "${pins_before[$f]} pins before, expected the download's 2: the check proves nothing"
	elif [ "$del_rc" = 0 ]; then
		lab_fail "$name" "nft delete table inet anypin succeeded"
	elif [ "$second_rc" != 1 ] || [[ $second_out != *"another anypind"* ]]; then
		lab_fail "$name" "a second anypind: exit status $second_rc, expected 1 with 'another anypind's': $(tail -n 1 <<<"$second_out")"
	elif [ "$rules1" != "$rules0" ] || [ "${pins_after[$f]}" != "${pins_before[$f]}" ] || [ "$restores1" != "$restores0" ]; then
		lab_fail "$name" "the table changed: $rules0/$rules1 rules, ${pins_before[$f]}/${pins_after[$f]} pins, restores $restores0/$restores1 before/after"
	elif [ "$FETCH_EXACT" != 1 ]; then
		lab_fail "$name" "the table held, but the pinned download broke: $(lab_fetch_describe); $(lab_rsts "$f")"
	elif [ "${u1[$f]}" -lt 10 ]; then
		lab_fail "$name" "byte-exact, but not pinned: ${a1[$f]} packets to A, ${u1[$f]} to U1"
	else
		lab_pass "$name" "nft delete table refused ($(grep -m 1 -i error <<<"$del_out" | cut -c1-80)), a second anypind too ('${second_out##*: }'); $rules1 rules, ${pins_after[$f]} pins, restores $restores1 as before, and the pinned download went on: $(lab_fetch_describe) through a flip, ${u1[$f]} packets to U1"
	fi
done

# --- stop
lab_datapath_stop
if [ "$(fw_state)" = "$fw_clean" ]; then
	lab_pass "anypind-robust stop" "SIGTERM: nft list ruleset is as before anypind started (no table inet anypin)"
else
	lab_fail "anypind-robust stop" "after SIGTERM: $(diff <(echo "$fw_clean") <(fw_state) | head -n 5 | tr '\n' ' ')"
fi

lab_done
