#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR
#
# The sysctl values of anypin.ko (DESIGN.md, "Configuration"), in the
# guest's own namespace:
#
#   load      insmod; every global key reads its default; the proc files
#             have their headers
#   valid     each value written is taken and reads back in its canonical
#             form (blanks and leading zeros dropped, exid in hex, prefixes
#             normalised, lists sorted); flush_blackholes is an action and
#             reads 0
#   invalid   each bad value is refused (-EINVAL) and the old value stays
#
#   tests/vm/run --kernel 6.12 -- tests/vm/kmod/run sysctl_values
set -u
# shellcheck source=../guest.sh
. tests/vm/guest.sh
guest_init kmod
guest_need_module

S=/proc/sys/net/anypin
get() { cat "$S/$1" 2>/dev/null; }
put() { printf '%s\n' "$2" 2>/dev/null >"$S/$1"; }

say "load"
if kmod_fresh; then
	pass load "insmod $(basename "$ANYPIN_KO") ($(modinfo -F vermagic "$ANYPIN_KO" | cut -d' ' -f1))"
else
	fail load "insmod failed"
	exit 1
fi

defaults="prefixes= max_flows=65536 syn_timeout=75 idle_timeout=432000 fin_timeout=60 exid=0xA7C1"
defaults="$defaults fallback_retries=1 blackhole_timeout=60 forward_rate=100000 flush_blackholes=0"
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

say "valid values"
# valid KEY WRITTEN READ-BACK
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
valid forward_rate 1 1
valid forward_rate 010000000 10000000
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
# The module applies the second chance: an instance id and its peers.
valid prefix/web6/instance " 07 " 7
valid prefix/web6/peers " 3=198.51.100.3  2=2001:db8:2::2,198.51.100.2 " \
	"2=198.51.100.2,2001:db8:2::2 3=198.51.100.3"

say "refused values"
# invalid KEY VALUE: refused, and the old value stays
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
invalid forward_rate 0
invalid forward_rate 10000001
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
invalid prefix/web6/instance 64
# A peer with the instance's own id, whichever key comes last; a peer
# inside the prefix itself. (A peer at our own unicast address, or in
# another anycast prefix, depends on keys written in any order: anypind's
# file check and the core's unit tests refuse those.)
invalid prefix/web6/instance 3
invalid prefix/web6/peers "7=198.51.100.9"
invalid prefix/web6/peers "0=198.51.100.2"
invalid prefix/web6/peers "2=2001:db8:a::2"
long=$(printf 'a%.0s' $(seq 5000))
invalid prefixes "$long"

guest_done
