# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck shell=bash disable=SC2034
# (SC2034: series, npass and nfail are also the sourcing script's.)
#
# What the scripts that run inside the VM guest share (tests/vm/run --
# SCRIPT; the host's side is tests/vm/lib.sh). Sourced first, from the
# repository (tests/vm/run's working directory): outside the guest it
# stops the script (exit 2). Then:
#
#   guest_init TAG          checks are reported as "PASS TAG-6.12 NAME: detail"
#   pass NAME DETAIL        a check passed (one line on stdout)
#   fail NAME DETAIL        a check failed
#   check NAME DETAIL CMD...              pass or fail on CMD's exit status
#   verdict NAME PASS-DETAIL FAIL-DETAIL  pass or fail on the exit status
#                                         of the command just before
#   say WORDS               progress on stderr, with the script's time
#   guest_done              "SCRIPT (RELEASE): N passed, N failed", and exit:
#                           0 if none failed, 1 otherwise
#
# and for the scripts that test anypin.ko: guest_need_module, loaded,
# kmod_fresh, slab_objects, half_open, guest_dmesg_check, and
# kmod_lab, kmod_lab_down and kmod_fetch for those in the lab,
# kmod_lab_share for their runner, and kmod_lab_run for those that run
# lab scenarios through tests/lab/run (below).
# GUEST_NAME (default: the script's name) names the script in say and
# guest_done; guest_done touches $GUEST_DONE_MARK when it is set, so a
# runner (tests/vm/kmod/run) tells a script that ended from one that died.

GUEST_NAME=${GUEST_NAME:-$(basename "$0" .sh)}
[ "${ANYPIN_VM:-}" = 1 ] || {
	echo "$GUEST_NAME: run me in the VM: tests/vm/run -- $0" >&2
	exit 2
}
# bash's <(...) needs /dev/fd, which the guest's devtmpfs lacks (init
# adds it; a script run some other way gets it here).
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd

series=$(uname -r | sed -E 's/^([0-9]+\.[0-9]+).*/\1/')
npass=0
nfail=0
GUEST_TAG=$GUEST_NAME
GUEST_DMESG_MARK=0

# guest_init TAG: the checks' prefix (kmod, kmod-stress, anypinctl...),
# and the kernel log's length, from which guest_dmesg_check reads.
guest_init() {
	GUEST_TAG=$1
	GUEST_DMESG_MARK=$(dmesg | wc -l)
}

pass() { npass=$((npass + 1)); echo "PASS $GUEST_TAG-$series $1: $2"; }
fail() { nfail=$((nfail + 1)); echo "FAIL $GUEST_TAG-$series $1: $2"; }
say() { echo "$GUEST_NAME: [${SECONDS}s] $*" >&2; }

check() {
	local name=$1 detail=$2
	shift 2
	if "$@"; then pass "$name" "$detail"; else fail "$name" "$detail"; fi
}

verdict() {
	# shellcheck disable=SC2181  # the status of the caller's command
	if [ $? = 0 ]; then pass "$1" "$2"; else fail "$1" "$3"; fi
}

guest_done() {
	echo "$GUEST_NAME ($(uname -r)): $npass passed, $nfail failed"
	[ -z "${GUEST_DONE_MARK:-}" ] || : >"$GUEST_DONE_MARK"
	[ "$nfail" = 0 ] && exit 0
	exit 1
}

# ---------------------------------------------------------------------------
# anypin.ko

# guest_need_module: stops the script (exit 2) when tests/vm/run built no
# module (--no-module).
guest_need_module() {
	if [ -z "${ANYPIN_KO:-}" ] || [ ! -e "$ANYPIN_KO" ]; then
		echo "$GUEST_NAME: no module (ANYPIN_KO)" >&2
		exit 2
	fi
}

# loaded: anypin.ko is loaded (without a fork: under TCG an exec costs
# about 40 ms).
loaded() {
	local m _
	while read -r m _; do [ "$m" = anypin ] && return 0; done </proc/modules
	return 1
}

# kmod_fresh: $ANYPIN_KO loaded anew (unloaded first if it is there), so
# that a script starts from the defaults whatever ran before it in the
# same boot.
kmod_fresh() {
	if loaded; then
		rmmod anypin || return 1
	fi
	insmod "$ANYPIN_KO" && loaded
}

# slab_objects: the objects in use in the anypin_flow cache, per-cpu
# slabs flushed (0 when there is no such cache).
slab_objects() {
	local d=/sys/kernel/slab/anypin_flow
	[ -d $d ] || { echo 0; return; }
	echo 1 >$d/shrink 2>/dev/null
	cut -d' ' -f1 <$d/objects
}

# half_open N ADDR SECONDS: N connection attempts from the lab's client to
# ADDR port 9 (which the scripts have the router drop), held SECONDS or
# until $LAB_STATE/ho-stop appears, from one process.
half_open() {
	# shellcheck disable=SC2016  # bash -c's and python's scripts read their arguments
	lab_ns client bash -c 'ulimit -n 65536; exec "$0" -c "$1" "${@:2}"' "$LAB_PYTHON" '
import os, socket, sys, time
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET6 if ":" in sys.argv[2] else socket.AF_INET)
    s.setblocking(False)
    s.connect_ex((sys.argv[2], 9))
    socks.append(s)
end = time.time() + float(sys.argv[3])
while time.time() < end and not os.path.exists(sys.argv[4]):
    time.sleep(0.1)' "$@" "$LAB_STATE/ho-stop"
}

