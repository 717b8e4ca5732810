# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck shell=bash disable=SC2016,SC2034
# (SC2016: bash -c scripts get their values as arguments; SC2034: loop
# counters that only count.)
#
# The lab's processes: what runs in the background inside a namespace
# (servers, flapping, anypind), and waiting for something with a bound.
# Sourced by tests/lab/lab.sh, which defines what it uses (the names of
# the namespaces, the addresses, lab_ns, lab_log); never on its own.

# ---------------------------------------------------------------------------
# Background processes.  All of them run inside a lab namespace, so lab_down
# finds them with `ip netns pids` even if the PID file is lost.

# lab_bg NS NAME CMD...: start CMD in namespace NS, output to
# $LAB_STATE/log/NAME.log; sets LAB_BG_PID.
lab_bg() {
	local ns=$1 name=$2
	shift 2
	ip netns exec "$(lab_nsname "$ns")" "$@" \
		</dev/null >>"$LAB_STATE/log/$name.log" 2>&1 &
	LAB_BG_PID=$!
	printf '%s %s\n' "$LAB_BG_PID" "$name" >>"$LAB_STATE/pids"
}

# lab_bg_stop NAME: stop the background processes started under NAME.
lab_bg_stop() {
	local pid name keep=
	[ -f "$LAB_STATE/pids" ] || return 0
	while read -r pid name; do
		if [ "$name" = "$1" ]; then
			lab__kill_wait "$pid"
		else
			keep="$keep$pid $name"$'\n'
		fi
	done <"$LAB_STATE/pids"
	printf '%s' "$keep" >"$LAB_STATE/pids"
}

lab__bg_stop_all() {
	local pid name
	[ -f "$LAB_STATE/pids" ] || return 0
	while read -r pid name; do
		lab__kill_wait "$pid"
	done <"$LAB_STATE/pids"
	: >"$LAB_STATE/pids"
}

# Alive and not a zombie.
lab__alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# Our child (forked by lab_bg, maybe not yet inside its namespace).
lab__our_child() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	read -r _ stat _ <<<"$stat"
	[ "$stat" = "$BASHPID" ]
}

# Stop one of the background processes we started (SIGTERM, then SIGKILL
# after 1 s) and reap it if it is our child.  A PID that is neither in one
# of our namespaces nor our child is left alone (it may have been reused).
lab__kill_wait() {
	local i ns
	ns=$(ip netns identify "$1" 2>/dev/null) || ns=
	case $ns in
	"$LAB"?*) ;;
	*)
		if ! lab__our_child "$1"; then
			wait "$1" 2>/dev/null || true
			return 0
		fi
		;;
	esac
	kill "$1" 2>/dev/null || return 0
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		lab__alive "$1" || break
		sleep 0.05
	done
	if lab__alive "$1"; then
		kill -9 "$1" 2>/dev/null || true
	fi
	wait "$1" 2>/dev/null || true
}

# ---------------------------------------------------------------------------
# Waiting, with bounded timeouts.

# lab_wait_until SECONDS CMD...: retry CMD every 50 ms until it succeeds.
lab_wait_until() {
	local deadline=$((${EPOCHREALTIME/./} + $1 * 1000000))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ "${EPOCHREALTIME/./}" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

lab__listening() {
	[ -n "$(lab_ns "$1" ss -Hltn "sport = :$2")" ]
}

# lab_wait_listen NS PORT [SECONDS]: wait until something listens on TCP
# PORT in NS (checked with ss, without connecting).
lab_wait_listen() {
	lab_wait_until "${3:-5}" lab__listening "$1" "$2" || {
		lab_log "nothing listens on port $2 in $1 after ${3:-5} s"
		return 1
	}
}

lab__connects() {
	lab_ns "$1" timeout 1 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$2" "$3"
}

# lab_wait_tcp NS ADDR PORT [SECONDS]: wait until a TCP connection from NS
# to ADDR:PORT succeeds.
lab_wait_tcp() {
	lab_wait_until "${4:-5}" lab__connects "$1" "$2" "$3" || {
		lab_log "no TCP connection from $1 to $2 port $3 after ${4:-5} s"
		return 1
	}
}
