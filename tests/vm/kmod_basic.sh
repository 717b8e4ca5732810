#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR disable=SC2012,SC2016,SC2317
# (SC2016: bash -c and awk scripts get their values as arguments; SC2012:
# ls lists sysctl and sysfs directories, whose names are plain words;
# SC2317: the conditions lab_wait_until runs are called through it.)
#
# anypin.ko end to end, inside the VM guest:
#
#   tests/vm/run --kernel 6.1 -- tests/vm/kmod_basic.sh
#   tests/vm/run --kernel 6.12 -- tests/vm/kmod_basic.sh
#
# Loads the module, checks the sysctl interface (defaults, canonical read
# back, refused values leave the old one, per-prefix directories follow
# `prefixes`, one configuration per namespace), pins real TCP transfers
# over IPv4 and IPv6 in the lab (tests/lab/lab.sh) and checks them on the
# router's counters, keeps bound flows through a route change and a SYN
# flood against a small max_flows, lets entries expire, unloads the module
# under traffic, checks that every flow entry is freed (slab), does 50
# load/unload cycles and reads the kernel log. One PASS/FAIL line per check;
# exit status 0 when all passed.
set -u
# shellcheck source=guest.sh
. tests/vm/guest.sh
guest_init kmod
guest_need_module

S=/proc/sys/net/anypin
get() { cat "$S/$1" 2>/dev/null; }
put() { printf '%s\n' "$2" 2>/dev/null > "$S/$1"; }

# ---------------------------------------------------------------------------
say "load"
if insmod "$ANYPIN_KO" && loaded; then
	pass load "insmod $(basename "$ANYPIN_KO") ($(modinfo -F vermagic "$ANYPIN_KO" | cut -d' ' -f1))"
else
	fail load "insmod failed"
	exit 1
fi

defaults="prefixes= max_flows=65536 syn_timeout=75 idle_timeout=432000 fin_timeout=60 exid=0xA7C1"
defaults="$defaults fallback_retries=1 blackhole_timeout=60 flush_blackholes=0"
got=
for kv in $defaults; do
	got="$got ${kv%%=*}=$(get "${kv%%=*}")"
done
if [ "${got# }" = "$defaults" ]; then
	pass sysctl-defaults "$defaults"
else
	fail sysctl-defaults "got${got}"
fi

if head -n1 /proc/net/anypin/flows | grep -q '^role prefix state' &&
	tail -n1 /proc/net/anypin/stats | grep -q '^total '; then
	pass proc-files "/proc/net/anypin/flows and stats readable"
else
	fail proc-files "unexpected content"
fi

# ---------------------------------------------------------------------------
say "sysctl: valid values"
# key, written, read back
valid() {
	if ! put "$1" "$2"; then
		fail "sysctl-valid $1" "'$2' refused"
	elif [ "$(get "$1")" != "$3" ]; then
		fail "sysctl-valid $1" "'$2' reads back '$(get "$1")', expected '$3'"
	else
		pass "sysctl-valid $1" "'$2' -> '$3'"
	fi
}
valid max_flows 0042 42
valid max_flows "  1000  " 1000
valid exid 0xa7c2 0xA7C2
valid exid 4660 0x1234
valid exid 0xA7C1 0xA7C1
valid syn_timeout 30 30
valid fin_timeout 3600 3600
valid idle_timeout 2592000 2592000
valid fallback_retries 0 0
valid fallback_retries 010 10
valid blackhole_timeout 1 1
valid blackhole_timeout 86400 86400
# An action, not a value: it forgets the blackholes and reads 0.
valid flush_blackholes 1 0
valid flush_blackholes " 1 " 0
valid prefixes "  dns=192.0.2.0/24   web6=2001:DB8:A:0:0::/48 " \
	"dns=192.0.2.0/24 web6=2001:db8:a::/48"
valid prefix/dns/responders "198.51.100.0/24,2001:db8::/32" "198.51.100.0/24 2001:db8::/32"
valid prefix/web6/role responder responder
valid prefix/web6/unicast "2001:db8:1::1 198.51.100.1" "198.51.100.1 2001:db8:1::1"
valid prefix/dns/ports "53,443,8000-8100" "53,443,8000-8100"
valid prefix/dns/enabled 0 0