# guest_dmesg_check: the check "dmesg": no warning, bug or leak in the
# kernel log since guest_init.
guest_dmesg_check() {
	local bad
	bad=$(dmesg | tail -n +"$((GUEST_DMESG_MARK + 1))" |
		grep -E 'WARNING|BUG|Oops|Call Trace|leak|still has objects|refcount|general protection' |
		head -n 5)
	if [ -z "$bad" ]; then
		pass dmesg "no warning, bug or leak in the kernel log"
	else
		fail dmesg "$(tr '\n' '|' <<<"$bad")"
	fi
}

# kmod_lab_run SCENARIO...: tests/lab/run on SCENARIO (names or paths)
# with anypin.ko as the lab's only datapath (LAB_DATAPATHS=kmod: a module
# the lab cannot use is a FAIL, not a skip), loaded first and unloaded
# after; returns the runner's status (1 also when rmmod fails). The
# script stops (exit 2) when there is no module or it does not load. The
# emulated CPU: lab.sh sets LAB_SLOW=4 in the guest (paces divided, time
# bounds stretched); python starts from 9p, slowly (LAB_SERVE_WAIT).
kmod_lab_run() {
	local rc=0
	guest_need_module
	insmod "$ANYPIN_KO" || exit 2
	LAB_DATAPATHS=kmod LAB_SERVE_WAIT=${LAB_SERVE_WAIT:-60} tests/lab/run "$@" || rc=$?
	if loaded; then
		rmmod anypin || rc=1
	fi
	return "$rc"
}

# kmod__lab_lib: tests/lab/lab.sh, in the namespaces $LAB (default kb-),
# and its datapath tests/lab/datapath/kmod.sh (with apstat).
kmod__lab_lib() {
	export LAB=${LAB:-kb-}
	# shellcheck source=../lab/lab.sh
	. tests/lab/lab.sh
	# shellcheck source=../lab/datapath/kmod.sh
	. tests/lab/datapath/kmod.sh
}

# kmod_lab MB [plain]: the lab of tests/lab/lab.sh (namespaces $LAB,
# default kb-) with anypin.ko as its datapath (tests/lab/datapath/kmod.sh),
# the module loaded afresh, MB of data served by both instances, and the
# lab's anypin configuration (datapath_start: the client role on the
# client, responders on the instances), unless "plain": then nothing is
# configured until the script calls datapath_start. lab_down on exit.
# When the lab cannot be had, the check "load" or "lab" fails and the
# script stops; a configuration that fails is the check "lab-config".
# Under tests/vm/kmod/run the lab is the runner's (kmod_lab_share,
# KMOD_SHARED_LAB=1): when it serves MB, the script takes it over
# (lab_served) instead of building one, and it stays when the script
# ends, for the next topic; the script must then leave it as it found
# it (routes, firewall rules, processes; the module's sysctls go with
# the next kmod_fresh). KMOD_LAB_TAKEN is 1 in a script that took it
# over: kmod_lab_down takes the lab down only in one that did not.
kmod_lab() {
	guest_need_module
	kmod__lab_lib
	kmod_fresh || { fail load "insmod failed"; exit 1; }
	KMOD_LAB_TAKEN=
	if [ "${KMOD_SHARED_LAB:-}" = 1 ] && lab_served "$1"; then
		KMOD_LAB_TAKEN=1
	else
		lab_up || { fail lab "lab_up failed"; exit 1; }
		# The first python start reads its files over 9p, slowly.
		lab_serve "$1" || lab_wait_listen inst1 "$LAB_PORT" 30 || { fail lab "no HTTP server"; exit 1; }
		lab_wait_listen inst2 "$LAB_PORT" 30
	fi
	[ "${2:-}" = plain ] || datapath_start || fail lab-config "datapath_start failed"
}

# kmod_lab_down: lab_down, unless the lab is the runner's (KMOD_LAB_TAKEN).
kmod_lab_down() {
	[ "${KMOD_LAB_TAKEN:-}" = 1 ] || lab_down
}

# kmod_lab_share MB: for tests/vm/kmod/run: kmod_lab's lab serving MB,
# set up once for the topics it runs, which take it over (KMOD_SHARED_LAB=1
# is exported to them). It loads no module: each topic loads it afresh.
# No EXIT trap: the runner calls lab_down after the last topic. When the
# lab cannot be had, none is left and KMOD_SHARED_LAB is unset: each
# topic then builds its own.
kmod_lab_share() {
	kmod__lab_lib
	if LAB_NO_TRAP=1 lab_up &&
		{ lab_serve "$1" || lab_wait_listen inst1 "$LAB_PORT" 30; } &&
		lab_wait_listen inst2 "$LAB_PORT" 30; then
		export KMOD_SHARED_LAB=1
		return 0
	fi
	say "no lab for the topics to share: each builds its own"
	unset KMOD_SHARED_LAB
	lab_down
	return 1
}

# kmod_fetch NAME F: data.bin from A over IPv F (4 or 6), from the lab's
# client, the router's counters zeroed first: sets FETCH_EXACT and the
# rest of lab_fetch_result, TO_U1 and TO_A (packets the router sent to U1,
# and to A at inst1).
kmod_fetch() {
	local a=A$2
	lab_count_zero
	lab_fetch "$1" "$(lab_url "${!a}" data.bin)" --max-time 20
	lab_fetch_result "$1"
	TO_U1=$(lab_count u-to-inst1 "$2")
	TO_A=$(lab_count a-to-inst1 "$2")
}
