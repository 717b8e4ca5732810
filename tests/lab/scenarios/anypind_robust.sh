#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# anypind's own robustness (the module has its own: unload/reload).
#
#   config          malformed files are refused with FILE:LINE: reason
#                   (FILE: reason for whole-file checks), a non-zero exit
#                   status, and no firewall rule changed (iptables-save
#                   and ip6tables-save before = after); on a clean host and
#                   next to a running anypind, which goes on unharmed
#   control         a queue rule without --queue-bypass, nobody listening:
#                   a new connection to A fails; the "new connection
#                   works" checks below can fail
#   kill            SIGKILL of the client's anypind during a download from
#                   A: a download from U2 (outside the prefixes) running at
#                   the same time is byte-exact, the rules stay (they
#                   bypass), a new connection to A works, unpinned (packets
#                   to A, none to U1)
#   restart         without anypind (killed) a download from A breaks at a
#                   flip; started again on the chains and sets the killed
#                   one left (one jump per hook), the same download is
#                   pinned to U1 and byte-exact through the flip
#   hup             SIGHUP with a malformed file keeps the running
#                   configuration and says FILE:LINE; SIGHUP with a changed
#                   file (a third prefix) takes it (rules too) and keeps the
#                   pinned flows: byte-exact through a flip; restarting
#                   instead (flows lost) breaks the download at the flip
#   stop            SIGTERM removes exactly what anypind added

set -euo pipefail
# shellcheck source=../lab.sh
. "$(dirname "$0")/../lab.sh"

MB=${ROBUST_MB:-1}
RATE=${ROBUST_RATE:-500000}
CURL_ARGS=(--max-time "${ROBUST_MAXTIME:-20}" --speed-limit 1024 --speed-time 2)

declare -A u1 a1

# fw_state: the client's rules, both families, without counters.
fw_state() {
	{
		lab_ns client "$LAB_IPT-save"
		lab_ns client "$LAB_IP6T-save"
	} | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//' || true
}