say "sysctl: refused values"
# key, value: refused, and the old value stays
invalid() {
	local old v=$2
	old=$(get "$1")
	[ ${#v} -le 40 ] || v="${v:0:8}... (${#v} bytes)"
	if put "$1" "$2"; then
		fail "sysctl-invalid $1" "'$v' accepted (now '$(get "$1")')"
	elif [ "$(get "$1")" != "$old" ]; then
		fail "sysctl-invalid $1" "'$v' refused but the value changed: '$old' -> '$(get "$1")'"
	else
		pass "sysctl-invalid $1" "'$v' refused, still '$old'"
	fi
}
invalid max_flows 0
invalid max_flows 16777217
invalid max_flows abc
invalid max_flows -1
invalid max_flows 99999999999999999999
invalid syn_timeout 0
invalid idle_timeout 2592001
invalid fin_timeout 3601
invalid exid 0
invalid exid 0x10000
invalid exid 0xzz
invalid fallback_retries 11
invalid fallback_retries -1
invalid fallback_retries 1x
invalid blackhole_timeout 0
invalid blackhole_timeout 86401
invalid flush_blackholes 2
invalid flush_blackholes x
invalid flush_blackholes 0
invalid flush_blackholes 01
invalid flush_blackholes ""
invalid prefixes "dns=192.0.2.1/24"
invalid prefixes "Dns=192.0.2.0/24"
invalid prefixes "a=10.0.0.0/8 a=10.1.0.0/16"
invalid prefixes "a=10.0.0.0/8 b=10.0.0.0/8"
invalid prefixes "a=300.0.0.0/8"
invalid prefixes "waytoolongname16=10.0.0.0/8"
invalid prefixes "a=2001:db8::/129"
invalid prefix/dns/role server
invalid prefix/dns/enabled 2
invalid prefix/dns/ports "53,"
invalid prefix/dns/ports 0
invalid prefix/dns/ports 100-90
invalid prefix/dns/responders "198.51.100.1/24"
invalid prefix/web6/unicast 127.0.0.1
invalid prefix/web6/unicast "fe80::1"
invalid prefix/web6/unicast "2001:db8:a::5"
long=$(printf 'a%.0s' $(seq 5000))
invalid prefixes "$long"

say "sysctl: per-prefix directories"
ls_prefixes() { ls "$S/prefix" 2>/dev/null | tr '\n' ' ' | sed 's/ $//'; }
put prefixes "a=192.0.2.0/24 b=2001:db8::/32"
put prefix/a/role responder
put prefix/a/unicast 198.51.100.1
if [ "$(ls_prefixes)" = "a b" ] &&
	[ "$(ls "$S/prefix/a" | tr '\n' ' ')" = "enabled ports responders role unicast " ]; then
	pass sysctl-dirs-create "prefix/a and prefix/b with their 5 keys"
else
	fail sysctl-dirs-create "prefix/ holds '$(ls_prefixes)'"
fi
put prefixes "a=192.0.2.0/25 c=10.0.0.0/8"
if [ "$(ls_prefixes)" = "a c" ] && [ "$(get prefix/a/role)" = responder ] &&
	[ "$(get prefix/a/unicast)" = 198.51.100.1 ] && [ "$(get prefix/c/role)" = client ]; then
	pass sysctl-dirs-rewrite "b removed, c added with defaults, a kept its settings"
else
	fail sysctl-dirs-rewrite "prefix/ holds '$(ls_prefixes)', a.role=$(get prefix/a/role)"
fi
put prefixes "a=192.0.2.0/25 b=2001:db8::/32"
if [ "$(get prefix/b/role)" = client ] && [ -z "$(get prefix/b/responders)" ]; then
	pass sysctl-dirs-readd "a name that comes back starts from the defaults"
else
	fail sysctl-dirs-readd "b.role=$(get prefix/b/role)"
fi
put prefixes ""
if [ -z "$(ls_prefixes)" ] && [ -z "$(get prefixes)" ]; then
	pass sysctl-dirs-remove "prefixes= removes every prefix directory"
else
	fail sysctl-dirs-remove "prefix/ still holds '$(ls_prefixes)'"
fi
if command -v sysctl >/dev/null; then
	conf=$(mktemp)
	cat > "$conf" <<-EOF
	net.anypin.prefixes = dns=192.0.2.0/24
	net.anypin.prefix.dns.responders = 198.51.100.0/24
	EOF
	if sysctl -q -p "$conf" && [ "$(get prefix/dns/responders)" = 198.51.100.0/24 ]; then
		pass sysctl-d "a sysctl.d file applied by sysctl -p"
	else
		fail sysctl-d "sysctl -p $conf did not apply"
	fi
	rm -f "$conf"
	put prefixes ""
fi
put max_flows 65536
put syn_timeout 75
put fin_timeout 60
put idle_timeout 432000
put fallback_retries 1
put blackhole_timeout 60

say "sysctl: namespaces"
ip netns add kb-ns1
put prefixes "x=192.0.2.0/24"
ip netns exec kb-ns1 sh -c 'printf "y=10.0.0.0/8\n" > /proc/sys/net/anypin/prefixes'
in_ns=$(ip netns exec kb-ns1 cat $S/prefixes)
ns_row=$(ip netns exec kb-ns1 sed -n 2p /proc/net/anypin/stats | cut -d' ' -f1)
if [ "$(get prefixes)" = "x=192.0.2.0/24" ] && [ "$in_ns" = "y=10.0.0.0/8" ] &&
	[ "$ns_row" = y ] && [ -d $S/prefix/x ] && [ ! -d $S/prefix/y ]; then
	pass sysctl-netns "each namespace its own prefixes, directories and stats"
else
	fail sysctl-netns "init: '$(get prefixes)', kb-ns1: '$in_ns' (stats row '$ns_row')"
fi
ip netns del kb-ns1
put prefixes ""

# ---------------------------------------------------------------------------
say "lab: pinned transfers"
export LAB=kb-
# shellcheck source=../lab/lab.sh
. tests/lab/lab.sh
LAB_NO_TRAP=1
# shellcheck source=../lab/datapath/kmod.sh
. tests/lab/datapath/kmod.sh
lab_up || { fail lab "lab_up failed"; exit 1; }
# The first python start reads its files over 9p, slowly.
lab_serve 4 || lab_wait_listen inst1 "$LAB_PORT" 30 || { fail lab "no HTTP server"; exit 1; }
lab_wait_listen inst2 "$LAB_PORT" 30

lab_count_zero
lab_fetch base4 "$(lab_url "$A4" data.bin)" --max-time 20
lab_fetch_result base4
base_u=$(lab_count u-to-inst1 4)
if [ "$FETCH_EXACT" = 1 ] && [ "$base_u" = 0 ]; then
	pass lab-baseline "without anypin: 4 MB from A, 0 packets to U1"
else
	fail lab-baseline "exact=$FETCH_EXACT, $base_u packets to U1"
fi

datapath_start || fail lab-config "datapath_start failed"
for f in 4 6; do
	a=A$f
	lab_count_zero
	lab_fetch "pin$f" "$(lab_url "${!a}" data.bin)" --max-time 20
	lab_fetch_result "pin$f"
	u=$(lab_count u-to-inst1 $f)
	at=$(lab_count a-to-inst1 $f)
	if [ "$FETCH_EXACT" = 1 ] && [ "$u" -gt 20 ] && [ "$at" -le 3 ]; then
		pass "pin-v$f" "4 MB byte-exact in $FETCH_SECS s; on the wire $u packets to U1, $at to A (the SYN)"
	else
		fail "pin-v$f" "exact=$FETCH_EXACT ($FETCH_ERR), $u packets to U1, $at to A"
	fi
done
cf=$(lab_ns client cat /proc/net/anypin/flows)
rf=$(lab_ns inst1 cat /proc/net/anypin/flows)
if grep -q "^client any4 [a-z]* $C4 [0-9]* $A4 $LAB_PORT $U1_4 " <<<"$cf" &&
	grep -q "^client any6 [a-z]* $C6 [0-9]* $A6 $LAB_PORT $U1_6 " <<<"$cf" &&
	grep -q "^responder any4 [a-z]* $C4 [0-9]* $A4 $LAB_PORT $U1_4 " <<<"$rf"; then
	pass proc-flows "client entries bound to U1, responder entries answering from U1"
else
	fail proc-flows "client: $(tr '\n' '|' <<<"$cf") inst1: $(tr '\n' '|' <<<"$rf")"
fi
c_syn=$(apstat client syn) c_opt=$(apstat client opt_added) c_bound=$(apstat client bound)
c_rw=$(apstat client rewritten)
r_opt=$(apstat inst1 opt_added) r_syn=$(apstat inst1 resp_syn) r_rw=$(apstat inst1 rewritten)
cs="$c_syn $c_opt $c_bound $c_rw" rs="$r_opt $r_syn $r_rw"
if [ "$c_syn" -ge 2 ] && [ "$c_opt" -ge 2 ] && [ "$c_bound" -ge 2 ] && [ "$c_rw" -gt 200 ] &&
	[ "$r_opt" -ge 2 ] && [ "$r_syn" -ge 2 ] && [ "$r_rw" -gt 200 ]; then
	pass proc-stats "client syn/opt_added/bound/rewritten $c_syn/$c_opt/$c_bound/$c_rw, responder opt_added/resp_syn/rewritten $r_opt/$r_syn/$r_rw"
else
	fail proc-stats "client '$cs', responder '$rs'"
fi

say "lab: counters kept across a rewrite of prefixes"
b4=$(apstat client bound any4) rw4=$(apstat client rewritten any4)
lab_sysctl client "net.anypin.prefixes=extra=10.0.0.0/8 any6=$PREFIX6 any4=$PREFIX4"
b4n=$(apstat client bound any4) rw4n=$(apstat client rewritten any4) xb=$(apstat client syn extra)
resp=$(lab_ns client cat /proc/sys/net/anypin/prefix/any4/responders)
if [ "$b4n" = "$b4" ] && [ "$rw4n" = "$rw4" ] && [ "$xb" = 0 ] && [ "$resp" = "$RESP4" ]; then
	pass counters-remap "any4 keeps bound=$b4 rewritten=$rw4 and its responders after the list is reordered; the new name starts at 0"
else
	fail counters-remap "any4 bound $b4 -> $b4n, rewritten $rw4 -> $rw4n, extra syn $xb, responders '$resp'"
fi
lab_sysctl client "net.anypin.prefixes=any4=$PREFIX4 any6=$PREFIX6"

say "lab: prefixes removed during a transfer"
for f in 4 6; do
	a=A$f
	lab_count_zero
	lab_fetch "rm$f" "$(lab_url "${!a}" "data.bin?rate=1000000")" --max-time 30 &
	fpid=$!
	lab_fetch_wait_bytes "rm$f" 300000 15
	for ns in client inst1 inst2; do
		lab_sysctl $ns net.anypin.prefixes=
	done
	lab_route_a inst2
	wait $fpid
	lab_fetch_result "rm$f"
	if [ "$FETCH_EXACT" = 1 ] && [ "$(lab_count u-to-inst2 $f)" = 0 ]; then
		pass "prefix-removed-v$f" "the pinned transfer goes on after every prefix is removed and A moves: byte-exact in $FETCH_SECS s"
	else
		fail "prefix-removed-v$f" "exact=$FETCH_EXACT ($FETCH_ERR)"
	fi
	lab_route_a inst1
	datapath_start
done

# Connection attempts to port 9 stay half-open (half_open).
lab_ns router iptables -w -I FORWARD -p tcp --dport 9 -j DROP
lab_ns router ip6tables -w -I FORWARD -p tcp --dport 9 -j DROP

say "lab: max_flows lowered"
lab_sysctl client net.anypin.max_flows=65536
half_open 20 "$A4" 15 &
hpid=$!
twenty() { [ "$(apstat client flows)" -ge 20 ]; }
lab_wait_until 10 twenty
n0=$(apstat client flows)
lab_sysctl client net.anypin.max_flows=5
five_left() { [ "$(apstat client flows)" -le 5 ]; }
if [ "$n0" -ge 20 ] && lab_wait_until 12 five_left; then
	pass max-flows-lowered "max_flows 65536 -> 5 with $n0 entries: down to $(apstat client flows) within seconds, without new connections"
else
	fail max-flows-lowered "$n0 entries, then $(apstat client flows) with max_flows=5"
fi
wait "$hpid"

say "lab: expiry"
lab_sysctl client net.anypin.max_flows=65536
half_open 5 "$A4" 6 &
hpid=$!
# Half-open: syn_sent, or fallback once the stack retransmitted the SYN.
opening() { lab_ns client grep -cE ' (syn_sent|fallback) ' /proc/net/anypin/flows; }
five() { [ "$(opening)" -ge 5 ]; }
lab_wait_until 10 five
n0=$(opening)
flows0=$(lab_ns client cat /proc/net/anypin/flows)
exp0=$(apstat client expired)
lab_sysctl client net.anypin.syn_timeout=1 net.anypin.fin_timeout=1
wait "$hpid"
empty() { [ "$(apstat client flows)" = 0 ]; }
lab_wait_until 15 empty
left=$(apstat client flows)
exp=$(($(apstat client expired) - exp0))
if [ "$n0" -ge 5 ] && [ "$left" = 0 ] && [ "$exp" -ge 5 ]; then
	pass expiry "syn_timeout=fin_timeout=1: $n0 half-open entries and the rest gone within seconds ($exp expired)"
else
	fail expiry "$n0 half-open entries; $left entries left, $exp expired"
	say "flows were: $flows0"
fi
lab_ns router iptables -w -D FORWARD -p tcp --dport 9 -j DROP
lab_ns router ip6tables -w -D FORWARD -p tcp --dport 9 -j DROP
lab_sysctl client net.anypin.syn_timeout=75 net.anypin.fin_timeout=60

say "lab: stateful firewalls"
# firewall NS -I|-D: conntrack-based INPUT policy (INVALID counted), as a
# host firewall would have; the instances accept new connections to the
# service ports only.
firewall() {
	local ipt
	for ipt in "$LAB_IPT" "$LAB_IP6T"; do
		lab_ns "$1" "$ipt" -w "$2" INPUT -m conntrack --ctstate INVALID \
			-m comment --comment kb-invalid -j DROP
		lab_ns "$1" "$ipt" -w "$2" INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
		if [ "$1" != client ]; then
			lab_ns "$1" "$ipt" -w "$2" INPUT -p tcp -m multiport \
				--dports "$LAB_PORT,$LAB_SINK_PORT" --syn -m conntrack --ctstate NEW -j ACCEPT
		fi
		lab_ns "$1" "$ipt" -w "$2" INPUT -i lo -j ACCEPT
		lab_ns "$1" "$ipt" -w "$2" OUTPUT -m conntrack --ctstate INVALID \
			-m comment --comment kb-invalid -j DROP
	done
	lab_ns "$1" "$LAB_IPT" -w -P INPUT "$3"
	lab_ns "$1" "$LAB_IP6T" -w -P INPUT "$3"
	# Neighbour discovery is not tracked: let it in.
	if [ "$2" = -A ]; then
		lab_ns "$1" "$LAB_IP6T" -w -I INPUT -p icmpv6 --icmpv6-type neighbour-solicitation -j ACCEPT
		lab_ns "$1" "$LAB_IP6T" -w -I INPUT -p icmpv6 --icmpv6-type neighbour-advertisement -j ACCEPT
	else
		lab_ns "$1" "$LAB_IP6T" -w -F INPUT
	fi
}
invalid_drops() { # NS: packets dropped as INVALID, both families
	local n=0 ipt c
	for ipt in "$LAB_IPT" "$LAB_IP6T"; do
		c=$(lab_ns "$1" "$ipt" -w -nvxL INPUT | awk '/kb-invalid/ { s += $1 } END { print s + 0 }')
		n=$((n + c))
	done
	echo "$n"
}
for ns in client inst1 inst2; do
	firewall $ns -A DROP
done
for f in 4 6; do
	a=A$f
	lab_count_zero
	lab_fetch "fw$f" "$(lab_url "${!a}" data.bin)" --max-time 20
	lab_fetch_result "fw$f"
	u=$(lab_count u-to-inst1 $f)
	if [ "$FETCH_EXACT" = 1 ] && [ "$u" -gt 20 ]; then
		pass "firewall-v$f" "pinned download through conntrack firewalls (INPUT policy DROP, INVALID dropped) on the client and the instances: byte-exact, $u packets to U1"
	else
		fail "firewall-v$f" "exact=$FETCH_EXACT ($FETCH_ERR), $u packets to U1"
	fi
done
inv="$(invalid_drops client)/$(invalid_drops inst1)"
if [ "$inv" = 0/0 ]; then
	pass firewall-invalid "conntrack found no packet INVALID on the client or inst1"
else
	fail firewall-invalid "INVALID drops on client/inst1: $inv"
fi

for ns in client inst1 inst2; do
	firewall $ns -D ACCEPT
done

say "lab: unload under traffic"
lab_fetch unload4 "$(lab_url "$A4" "data.bin?rate=1000000")" --max-time 8 &
p4=$!
lab_fetch unload6 "$(lab_url "$A6" "data.bin?rate=1000000")" --max-time 8 &
p6=$!
lab_fetch_wait_bytes unload4 100000 15
lab_fetch_wait_bytes unload6 100000 15
objs=$(slab_objects)
t0=${EPOCHREALTIME/./}
if rmmod anypin; then
	t1=${EPOCHREALTIME/./}
	pass rmmod-traffic "rmmod with $objs flow entries live and two transfers running, in $(((t1 - t0) / 1000)) ms"
else
	fail rmmod-traffic "rmmod failed"
fi
wait $p4 $p6
if ! loaded && [ ! -e $S ] && [ ! -e /sys/kernel/slab/anypin_flow ]; then
	pass rmmod-clean "nothing left: no module, no sysctl, no slab cache"
else
	fail rmmod-clean "left behind: $(loaded && echo module) $([ -e $S ] && echo sysctl) $([ -e /sys/kernel/slab/anypin_flow ] && echo slab)"
fi

say "lab: reload"
datapath_start || fail reload "datapath_start failed"
lab_count_zero
lab_fetch again "$(lab_url "$A4" data.bin)" --max-time 20
lab_fetch_result again
if [ "$FETCH_EXACT" = 1 ] && [ "$(lab_count u-to-inst1 4)" -gt 20 ]; then
	pass reload "pinned again after insmod: byte-exact, $(lab_count u-to-inst1 4) packets to U1"
else
	fail reload "exact=$FETCH_EXACT ($FETCH_ERR), $(lab_count u-to-inst1 4) packets to U1"
fi
live=$(slab_objects)
if [ "$live" -gt 0 ]; then
	pass slab-live "$live anypin_flow objects in use while flows are live"
else
	fail slab-live "no anypin_flow object in use with flows live"
fi

# ---------------------------------------------------------------------------
say "50 load/unload cycles under traffic"
# Traffic all along: paced downloads from U1, one after the other (through
# the hooks, outside every prefix: the module's coming and going must never
# touch them), and short connections to A, each pinned if the module is
# there.  A connection pinned before an unload may break (docs/kmod.md,
# Unloading), so the short ones are only counted.
short_loop() {
	local n=0 ok=0
	while [ ! -e "$LAB_STATE/cycles.stop" ]; do
		n=$((n + 1))
		[ "$(lab_whoami "$A4" 2>/dev/null)" = inst1 ] && ok=$((ok + 1))
	done
	echo "$n $ok" >"$LAB_STATE/cycles.short"
}
long_loop() {
	local n=0 ok=0 bad=
	while [ ! -e "$LAB_STATE/cycles.stop" ]; do
		n=$((n + 1))
		lab_fetch cycles-long "$(lab_url "$U1_6" "data.bin?rate=400000")" --max-time 60
		lab_fetch_result cycles-long
		if [ "$FETCH_EXACT" = 1 ]; then
			ok=$((ok + 1))
		else
			bad=$(lab_fetch_describe)
		fi
	done
	echo "$n $ok $bad" >"$LAB_STATE/cycles.long"
}
# An entry was created since the cache came with this load (no fork: the
# poll must not slow the cycles down).
has_flows() {
	local n=0
	read -r n _ </sys/kernel/slab/anypin_flow/objects 2>/dev/null
	[ "${n:-0}" -gt 0 ]
}
rm -f "$LAB_STATE/cycles.stop" "$LAB_STATE/cycles.short" "$LAB_STATE/cycles.long"
long_loop &
lpid=$!
short_loop &
spid=$!
ok=0 with_flows=0 why=
loaded && rmmod anypin
t_start=0 t_wait=0 t_rmmod=0
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
for i in $(seq 50); do
	t0=$(now_ms)
	insmod "$ANYPIN_KO" || { why="insmod failed"; break; }
	for ns in client inst1 inst2; do
		kmod__apply $ns $ns || { why="configuring $ns failed"; break 2; }
	done
	t1=$(now_ms)
	if [ $((i % 5)) = 0 ]; then
		# A namespace outside the lab, with prefixes of its own.
		ip netns add "kb-cycle$i" || { why="netns add"; break; }
		ip netns exec "kb-cycle$i" sh -c 'echo "r=10.0.0.0/8" > /proc/sys/net/anypin/prefixes' ||
			{ why="prefixes in a second namespace"; break; }
	fi
	lab_wait_until 10 has_flows && with_flows=$((with_flows + 1))
	t2=$(now_ms)
	rmmod anypin || { why="rmmod failed"; break; }
	t3=$(now_ms)
	t_start=$((t_start + t1 - t0)) t_wait=$((t_wait + t2 - t1)) t_rmmod=$((t_rmmod + t3 - t2))
	[ $((i % 5)) = 0 ] && ip netns del "kb-cycle$i"
	if [ -e /sys/kernel/slab/anypin_flow ] || [ -e $S ]; then
		why="left behind after rmmod: $(ls -d /sys/kernel/slab/anypin_flow $S 2>/dev/null)"
		break
	fi
	ok=$i
	[ $((i % 10)) = 0 ] && say "cycle $i"
done
say "cycles: insmod+configure $t_start ms, waiting for flows $t_wait ms, rmmod $t_rmmod ms in all"
touch "$LAB_STATE/cycles.stop"
wait "$spid" "$lpid"
read -r shorts shorts_ok <"$LAB_STATE/cycles.short" || shorts=0 shorts_ok=0
read -r longs longs_ok long_err <"$LAB_STATE/cycles.long" || longs=0 longs_ok=0
if [ "$ok" = 50 ] && [ "$with_flows" = 50 ]; then
	pass load-cycles "50 x insmod, configure, rmmod with flow entries created every time (every 5th also with a second namespace); no slab cache or sysctl left after each"
else
	fail load-cycles "stopped at cycle $((ok + 1)): ${why:-}; $with_flows cycles created flow entries"
fi
if [ "$shorts_ok" -ge 50 ]; then
	pass load-cycles-traffic "$shorts_ok of $shorts short connections to A during the cycles answered by inst1"
else
	fail load-cycles-traffic "$shorts_ok of $shorts short connections answered by inst1"
fi
if [ "$longs" -ge 1 ] && [ "$longs_ok" = "$longs" ]; then
	pass load-cycles-other "$longs paced 4 MB downloads from U1 (outside the prefixes) during the cycles, all byte-exact"
else
	fail load-cycles-other "$longs_ok of $longs downloads from U1 byte-exact; last failure: ${long_err:-}"
fi
lab_down
if ! loaded && [ ! -e /sys/kernel/slab/anypin_flow ]; then
	pass slab "no module and no anypin_flow cache left at the end"
else
	fail slab "left behind: $(loaded && echo module) $([ -e /sys/kernel/slab/anypin_flow ] && echo slab)"
fi
loaded && rmmod anypin

guest_dmesg_check
guest_done
