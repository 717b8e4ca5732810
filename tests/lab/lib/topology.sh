# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck shell=bash disable=SC2034
# (SC2034: loop counters that only count.)
#
# The lab's topology: the four namespaces, their links and addresses
# (the picture and the addresses are in tests/lab/lab.sh), lab_up and
# lab_down.
# Sourced by tests/lab/lab.sh, which defines what it uses (the names of
# the namespaces, the addresses, lab_ns, lab_log); never on its own.

# ---------------------------------------------------------------------------
# Lifecycle

lab__namespaces() {
	ip netns list 2>/dev/null | while read -r n _; do
		case $n in "$LAB"*) printf '%s\n' "$n" ;; esac
	done
}

# Remove every namespace with our prefix and every process inside them.
# Idempotent; also cleans up after a run that was killed.
lab_down() {
	local ns pids i
	if [ -n "$LAB_DATAPATH_ACTIVE" ]; then
		LAB_DATAPATH_ACTIVE=
		datapath_stop >/dev/null 2>&1 || true
	fi
	lab__bg_stop_all
	for ns in $(lab__namespaces); do
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		if [ -n "$pids" ]; then
			# shellcheck disable=SC2086  # a list of pids, split on purpose
			kill $pids 2>/dev/null || true
			for i in 1 2 3 4 5 6 7 8 9 10; do
				pids=$(ip netns pids "$ns" 2>/dev/null || true)
				[ -z "$pids" ] && break
				sleep 0.1
			done
			if [ -n "$pids" ]; then
				# shellcheck disable=SC2086  # a list of pids, split on purpose
				kill -9 $pids 2>/dev/null || true
			fi
		fi
		ip netns del "$ns" 2>/dev/null || true
	done
	return 0
}

lab__on_exit() {
	local rc=$?
	trap - EXIT
	lab_down
	exit "$rc"
}

lab__topology() {
	local ns
	for ns in "$NS_CLIENT" "$NS_ROUTER" "$NS_INST1" "$NS_INST2"; do
		ip netns add "$ns" || return 1
		ip -n "$ns" link set lo up || return 1
		# Defaults first, so the veths created below inherit them: no
		# DAD (IPv6 usable at once), no reverse-path filter.
		lab_sysctl "$ns" net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0 \
			net.ipv6.conf.default.dad_transmits=0 \
			net.ipv6.conf.all.accept_ra=0 \
			net.ipv6.conf.default.accept_ra=0 \
			net.ipv4.conf.all.rp_filter=0 \
			net.ipv4.conf.default.rp_filter=0 || return 1
	done
	lab_sysctl "$NS_ROUTER" net.ipv4.ip_forward=1 \
		net.ipv6.conf.all.forwarding=1 || return 1

	ip -batch - <<-EOF || return 1
	link add c0 netns $NS_ROUTER type veth peer name eth0 netns $NS_CLIENT
	link add i1 netns $NS_ROUTER type veth peer name eth0 netns $NS_INST1
	link add i2 netns $NS_ROUTER type veth peer name eth0 netns $NS_INST2
	EOF

	ip -n "$NS_ROUTER" -batch - <<-EOF || return 1
	link set c0 up
	link set i1 up
	link set i2 up
	addr add $R_C4/24 dev c0
	addr add $R_C6/64 dev c0 nodad
	addr add $R_I1_4/28 dev i1
	addr add $R_I1_6/64 dev i1 nodad
	addr add $R_I2_4/28 dev i2
	addr add $R_I2_6/64 dev i2 nodad
	route replace $PREFIX4 via $U1_4 dev i1
	route replace $PREFIX6 via $U1_6 dev i1
	EOF

	ip -n "$NS_CLIENT" -batch - <<-EOF || return 1
	link set eth0 up
	addr add $C4/24 dev eth0
	addr add $C6/64 dev eth0 nodad
	route add default via $R_C4 dev eth0
	route add default via $R_C6 dev eth0
	EOF

	lab__instance "$NS_INST1" "$U1_4" "$U1_6" "$R_I1_4" "$R_I1_6" || return 1
	lab__instance "$NS_INST2" "$U2_4" "$U2_6" "$R_I2_4" "$R_I2_6" || return 1
	lab__counters || return 1
}

lab__instance() {
	ip -n "$1" -batch - <<-EOF
	link set eth0 up
	addr add $2/28 dev eth0
	addr add $3/64 dev eth0 nodad
	route add default via $4 dev eth0
	route add default via $5 dev eth0
	addr add $A4/32 dev lo
	addr add $A6/128 dev lo nodad
	EOF
}

# lab_up: a fresh lab (removes any previous one).  Installs an EXIT trap that
# runs lab_down (set LAB_NO_TRAP=1 to manage cleanup yourself) and turns
# SIGTERM/SIGINT/SIGHUP into a normal exit so the trap runs.
lab_up() {
	lab_down
	rm -rf "$LAB_STATE"
	mkdir -p "$LAB_STATE/log" || return 1
	: >"$LAB_STATE/pids"
	if [ "${LAB_NO_TRAP:-0}" != 1 ]; then
		trap lab__on_exit EXIT
		trap 'exit 143' TERM
		trap 'exit 130' INT
		trap 'exit 129' HUP
	fi
	if ! lab__topology; then
		lab_log "lab_up failed"
		return 1
	fi
}
