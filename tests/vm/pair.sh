# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck shell=bash disable=SC2034
# (SC2034: the sourcing script uses PORT and W.)
# Shared by the guest scripts that build a client namespace $C and a server
# namespace $S of their own (kmod_csum.sh, kmod_bigtcp.sh): a working
# directory, an HTTP server in $S, a checked download, and the cleanup.
# Source tests/vm/guest.sh and call guest_init first, set C and S; cwd:
# the repository.

PORT=8080
W=$(mktemp -d "/run/$GUEST_TAG.XXXXXX")

pair_cleanup() {
	[ -n "${pair_http:-}" ] && kill "$pair_http" 2>/dev/null
	ip netns del "$C" 2>/dev/null
	ip netns del "$S" 2>/dev/null
	loaded && rmmod anypin
}
trap pair_cleanup EXIT

# pair_serve MB: MB of random data as data.bin, served by tests/lab/httpd.py
# in $S on $PORT (both families).
pair_serve() {
	mkdir -p "$W/www" &&
		head -c $(($1 * 1024 * 1024)) /dev/urandom > "$W/www/data.bin" || return 1
	ip netns exec "$S" python3 tests/lab/httpd.py --port $PORT --name srv "$W/www" \
		>"$W/http.log" 2>&1 &
	pair_http=$!
	for _ in $(seq 100); do
		ip netns exec "$S" ss -Hltn "sport = :$PORT" | grep -q . && return 0
		sleep 0.2
	done
	return 1
}

# pair_fetch NAME URL: downloads URL from $C into $W/NAME, which must be
# data.bin byte for byte; prints why not. The time limit is wide: next to
# a lab run, these scripts get the CPU it leaves (nice 19).
pair_fetch() {
	local err
	err=$(ip netns exec "$C" curl -gsS --max-time 300 -o "$W/$1" "$2" 2>&1) ||
		{ echo "curl: $err"; return 1; }
	cmp -s "$W/$1" "$W/www/data.bin" || { echo "not byte-exact"; return 1; }
}
