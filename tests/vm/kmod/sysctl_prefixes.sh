#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck source-path=SCRIPTDIR disable=SC2012
# (SC2012: ls lists sysctl directories, whose names are plain words.)
#
# The per-prefix sysctl directories of anypin.ko follow net.anypin.prefixes:
#
#   dirs       writing the list creates a directory per name with its keys;
#              a rewrite removes what left the list, adds what came with
#              the defaults, and keeps the settings of the names that stay;
#              a name that comes back starts from the defaults; an empty
#              list removes them all
#   sysctl.d   a sysctl.d file, applied line by line by sysctl -p,
#              configures a prefix (the list first, then its keys)
#   netns      each network namespace has its own list, directories and
#              stats rows
#
#   tests/vm/run --kernel 6.12 -- tests/vm/kmod/run sysctl_prefixes
set -u
# shellcheck source=../guest.sh
. tests/vm/guest.sh
guest_init kmod
guest_need_module
kmod_fresh || { fail load "insmod failed"; exit 1; }

S=/proc/sys/net/anypin
get() { cat "$S/$1" 2>/dev/null; }
put() { printf '%s\n' "$2" 2>/dev/null >"$S/$1"; }
ls_prefixes() { ls "$S/prefix" 2>/dev/null | tr '\n' ' ' | sed 's/ $//'; }

say "per-prefix directories"
put prefixes "a=192.0.2.0/24 b=2001:db8::/32"
put prefix/a/role responder
put prefix/a/unicast 198.51.100.1
if [ "$(ls_prefixes)" = "a b" ] &&
	[ "$(ls "$S/prefix/a" | tr '\n' ' ')" = "enabled instance peers ports responders role unicast " ]; then
	pass sysctl-dirs-create "prefix/a and prefix/b with their 7 keys"
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

say "a sysctl.d file"
if command -v sysctl >/dev/null; then
	conf=$(mktemp)
	cat >"$conf" <<-EOC
	net.anypin.prefixes = dns=192.0.2.0/24
	net.anypin.prefix.dns.responders = 198.51.100.0/24
	EOC
	if sysctl -q -p "$conf" && [ "$(get prefix/dns/responders)" = 198.51.100.0/24 ]; then
		pass sysctl-d "a sysctl.d file applied by sysctl -p"
	else
		fail sysctl-d "sysctl -p $conf did not apply"
	fi
	rm -f "$conf"
	put prefixes ""
fi

say "namespaces"
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

guest_done