# fw_rules: only the rules and user chains (an emptied table may stay).
fw_rules() {
	fw_state | grep -E '^(-|:[^ ]+ - )' || true
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

# bad_configs WHERE: each malformed file refused, nothing changed.
bad_configs() {
	local name=$1 before after f want out rc n=0 bad=
	before=$(fw_state)
	while read -r f want; do
		rc=0
		out=$(lab_ns client "$ANYPIND" -c "$LAB_STATE/$f" \
			-s "$LAB_STATE/bad.sock" --iptables "$LAB_IPT" \
			--ip6tables "$LAB_IP6T" 2>&1 >/dev/null) || rc=$?
		n=$((n + 1))
		if [ "$rc" = 0 ]; then
			bad="$f accepted (exit status 0)"
		elif [[ $out != "anypind: $LAB_STATE/$f$want "?* ]]; then
			bad="$f: expected 'anypind: $LAB_STATE/$f$want <reason>', got '$out'"
		fi
		[ -z "$bad" ] || break
	done <<-EOF
	bad-role.conf :3:
	bad-key.conf :2:
	bad-line.conf :1:
	bad-unicast.conf :
	EOF
	after=$(fw_state)
	if [ -n "$bad" ]; then
		lab_fail "$name" "$bad"
	elif [ "$before" != "$after" ]; then
		lab_fail "$name" "$n files refused, but the firewall changed: $(diff <(echo "$before") <(echo "$after") | head -n 5 | tr '\n' ' ')"
	elif [ -e "$LAB_STATE/bad.sock" ]; then
		lab_fail "$name" "$n files refused, but a control socket was left"
	else
		lab_pass "$name" "$n malformed files refused with FILE:LINE: reason (e.g. '${out#anypind: "$LAB_STATE"/}'), exit status $rc, iptables-save and ip6tables-save unchanged"
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

printf '# a bad role\nnet.anypin.prefixes = any4=%s\nnet.anypin.prefix.any4.role = server\n' \
	"$PREFIX4" >"$LAB_STATE/bad-role.conf"
printf 'net.anypin.prefixes = any4=%s\nnet.anypin.max_flow = 10\n' \
	"$PREFIX4" >"$LAB_STATE/bad-key.conf"
printf 'net.anypin.prefixes\n' >"$LAB_STATE/bad-line.conf"
printf 'net.anypin.prefixes = any4=%s\nnet.anypin.prefix.any4.role = responder\n' \
	"$PREFIX4" >"$LAB_STATE/bad-unicast.conf"

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

fw_clean=$(fw_rules)
lab_datapath_start

# --- config, next to a running anypind (same socket path, same queue)
bad_configs "anypind-robust config (anypind running)"
if [ "$(status_of client pid)" = "" ]; then
	lab_fail "anypind-robust config (anypind running)" "the running anypind no longer answers"
fi

# --- kill: SIGKILL during a transfer
lab_route_a inst1
fetch2 kill-a "$A4" "$A6"
fetch2 kill-u "$U2_4" "$U2_6"
lab_fetch_wait_bytes kill-a-v4 $((LAB_DATA_BYTES / 5)) 10 || true
lab_fetch_wait_bytes kill-a-v6 $((LAB_DATA_BYTES / 5)) 10 || true
anypind_kill9 client
left=$(fw_state | grep -c '^-A ANYPIN-' || true)
lab_fetch_wait
for f in 4 6; do
	lab_fetch_result "kill-a-v$f"
	pinned=$(lab_fetch_describe)
	lab_fetch_result "kill-u-v$f"
	name="anypind-robust-v$f kill"
	a=$A4
	[ "$f" = 6 ] && a=$A6
	lab_count_zero
	who=$(lab_whoami "$a" 2>&1) || true
	if [ "$FETCH_EXACT" != 1 ]; then
		lab_fail "$name" "the download from U2 (outside the prefixes) suffered: $(lab_fetch_describe)"
	elif [ "$left" = 0 ]; then
		lab_fail "$name" "no ANYPIN rule left after SIGKILL: the check proves nothing"
	elif [ "$who" != inst1 ]; then
		lab_fail "$name" "a new connection to A failed after SIGKILL: ${who:-no answer}"
	elif [ "$(lab_count u-to-inst1 "$f")" != 0 ] || [ "$(lab_count a-to-inst1 "$f")" = 0 ]; then
		lab_fail "$name" "the new connection to A is not plain: $(lab_count a-to-inst1 "$f") packets to A, $(lab_count u-to-inst1 "$f") to U1"
	else
		lab_pass "$name" "download from U2 $(lab_fetch_describe); $left leftover rules bypass; a new connection to A works unpinned ($(lab_count a-to-inst1 "$f") packets to A, none to U1); the pinned download: $pinned"
	fi
done

# --- restart
flip_run restart-without
for f in 4 6; do
	lab_fetch_result "restart-without-v$f"
	name="anypind-robust-v$f restart without anypind"
	if [ "$FETCH_EXACT" = 1 ]; then
		lab_fail "$name" "byte-exact through the flip with the client's anypind killed: the check proves nothing"
	else
		lab_pass "$name" "killed, the flip broke the download as expected ($(lab_fetch_describe); ${a1[$f]} packets to A, ${u1[$f]} to U1)"
	fi
done
anypind_start client
jumps=$(fw_state | grep -c -e '-j ANYPIN-' || true)
flip_run restart-with
for f in 4 6; do
	lab_fetch_result "restart-with-v$f"
	name="anypind-robust-v$f restart"
	if [ "$jumps" != 6 ]; then
		lab_fail "$name" "$jumps jumps to ANYPIN chains after the restart, expected 6 (3 hooks, 2 families)"
	elif [ "$FETCH_EXACT" != 1 ]; then
		lab_fail "$name" "restarted, yet $(lab_fetch_describe); ${a1[$f]} packets to A, ${u1[$f]} to U1; $(lab_rsts "$f")"
	elif [ "${u1[$f]}" -lt 10 ]; then
		lab_fail "$name" "byte-exact, but not pinned: ${a1[$f]} packets to A, ${u1[$f]} to U1"
	else
		lab_pass "$name" "started on the leftover chains (one jump per hook): $(lab_fetch_describe) through a flip, pinned again (${u1[$f]} packets to U1)"
	fi
done

# --- hup
conf=$(anypind_conf client)
# shellcheck disable=SC2317  # (called by flip_run)
restart_client() {
	anypind_kill9 client && anypind_start client
}
flip_run hup-without restart_client
for f in 4 6; do
	lab_fetch_result "hup-without-v$f"
	name="anypind-robust-v$f hup without flows"
	if [ "$FETCH_EXACT" = 1 ]; then
		lab_fail "$name" "byte-exact through the flip although a restart lost the flows: the check proves nothing"
	else
		lab_pass "$name" "a restart (flows lost) instead of SIGHUP: the flip broke the download as expected ($(lab_fetch_describe))"
	fi
done

good=$(lab_anypin_conf client | sed "s|^net.anypin.prefixes = .*|& extra=10.99.0.0/16|")
bad_line=$(($(lab_anypin_conf client | wc -l) + 1))
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
	hup_rule=$(fw_state | grep -c -e '-d 10.99.0.0/16 ' || true)
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
		lab_fail "$name" "the good reload was not taken: $hup_prefixes prefixes, $hup_rule rules for the new one"
	elif [ "$FETCH_EXACT" != 1 ]; then
		lab_fail "$name" "reloaded, but the pinned download broke: $(lab_fetch_describe); $(lab_rsts "$f")"
	elif [ "${u1[$f]}" -lt 10 ]; then
		lab_fail "$name" "byte-exact, but not pinned: ${a1[$f]} packets to A, ${u1[$f]} to U1"
	else
		lab_pass "$name" "a bad file kept the running configuration ($(grep -o "$conf:$bad_line: [^;]*" "$log" | head -n 1 | sed "s|$LAB_STATE/||")); a changed one was taken (3 prefixes, its rule in) and the pinned download went on: $(lab_fetch_describe) through a flip, ${u1[$f]} packets to U1"
	fi
done

# --- stop
lab_datapath_stop
if [ "$(fw_rules)" = "$fw_clean" ]; then
	lab_pass "anypind-robust stop" "SIGTERM: iptables-save and ip6tables-save are as before anypind started"
else
	lab_fail "anypind-robust stop" "rules left after SIGTERM: $(diff <(echo "$fw_clean") <(fw_rules) | head -n 5 | tr '\n' ' ')"
fi

lab_done
