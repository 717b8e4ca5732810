# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck shell=bash
#
# Datapath "anypind": the userspace helper, one anypind per namespace
# (client, inst1, inst2), each with `lab_anypin_conf` of its host and its
# own control socket in $LAB_STATE.  Each keeps its own nftables table,
# inet anypin, in its namespace: queue rules for the packets that decide,
# maps by which the kernel rewrites the rest of its pinned flows.  See
# tests/lab/datapath/none.sh for the interface, docs/anypind.md for the
# daemon.
#
# Also defines helpers the anypind scenarios use:
#   anypind_start NS [ARGS...]   start (or restart) the anypind of NS
#   anypind_wait NS [SECONDS] [PID]
#                                wait until it answers on its socket
#   anypind_query NS REQUEST     print its answer to flows|stats|status
#   anypind_pid NS               its PID (empty when not running)
#   anypind_kill9 NS             SIGKILL it (no cleanup of its own: the
#                                kernel deletes its table with its socket)
#   anypind_nft NS ARGS...       nft ARGS in NS, without nft's warnings
#   anypind_rules NS             the rules of the table inet anypin of NS
#   anypind_pins NS [4|6]        the elements of its maps of pinned flows

ANYPIND=${ANYPIND:-$(cd "$LAB_HOME/../.." && pwd)/build/anypind}
ANYPINCTL=${ANYPINCTL:-$(cd "$LAB_HOME/../.." && pwd)/build/anypinctl}

datapath_available() {
	if [ ! -x "$ANYPIND" ]; then
		echo "$ANYPIND not built (make userspace)"
		return 1
	fi
	if ! "$ANYPIND" --version >/dev/null 2>&1; then
		echo "$ANYPIND does not run here"
		return 1
	fi
}

anypind_sock() {
	printf '%s/anypind-%s.sock' "$LAB_STATE" "$1"
}

anypind_conf() {
	printf '%s/anypind-%s.conf' "$LAB_STATE" "$1"
}

# anypind_query NS REQUEST: the daemon's answer (exit status 1 if none).
anypind_query() {
	"$LAB_PYTHON" - "$(anypind_sock "$1")" "$2" <<-'EOF'
	import socket, sys
	s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	s.settimeout(2)
	try:
	    s.connect(sys.argv[1])
	    s.sendall(sys.argv[2].encode() + b"\n")
	    out = b""
	    while True:
	        b = s.recv(65536)
	        if not b:
	            break
	        out += b
	except OSError as e:
	    sys.stderr.write("anypind_query: %s\n" % e)
	    sys.exit(1)
	sys.stdout.write(out.decode())
	sys.exit(0 if out else 1)
	EOF
}

anypind_pid() {
	anypind_query "$1" status 2>/dev/null | awk '$1 == "pid" { print $2 }'
}

# anypind_wait NS [SECONDS] [PID]: until it answers (it answers once its
# table is in); with PID (the daemon's), also stops waiting when PID is
# gone (a configuration it refused, say). Fails unless it answers.
anypind_wait() {
	lab_wait_until "${2:-5}" anypind__up_or_gone "$1" "${3:-}" &&
		anypind_query "$1" status >/dev/null 2>&1
}

anypind__up_or_gone() {
	anypind_query "$1" status >/dev/null 2>&1 ||
		{ [ -n "$2" ] && ! lab__alive "$2"; }
}

# anypind_start NS [ARGS...]: start the anypind of NS with the lab's
# configuration of that host (unless ARGS has its own -c).
anypind_start() {
	local ns=$1
	shift
	[ -f "$(anypind_conf "$ns")" ] ||
		lab_anypin_conf "$ns" >"$(anypind_conf "$ns")" || return 1
	lab_bg "$ns" "anypind-$ns" "$ANYPIND" -c "$(anypind_conf "$ns")" \
		-s "$(anypind_sock "$ns")" "$@"
	if ! anypind_wait "$ns" 10 "$LAB_BG_PID"; then
		lab_log "anypind in $ns did not come up; its log:"
		sed 's/^/  | /' "$LAB_STATE/log/anypind-$ns.log" >&2
		return 1
	fi
}

datapath_start() {
	local ns
	for ns in client inst1 inst2; do
		lab_anypin_conf "$ns" >"$(anypind_conf "$ns")" || return 1
		anypind_start "$ns" || return 1
	done
}

datapath_stop() {
	local ns
	for ns in client inst1 inst2; do
		lab_bg_stop "anypind-$ns"
	done
}

# The counters table, as /proc/net/anypin/stats shows the module's.
datapath_stats() {
	anypind_query "$1" stats
}

# anypinctl against the anypind of a host (built with anypind by make
# userspace); the blackholed addresses, and forgetting them, through it.
datapath_anypinctl() {
	local h=$1
	shift
	"$ANYPINCTL" --anypind -s "$(anypind_sock "$h")" "$@"
}

datapath_blackholes() {
	datapath_anypinctl "$1" blackholes
}

datapath_blackholes_flush() {
	datapath_anypinctl "$1" blackholes flush
}

# anypind_kill9 NS: kill -9 the anypind of NS and wait until it is gone.
anypind_kill9() {
	local pid name
	while read -r pid name; do
		[ "$name" = "anypind-$1" ] || continue
		kill -9 "$pid" 2>/dev/null || true
		# (reaped here, so bash does not report it "Killed")
		{ wait "$pid"; } 2>/dev/null || true
		lab_wait_until 5 eval "! lab__alive $pid" || return 1
	done <"$LAB_STATE/pids"
	lab_bg_stop "anypind-$1"
}

# Under traffic: every anypind killed with SIGKILL (its table, owned by its
# netlink socket, goes with it, and so do the pins of its flows), then
# started again with a new table.
datapath_restart() {
	local ns
	for ns in client inst1 inst2; do
		anypind_kill9 "$ns" || return 1
	done
	for ns in client inst1 inst2; do
		lab_anypin_conf "$ns" >"$(anypind_conf "$ns")" || return 1
		anypind_start "$ns" || return 1
	done
}

# anypind_nft NS ARGS...: nft ARGS in NS.  Its stderr is dropped: on a
# kernel without nft's queue statement anypind queues with xt's NFQUEUE,
# and listing such a rule makes libxtables warn there.
anypind_nft() {
	local ns=$1
	shift
	lab_ns "$ns" nft "$@" 2>/dev/null
}

# anypind_rules NS: how many rules the table inet anypin of NS has, in all
# its chains (0 when there is no such table); compare with the `add rule`
# lines of `anypind --print-rules`.
anypind_rules() {
	anypind_nft "$1" list table inet anypin | awk '
		/^[ \t]*chain / { c = 1; next }
		c && /^[ \t]*}/ { c = 0; next }
		c && NF && !/^[ \t]*type / { n++ }
		END { print n + 0 }' || true
}

# anypind_pins NS [4|6]: the elements of the maps of pinned flows in the
# table inet anypin of NS (two per pinned flow: the way out and the way
# in), of both families or one; 0 when there is no such table.  Each
# element has its counter, which `nft list` shows as "counter packets N"
# (the maps' own line says "counter" alone).
anypind_pins() {
	anypind_nft "$1" list table inet anypin | awk -v f="${2:-}" '
		/^[ \t]*(set|map|chain) / { m = $1 == "map" && $2 ~ f "$" }
		m { n += gsub(/counter packets/, "") }
		END { print n + 0 }' || true
}
