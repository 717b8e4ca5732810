# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck shell=bash
#
# Datapath "anypind": the userspace helper over NFQUEUE, one anypind per
# namespace (client, inst1, inst2), each with `lab_anypin_conf` of its host,
# its own control socket in $LAB_STATE, and the lab's iptables commands.
# See tests/lab/datapath/none.sh for the interface, docs/anypind.md for
# the daemon.
#
# Also defines helpers the anypind scenarios use:
#   anypind_start NS [ARGS...]   start (or restart) the anypind of NS
#   anypind_wait NS [SECONDS]    wait until it answers on its socket
#   anypind_query NS REQUEST     print its answer to flows|stats|status
#   anypind_pid NS               its PID (empty when not running)
#   anypind_kill9 NS             SIGKILL it (no cleanup: its rules stay)

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

# anypind_wait NS [SECONDS]: until it answers (it answers once its rules
# are in), or it died.
anypind_wait() {
	lab_wait_until "${2:-5}" anypind_query "$1" status
}

# anypind_start NS [ARGS...]: start the anypind of NS with the lab's
# configuration of that host (unless ARGS has its own -c).
anypind_start() {
	local ns=$1
	shift
	[ -f "$(anypind_conf "$ns")" ] ||
		lab_anypin_conf "$ns" >"$(anypind_conf "$ns")" || return 1
	lab_bg "$ns" "anypind-$ns" "$ANYPIND" -c "$(anypind_conf "$ns")" \
		-s "$(anypind_sock "$ns")" --iptables "$LAB_IPT" \
		--ip6tables "$LAB_IP6T" "$@"
	if ! anypind_wait "$ns" 10; then
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

# Under traffic: every anypind killed with SIGKILL (its rules, chains and
# sets stay behind), then started again on them.
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
